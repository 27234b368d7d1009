"""Tests of miqspec.simulator, one file per module."""
