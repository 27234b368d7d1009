"""Tests of miqspec.collect, one file per module."""
