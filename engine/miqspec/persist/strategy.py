"""The seam between the plain save and its fast paths: ``SaveStrategy``, and the plain one.

Takes: a collection's name and ``RowPlan`` (``open``), once per collection in save order.
Gives: ``SaveStrategy`` (the interface persist's save calls: ``open`` says, before any row is
built, which objects are known unchanged and which rows in scope must be loaded; ``finish``
stores what the next refresh reads, after every pass); ``Known`` (what ``open`` gives);
``PlainSave`` (the plain path: every record parsed, every object built, every row in scope
loaded and compared). The fast one, ``persist.fast.FastSave`` (stored row digests, record
carry, record maps), must leave the database as ``PlainSave`` does
(tests/persist/test_persist_paths.py).
Raises: ``DatabaseError`` (through ``Db``). ``PlainSave`` does database I/O in ``finish``
only: it drops the stored digests and record maps of the collections it saved (they may no
longer describe their rows).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from miqspec.parse import ParsedInventory
from miqspec.persist.db import Db
from miqspec.persist.digest import Digests
from miqspec.persist.items import Kept, Rest
from miqspec.persist.maps import forget_maps
from miqspec.persist.rows import RowPlan
from miqspec.persist.targeted_state import note_touched


@dataclass
class Known:
    """What a strategy knows of one collection before its rows are built."""

    rest: Rest  # the objects to build and compare, each with its signature (or None)
    #: objects (and rows of records carried unparsed, past the last object) known unchanged:
    #: not built, loaded or compared
    kept: Kept = field(default_factory=Kept)
    load: list[int] | None = None  # ids of the rows in scope to load (None: all of them)
    in_scope: int = 0  # how many rows are in scope (with ``load``)
    #: identity keys of the carried rows (``kept.ids`` past ``kept.objs``); empty when
    #: nothing needs them (nothing refers to the collection)
    keys: list[tuple[Any, ...]] = field(default_factory=list)
    paths: Mapping[int, Any] = field(default_factory=dict)  # stored ancestry paths by row id


class SaveStrategy(Protocol):
    """How one persist run finds work it may skip (see the module docstring)."""

    def open(self, name: str, plan: RowPlan) -> Known:
        """Before collection ``name`` is built: its objects and what is known of them (may
        parse records left unparsed, ``Carried.expand``, and add to ``plan.unresolved``)."""
        ...

    def finish(self) -> int:
        """After every pass: store what the next refresh reads; how many digest or map
        rows were written."""
        ...


def objects(inventory: ParsedInventory, name: str) -> Rest:
    """Every object of collection ``name``, unsigned, records carried unparsed parsed now."""
    carried = inventory.carried.get(name)
    if carried is not None and carried.pairs:
        carried.expand()
    return [(obj, None) for obj in inventory.objects.get(name, {}).values()]


class PlainSave:
    """The plain path (``persist(..., fast=False)``): no row digests, no record carry.
    ``touched`` (a targeted save): the ids of the rows a collection's save touched; only
    those leave its digests and record map, when the next full refresh settles them
    (``persist.targeted_state``)."""

    def __init__(
        self,
        db: Db,
        inventory: ParsedInventory,
        owners: Mapping[str, int],
        touched: Callable[[str], set[int]] | None = None,
    ) -> None:
        self.db, self.inventory, self.owners = db, inventory, owners
        self.touched = touched
        self.opened: list[str] = []

    def open(self, name: str, plan: RowPlan) -> Known:
        self.opened.append(name)
        return Known(objects(self.inventory, name))

    def finish(self) -> int:
        digests = Digests(self.db, trust=False)
        for name in self.opened:
            owner = self.owners.get(name)
            if owner is not None and self.touched is not None:
                note_touched(self.db, owner, name, self.touched(name))
            elif owner is not None:
                digests.forget(name, owner)
                forget_maps(self.db, owner, name)
        return 0
