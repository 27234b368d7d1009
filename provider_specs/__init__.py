"""Shipped provider specs, read as the package resource ``miqspec.provider_specs``."""
