"""Persist: save a parsed inventory with ManageIQ's refresh semantics, in the caller's transaction.

Offers: ``persist`` (-> ``PersistReport``; ``fast=False`` takes the plain path the fast paths
are held to), ``load_maps`` (the record maps a carried refresh reads back, before parse),
``mass_removals`` (the collections a save would empty or cut by more than a share),
``cascade`` and ``Db`` (deleting rows with what hangs on them, for the store).
How it saves, what it skips and where to read on: ``docs/persistence.md``. Owns sqlalchemy
with ``store``.
"""

from .cascade import cascade
from .db import Db
from .guard import DEFAULT_SHARE, guard_removals, mass_removals, mass_share
from .maps import load_maps
from .persister import PersistReport, persist
from .rows import StoreTypeError

__all__ = [
    "DEFAULT_SHARE",
    "Db",
    "PersistReport",
    "StoreTypeError",
    "cascade",
    "guard_removals",
    "load_maps",
    "mass_removals",
    "mass_share",
    "persist",
]
