"""The spec schema and the inventory catalogue, read as the package resource ``miqspec.schemas``."""
