"""Tests of miqspec.spec, one file per module."""
