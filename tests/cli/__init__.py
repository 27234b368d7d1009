"""Tests of miqspec.cli, one file per module."""
