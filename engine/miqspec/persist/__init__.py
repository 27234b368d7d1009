"""Persist: save a parsed inventory with ManageIQ's refresh semantics, in the caller's transaction.

Offers: ``persist`` (-> ``PersistReport``; ``fast=False`` takes the plain path the fast paths
are held to), ``load_maps`` (the record maps a carried refresh reads back, before parse),
``mass_removals`` (the collections a save would empty or cut by more than a share),
``cascade`` and ``Db`` (deleting rows with what hangs on them, for the store), ManageIQ's tag
tables (``TAGS``, ``CLASSIFICATIONS``, ``TAGGINGS``, ``PROVIDER_TAG_MAPPINGS``,
``TAG_METADATA``) with ``sanitize_name``, ``category_tag_name`` and ``entry_tag_name`` (the
store keeps the tag mappings in them; a refresh applies them: ``persist.tags``) and
``delete_taggings`` (a deleted provider's rows' taggings).
How it saves, what it skips and where to read on: ``docs/persistence.md``. Owns sqlalchemy
with ``store``.
"""

from .cascade import cascade
from .db import Db
from .guard import DEFAULT_SHARE, guard_removals, mass_removals, mass_share
from .maps import load_maps
from .persister import PersistReport, persist
from .rows import StoreTypeError
from .tag_tables import (
    CLASSIFICATIONS,
    PROVIDER_TAG_MAPPINGS,
    TAG_METADATA,
    TAGGINGS,
    TAGS,
    category_tag_name,
    entry_tag_name,
    sanitize_name,
)
from .tags import delete_taggings
from .targeted_state import settle_touched

__all__ = [
    "CLASSIFICATIONS",
    "DEFAULT_SHARE",
    "PROVIDER_TAG_MAPPINGS",
    "TAGGINGS",
    "TAGS",
    "TAG_METADATA",
    "Db",
    "PersistReport",
    "StoreTypeError",
    "cascade",
    "category_tag_name",
    "delete_taggings",
    "entry_tag_name",
    "guard_removals",
    "load_maps",
    "mass_removals",
    "mass_share",
    "persist",
    "sanitize_name",
    "settle_touched",
]
