"""Semantic checks of a loaded spec (on top of the cerberus schema), one module per section.

Offers: ``check_document`` (a ``LoadedDocument`` and the ``Catalogue`` -> every ``Finding``).
"""

from .checker import check_document

__all__ = ["check_document"]
