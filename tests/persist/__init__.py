"""Tests of miqspec.persist, one file per module."""
