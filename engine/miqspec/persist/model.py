"""The values persist passes around and reports: per-collection counts, changes, items.

Takes/gives plain data: ``PersistReport`` (``CollectionReport`` per collection, a sample of
``Change``s, phase timings, rows and digest rows written), ``Item`` (one object being saved:
keys, wanted row, row id, stored row, signature) and ``Saved`` (what the later passes need from
one saved collection, the objects kept unchanged by their digest included). No I/O, raises
nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from miqspec.parse import InventoryObject
from miqspec.persist.digest import Kept

if TYPE_CHECKING:
    from miqspec.persist.rows import RowPlan


@dataclass
class CollectionReport:
    created: int = 0
    updated: int = 0
    deleted: int = 0
    disconnected: int = 0
    reconnected: int = 0
    unchanged: int = 0
    skipped: int = 0
    unresolved: int = 0
    links_added: int = 0
    links_removed: int = 0
    carried: int = 0  # of ``unchanged``: rows of records not parsed again (``persist_carry``)


@dataclass(frozen=True)
class Change:
    collection: str
    ref: str
    attribute: str
    old: Any
    new: Any


@dataclass
class PersistReport:
    collections: dict[str, CollectionReport] = field(default_factory=dict)
    rows_written: int = 0
    changes: list[Change] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)
    deferred: dict[str, list[str]] = field(default_factory=dict)
    dry_run: bool = False
    #: collections whose stored row digests were rewritten (bookkeeping, not inventory rows)
    digests_written: int = 0

    def of(self, name: str) -> CollectionReport:
        return self.collections.setdefault(name, CollectionReport())


class Item:
    """One object being saved: its keys, wanted row, row id and stored values; ``sig`` is its
    signature when digests are kept for the collection."""

    __slots__ = ("dbkey", "id", "mkey", "obj", "old", "row", "sig", "state")

    def __init__(
        self,
        obj: InventoryObject,
        mkey: tuple[Any, ...],
        row: dict[str, Any],
        dbkey: tuple[Any, ...],
        sig: int | None = None,
    ) -> None:
        self.obj, self.mkey, self.row, self.dbkey, self.sig = obj, mkey, row, dbkey, sig
        self.id: int = 0
        self.old: Any = None
        self.state = "created"


@dataclass
class Saved:
    """What the later passes need from one saved collection."""

    plan: RowPlan
    items: list[Item]
    pos: dict[str, int]
    unmatched: list[Any]
    kept: Kept = field(default_factory=Kept)  # unchanged by digest: no Item, no row

    def ids(self) -> list[int]:
        """The row ids of every object saved (items and kept)."""
        return [i.id for i in self.items] + self.kept.ids

    def objects(self) -> list[tuple[InventoryObject, int]]:
        """(object, row id) of every object saved (rows of carried records have none)."""
        objs = self.kept.objs
        return [(i.obj, i.id) for i in self.items] + list(
            zip(objs, self.kept.ids[: len(objs)], strict=True)
        )
