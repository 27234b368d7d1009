"""Tests of miqspec.api, one file per module."""
