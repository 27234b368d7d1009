"""Tests of miqspec.store, one file per module."""
