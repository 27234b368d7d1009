"""Tests of miqspec.connect, one file per module."""
