"""miqspec: ManageIQ-style providers as one YAML spec, interpreted by a generic engine."""

__version__ = "0.1.0"
