"""Persist: save a parsed inventory with ManageIQ's refresh semantics, in the caller's transaction.

Offers: ``persist`` (-> ``PersistReport``), ``load_maps`` (the record maps a carried refresh
reads back), ``cascade`` and ``Db`` (deleting rows with what hangs on them, for the store).
How it saves and what it skips: ``docs/persistence.md``. Owns sqlalchemy with ``store``.
"""

from .carry import load_maps
from .cascade import cascade
from .db import Db
from .persister import PersistReport, persist

__all__ = ["Db", "PersistReport", "cascade", "load_maps", "persist"]
