"""Tests of miqspec.workers, one file per module."""
