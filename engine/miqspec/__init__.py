"""miqspec: ManageIQ-style providers as one YAML spec, interpreted by a generic engine."""

from .version import __version__

__all__ = ["__version__"]
