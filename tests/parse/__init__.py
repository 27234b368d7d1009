"""Tests of miqspec.parse, one file per module."""
