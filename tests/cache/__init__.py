"""Tests of miqspec.cache, one file per module."""
