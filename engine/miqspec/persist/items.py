"""The values one collection's save passes along: items being saved, objects kept, the result.

Takes/gives plain data: ``Item`` (one object being saved: keys, wanted row, row id, stored row,
signature), ``Kept`` (objects known unchanged without building, loading or comparing their
rows, and rows of records carried unparsed), ``Rest`` (the objects to build, each with its
signature or None) and ``Saved`` (what the later passes need from one saved collection).
No I/O, raises nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from miqspec.parse import InventoryObject
from miqspec.persist.rows import RowPlan

Rest = list[tuple[InventoryObject, "int | None"]]  # an object and its signature (or None)


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
class Kept:
    """The objects whose stored digest matched (unchanged rows, neither built nor loaded), as
    parallel lists: object, identity key, row id, signature; ids and signatures past the last
    object are rows of records carried unparsed (``persist.carry``)."""

    objs: list[InventoryObject] = field(default_factory=list)
    keys: list[tuple[Any, ...]] = field(default_factory=list)
    ids: list[int] = field(default_factory=list)
    sigs: list[int] = field(default_factory=list)


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

    def settled(self) -> bool:
        """True when the save created, updated and reconnected nothing and left no row
        unmatched: references into the collection resolve as they did."""
        return not self.unmatched and all(item.state == "unchanged" for item in self.items)
