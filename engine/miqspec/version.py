"""The version of miqspec."""

__version__ = "0.1.0"
