"""Tests of miqspec.metrics, one file per module."""
