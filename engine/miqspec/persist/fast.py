"""The fast save strategy: stored row digests, record carry and record maps behind one seam.

Takes: the run's ``Db``, catalogue, parsed inventory, owner ids, ``SaveGraph``, the collections
saved so far (filled as the run goes), the row ids of saved objects (``Resolver.ids``), its
``Clock``, and whether stored digests may be trusted (``persist(..., digests=False)``: every
row is compared, and digests and maps are stored afresh).
Gives: ``FastSave`` (a ``persist.strategy.SaveStrategy``): ``open(name, plan)`` opens the
collection's stored digests (``persist.digest``: the ids and keys of its rows in scope, and
their digests), keeps the rows of records carried unparsed when they still hold
(``persist.carry``; else their records are parsed now), and splits the objects into those whose
signature equals their row's digest (kept: not built, loaded or compared) and the rest;
``finish`` stores the digests and record maps of this refresh where they changed. Collections
with deferred attributes, and the provider's own row, are saved as ``PlainSave`` saves them
(their digests dropped).
Raises: ``DatabaseError`` (through ``Db``), ``MappingError`` where building rows would. Does
database I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from miqspec.parse import ParsedInventory
from miqspec.persist.carry import carried_rows, lean_ids, store_maps
from miqspec.persist.db import Db
from miqspec.persist.digest import Digests
from miqspec.persist.graph import SaveGraph, sweeps
from miqspec.persist.items import Saved
from miqspec.persist.report import Clock
from miqspec.persist.rows import RowPlan
from miqspec.persist.strategy import Known, objects
from miqspec.persist.values import EMS_TABLE, ancestry_column
from miqspec.spec import Catalogue


class FastSave:
    """Row digests, record carry and record maps of one persist run (module docstring)."""

    def __init__(
        self,
        db: Db,
        catalogue: Catalogue,
        inventory: ParsedInventory,
        owners: Mapping[str, int],
        graph: SaveGraph,
        saved: Mapping[str, Saved],
        ids: Mapping[str, Mapping[tuple[Any, ...], int]],
        clock: Clock,
        trust: bool = True,
    ) -> None:
        self.db, self.catalogue, self.inventory, self.owners = db, catalogue, inventory, owners
        self.graph, self.saved, self.ids, self.clock = graph, saved, ids, clock
        self.digests = Digests(db, trust)

    def open(self, name: str, plan: RowPlan) -> Known:
        table, owner = plan.table.name, self.owners.get(name)
        if table == EMS_TABLE:
            return Known(objects(self.inventory, name))
        if plan.cdef.archives:  # a changed or vanished row is archived: compared in full
            self.digests.forget(name, owner)
            return Known(objects(self.inventory, name))
        if plan.deferred:  # deferred attributes: compared in full, digests go
            self.digests.forget(name, owner)
            return Known(objects(self.inventory, name))
        ancestry = ancestry_column(self.catalogue, table)
        paths = ancestry if ancestry and self._paths_read(table) else None
        carried = self.inventory.carried.get(name)
        lean = lean_ids(carried, plan)
        sums = self.digests.open(name, plan, owner, paths, lean, self._siblings(name))
        self.clock.tick("load")
        if sums is None:
            return Known(objects(self.inventory, name))
        objs = list(self.inventory.objects.get(name, {}).values())
        carried_ids: list[int] = []
        keys: list[tuple[Any, ...]] = []
        if carried is not None and carried.pairs:
            found = carried_rows(self.db, self.saved, name, plan, sums, carried, objs)
            if found is None:  # the rows of carried records are in question: parse them all
                carried.expand()
                objs = list(self.inventory.objects.get(name, {}).values())
                if sums.lean:  # the parsed objects need every key
                    sums = self.digests.open(name, plan, owner, paths)
                    assert sums is not None  # it opened a moment ago
            else:
                carried_ids, keys = [rid for _, rid in carried.pairs], found
        # carried records are not parsed again while unchanged: a first save of their rows
        # skips signing them (a row digest is read only when its record changes)
        kept, rest, unresolved = sums.match(plan, objs, sign=carried is None)
        plan.unresolved += unresolved
        if carried_ids:
            kept.ids.extend(carried_ids)
            kept.sigs.extend(map(sums.stored.__getitem__, carried_ids))
        load = sums.unclaimed(kept.ids)  # rows of changed objects and rows not seen: in full
        return Known(rest, kept, load, len(sums.ids), keys, sums.ancestry)

    def finish(self) -> int:
        self.digests.finish(self.saved, self._sweeps)
        usable = self._usable
        maps = store_maps(self.db, self.inventory.carried, self.owners, usable, self.ids)
        return self.digests.written + maps

    def _sweeps(self, name: str) -> bool:
        return sweeps(self.catalogue.collections[name], self.inventory.complete)

    def _usable(self, name: str) -> bool:
        """The collection was saved with its row digests open (its record maps hold)."""
        return self.digests.open_.get(name) is not None and name in self.saved

    def _siblings(self, name: str) -> set[int]:
        """The rows of records carried by the other collections of ``name``'s table and
        manager (vms and miq_templates share one): not rows of ``name``."""
        cdef = self.catalogue.collections[name]
        owner = self.owners.get(name)
        out: set[int] = set()
        for other, carried in self.inventory.carried.items():
            odef = self.catalogue.get(other)
            if other == name or odef is None or odef.table != cdef.table:
                continue
            if odef.owner == cdef.owner and self.owners.get(other) == owner:
                out.update(rid for _, rid in carried.pairs)
        return out

    def _paths_read(self, table: str) -> bool:
        """True when an object of this refresh holds an ``ancestry`` reference into ``table``
        (whose rows' stored paths its path is then built on)."""
        return any(
            rdef.kind == "ancestry" and (cdef.name, attr) in self.graph.ref_attrs
            for cdef in self.catalogue.collections.values()
            if cdef.table == table
            for attr, rdef in cdef.references.items()
        )
