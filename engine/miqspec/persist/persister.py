"""Save a parsed inventory into the database with ManageIQ's refresh semantics.

Takes: a connection inside the caller's transaction, the tables (``tables.build_metadata``), the
catalogue, a ``ParsedInventory``, the owning manager id of each collection and ``now``.
Gives: a ``PersistReport`` (per-collection counts, rows written, a sample of field changes and
phase timings). With ``dry_run`` it reads and computes everything and writes nothing.
Raises: ``DatabaseError`` on a database error (the caller rolls back), ``MappingError`` on data
that cannot be saved (unknown attribute or collection, a value a column cannot hold, a
reference an attribute does not allow). Does database I/O.

Semantics (ManageIQ's: reference/manageiq-model.md §2, §3.8): collections present in
``inventory.objects`` or marked complete in ``inventory.complete`` are saved in dependency
order (lookup-only collections such as ``cross_link_vms`` are never saved); each matches its
objects to the rows in scope by manager_ref (as strings; reference parts by row id): an object
whose signature equals its row's stored digest is unchanged without its row being built, loaded
or compared (``persist_digest``), the other rows are loaded with one select; it inserts new
rows (reconnecting a disconnected row with the same manager_ref for ``delete: disconnect``
collections), updates only changed columns, and leaves unchanged rows alone.
Attributes closing a dependency cycle are written in an update-only pass afterwards, then
many-to-many join rows (none for collections carrying records: their mappings set no such
attribute), then (complete collections only, reverse order) rows not seen are
deleted, with their owner-less children and join rows, or disconnected. An object whose
manager_ref reference resolves to nothing is skipped and counted (``skipped``); any other
unresolved reference is stored as its ``default`` (NULL) and counted (``unresolved``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import datetime
from operator import attrgetter
from typing import Any

import sqlalchemy as sa

from miqspec.errors import MappingError
from miqspec.parse import ParsedInventory
from miqspec.persist.bulk import sqlite_cache
from miqspec.persist.carry import carried_rows, lean_ids, store_maps
from miqspec.persist.db import Db
from miqspec.persist.digest import Digests, Kept, Rest
from miqspec.persist.graph import SaveGraph, plan_save
from miqspec.persist.model import Change, CollectionReport, Item, PersistReport, Saved
from miqspec.persist.passes import parent_columns, reconnect, save_deferred, save_links, sweep
from miqspec.persist.rows import Resolver, RowPlan
from miqspec.persist.values import (
    EMS_TABLE,
    OWNER_COLUMNS,
    ancestry_column,
    coercer,
    mem_key,
    ref_text,
    row_key,
    stored_keys,
    timestamp_columns,
)
from miqspec.spec import Catalogue, CollectionDef

__all__ = ["Change", "CollectionReport", "Item", "PersistReport", "Saved", "persist"]

_REF = attrgetter("ref")
_MKEY, _ID = attrgetter("mkey"), attrgetter("id")


def persist(
    conn: sa.Connection,
    metadata: sa.MetaData,
    catalogue: Catalogue,
    inventory: ParsedInventory,
    owners: Mapping[str, int],
    *,
    vendor_types: Mapping[str, str] | None = None,
    power_states: Callable[[Any], str] | None = None,
    now: datetime,
    dry_run: bool = False,
    sample_changes: int = 0,
    digests: bool = True,
) -> PersistReport:
    """Save ``inventory`` (see the module docstring); ``vendor_types`` gives the STI ``type``
    per collection for objects that set none. ``digests`` (default on): objects whose stored
    row digest matches are unchanged without loading their rows (``persist_digest``); off,
    every row in scope is loaded and compared (and the digests are stored afresh)."""
    return Persister(
        conn,
        metadata,
        catalogue,
        inventory,
        owners,
        vendor_types or {},
        power_states,
        now,
        dry_run,
        sample_changes,
        digests,
    ).run()


class Persister:
    def __init__(
        self,
        conn: sa.Connection,
        metadata: sa.MetaData,
        catalogue: Catalogue,
        inventory: ParsedInventory,
        owners: Mapping[str, int],
        vendor_types: Mapping[str, str],
        power_states: Callable[[Any], str] | None,
        now: datetime,
        dry_run: bool,
        sample_changes: int,
        digests: bool = True,
    ) -> None:
        self.catalogue, self.inventory, self.owners = catalogue, inventory, owners
        self.vendor_types, self.power_states, self.now = vendor_types, power_states, now
        self.sample = sample_changes
        self.db = Db(conn, metadata, catalogue, owners, dry_run)
        self.digests = Digests(self.db, digests)
        self.report = PersistReport(dry_run=dry_run)
        self.saved: dict[str, Saved] = {}
        self.graph = SaveGraph(order=[])
        self._clock = time.perf_counter()

    def tick(self, phase: str) -> None:
        now = time.perf_counter()
        timings = self.report.timings
        timings[phase] = timings.get(phase, 0.0) + now - self._clock
        self._clock = now

    def stamp(self, table: sa.Table, col: str) -> Any:
        return coercer(table.c[col])[1](self.now)

    def change(self, name: str, ref: str, col: str, old: Any, new: Any) -> None:
        if len(self.report.changes) < self.sample:
            self.report.changes.append(Change(name, ref, col, old, new))

    def run(self) -> PersistReport:
        with sqlite_cache(self.db.conn):
            return self._run()

    def _run(self) -> PersistReport:
        start = time.perf_counter()
        inv = self.inventory
        names = list(dict.fromkeys([*inv.objects, *(n for n, ok in inv.complete.items() if ok)]))
        for name in names:
            if self.catalogue.get(name) is None:
                raise MappingError(f"unknown inventory collection {name!r}")
        names = [n for n in names if not read_only(self.catalogue.collections[n])]
        self.graph = self.db.graph = plan_save(self.catalogue, inv, names)
        self.report.order = list(self.graph.order)
        self.report.deferred = {n: sorted(a) for n, a in self.graph.deferred.items()}
        self.resolver = Resolver(
            self.catalogue,
            inv,
            set(names),
            {n: self.db.table(n) for n in self.catalogue.collections if self.db.has_table(n)},
            self.db.db_rows,
            self.db.secondary_rows,
        )
        self.tick("plan")
        for name in self.graph.order:
            self.save(name)
        for name in self.graph.order:
            if name in self.graph.deferred:
                save_deferred(self, name)
        self.tick("deferred")
        for name in self.graph.order:  # a carrying collection's mapping sets no such link
            if self.catalogue.collections[name].many_to_many and name not in inv.carried:
                save_links(self, name)
        self.tick("links")
        sweep(self)
        self.tick("delete")
        self.digests.finish(self)
        store_maps(self)
        self.report.digests_written = self.digests.written
        self.tick("digests")
        self.report.rows_written = self.db.written
        self.report.timings["total"] = time.perf_counter() - start
        return self.report

    # -- main pass ---------------------------------------------------------------------------
    def save(self, name: str) -> None:
        cdef, table = self.catalogue.collections[name], self.db.table(name)
        rep = self.report.of(name)
        plan = RowPlan(
            cdef,
            table,
            self.resolver,
            owner_id=self.owners.get(name),
            sti_type=self.vendor_types.get(name),
            power_states=self.power_states,
            deferred=self.graph.deferred.get(name, set()),
        )
        ids = self.resolver.ids.setdefault(name, {})
        items: list[Item] = []
        by_key: dict[tuple[Any, ...], Item | int] = {}
        aliases: list[tuple[tuple[Any, ...], Item | int]] = []
        cols: set[str] = set()
        key_cols = plan.key_cols
        ancestry = ancestry_column(self.catalogue, table.name)
        objs = list(self.inventory.objects.get(name, {}).values())
        kept: Kept = Kept()
        rest: Rest = [(obj, None) for obj in objs]
        sums = None
        carried = self.inventory.carried.get(name)
        paths = ancestry if ancestry and self.paths_read(table.name) else None
        if table.name != EMS_TABLE and not plan.deferred:
            owner = self.owners.get(name)
            lean = lean_ids(carried, plan)
            sums = self.digests.open(name, plan, owner, paths, lean, self.siblings(name))
            self.tick("load")
        elif table.name != EMS_TABLE:  # deferred attributes: compared in full, digests go
            self.digests.forget(name, self.owners.get(name))
        carried_ids: list[int] = []
        carried_keys: list[tuple[Any, ...]] = []
        if carried is not None and carried.pairs:
            found = None if sums is None else carried_rows(self, name, plan, sums, carried, objs)
            if found is None:  # the rows of carried records are in question: parse them all
                carried.expand()
                objs = list(self.inventory.objects.get(name, {}).values())
                rest = [(obj, None) for obj in objs]
                if sums is not None and sums.lean:  # the parsed objects need every key
                    sums = self.digests.open(name, plan, self.owners.get(name), paths)
            else:
                carried_ids, carried_keys = [rid for _, rid in carried.pairs], found
        if sums is not None:
            # carried records are not parsed again while unchanged: a first save of their
            # rows skips signing them (a row digest is read only when its record changes)
            kept, rest, unresolved = sums.match(plan, objs, sign=carried is None)
            plan.unresolved += unresolved
            by_key.update(zip(kept.keys, kept.ids, strict=True))
            if carried_ids:
                kept.ids.extend(carried_ids)
                kept.sigs.extend(map(sums.stored.__getitem__, carried_ids))
                rep.carried += len(carried_ids)
        build = plan.build
        for obj, sig in rest:
            row = build(obj)
            if row is None:
                continue
            dbkey = row_key(row, key_cols)
            first = by_key.get(dbkey)
            if first is not None:
                aliases.append((mem_key(obj.ref), first))
                continue
            cols.update(row)
            item = by_key[dbkey] = Item(obj, mem_key(obj.ref), row, dbkey, sig)
            items.append(item)
        if table.name == EMS_TABLE:  # the provider row itself: update only, first object wins
            items = items[:1]
        rep.skipped += plan.skipped
        rep.unresolved += plan.unresolved
        plan.skipped = plan.unresolved = 0
        self.tick("build")
        cols.update(key_cols)
        cols.update(c for c in ("raw_power_state", "power_state", "type") if c in table.c)
        cols.update(OWNER_COLUMNS.get(cdef.owner, ())[:1])
        for attr in plan.deferred:
            rdef = cdef.references.get(attr)
            cols.update(c for c in ((rdef.column, rdef.type_column) if rdef else (attr,)) if c)
        cols.update(parent_columns(self.catalogue, name))
        cols.update((ancestry,) if ancestry else ())
        cols.discard("id")
        if sums is None:
            rows, pos = self.db.select(name, ["id", *sorted(cols)], self.db.scope(name))
        else:  # rows of changed objects and rows not seen: in full
            rows, pos = self.db.select_ids(
                name,
                ["id", *sorted(cols)],
                self.db.scope(name),
                sums.unclaimed(kept.ids),
                len(sums.ids),
            )
        self.tick("load")
        unmatched = self.compare(name, plan, items, rows, pos)
        n_objs = len(kept.objs)
        ids.update(zip(map(mem_key, map(_REF, kept.objs)), kept.ids[:n_objs], strict=True))
        if carried_keys:  # string keys; none are read when nothing refers to the collection
            ids.update(zip(carried_keys, carried_ids, strict=True))
        if ancestry and sums is not None:  # unchanged by digest: the stored path is theirs
            paths_of = self.resolver.ancestry
            for rid in kept.ids:
                path = sums.ancestry.get(rid)
                if path is not None:
                    paths_of[(table.name, rid)] = path
        ids.update(zip(map(_MKEY, items), map(_ID, items), strict=True))
        if ancestry:
            for item in items:
                path = None if item.old is None else item.old[pos[ancestry]]
                self.resolver.ancestry[(table.name, item.id)] = item.row.get(ancestry, path)
        for mkey, first in aliases:
            ids.setdefault(mkey, first if type(first) is int else first.id)  # type: ignore[union-attr]
        self.saved[name] = Saved(plan, items, pos, unmatched, kept)
        rep.unchanged += len(kept.ids) + sum(1 for i in items if i.state == "unchanged")
        self.tick("compare")

    def siblings(self, name: str) -> set[int]:
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

    def paths_read(self, table: str) -> bool:
        """True when an object of this refresh holds an ``ancestry`` reference into ``table``
        (whose rows' stored paths its path is then built on)."""
        return any(
            rdef.kind == "ancestry" and (cdef.name, attr) in self.graph.ref_attrs
            for cdef in self.catalogue.collections.values()
            if cdef.table == table
            for attr, rdef in cdef.references.items()
        )

    def power_changes(
        self, plan: RowPlan, row: Mapping[str, Any], old_raw: Any, changed: dict[str, Any]
    ) -> None:
        """previous_state / state_changed_on when raw_power_state changes (§3.8)."""
        if "raw_power_state" in row and row["raw_power_state"] != old_raw:
            if "previous_state" in plan.table.c:
                changed["previous_state"] = old_raw
            if "state_changed_on" in plan.table.c:
                changed["state_changed_on"] = self.stamp(plan.table, "state_changed_on")

    def compare(
        self, name: str, plan: RowPlan, items: list[Item], rows: list[Any], pos: dict[str, int]
    ) -> list[Any]:
        """Match stored rows, write inserts and updates; return the rows not seen."""
        table, key_cols, rep = plan.table, plan.key_cols, self.report.of(name)
        ts = timestamp_columns(self.catalogue.collections[name].timestamps, table)
        index: dict[tuple[Any, ...], Any] = {}
        unmatched: list[Any] = []
        rows.sort(key=lambda r: r[0])
        for key, r in zip(stored_keys(rows, [pos[c] for c in key_cols]), rows, strict=True):
            if key in index:
                unmatched.append(r)
            else:
                index[key] = r
        if table.name == EMS_TABLE:
            index = {items[0].dbkey: rows[0]} if rows and items else {}
            unmatched = []
        updates: dict[frozenset[str], list[dict[str, Any]]] = {}
        new: list[Item] = [] if index else list(items)  # no stored row: every item is new
        for item in items if index else ():
            old = index.pop(item.dbkey, None)
            if old is None:
                new.append(item)
                continue
            item.id, item.old = old[0], old
            changed = plan.diff(item.row, old, pos)
            if not changed:
                item.state = "unchanged"
                continue
            item.state = "updated"
            rep.updated += 1
            self.queue_update(name, plan, item, changed, pos, updates, ts)
        unmatched.extend(index.values())
        if table.name == EMS_TABLE:
            new = []
        if new and self.catalogue.collections[name].delete == "disconnect":
            new = reconnect(self, name, plan, new, pos, updates, ts)
        self.tick("compare")
        self.db.update(name, updates)
        self.insert(name, plan, new, ts)
        self.tick("write")
        return unmatched

    def queue_update(
        self,
        name: str,
        plan: RowPlan,
        item: Item,
        changed: dict[str, Any],
        pos: Mapping[str, int],
        updates: dict[frozenset[str], list[dict[str, Any]]],
        ts: tuple[str | None, str | None],
    ) -> None:
        old = item.old
        if len(self.report.changes) < self.sample:
            text = ref_text(item.obj.ref)
            for col, value in changed.items():
                self.change(name, text, col, old[pos[col]], value)
        if "raw_power_state" in pos:
            self.power_changes(plan, item.row, old[pos["raw_power_state"]], changed)
        if ts[1]:
            changed[ts[1]] = self.stamp(plan.table, ts[1])
        changed["b_id"] = item.id
        updates.setdefault(frozenset(changed), []).append(changed)

    def insert(
        self, name: str, plan: RowPlan, new: list[Item], ts: tuple[str | None, str | None]
    ) -> None:
        table = plan.table
        extra = {c: self.stamp(table, c) for c in ts if c}
        changed_on = "state_changed_on" if "state_changed_on" in table.c else None
        groups: dict[tuple[str, ...], list[Item]] = {}
        for item in new:
            assert item.row is not None
            groups.setdefault(tuple(item.row), []).append(item)
        for keys, group in groups.items():  # in build order: ids follow the API's order
            add = dict(extra)
            if changed_on and "raw_power_state" in keys:
                add[changed_on] = self.stamp(table, changed_on)
            rows = [item.row for item in group if item.row is not None]
            ids = self.db.insert(name, rows, [i.dbkey for i in group], plan.key_cols, add)
            for item, new_id in zip(group, ids, strict=True):
                item.id = new_id
        self.report.of(name).created += len(new)


def read_only(cdef: CollectionDef) -> bool:
    """A lookup-only collection (``cross_link_vms``): owner none, nothing to delete, no table
    of its own to save into; lazies may point at it, its objects are never saved."""
    return cdef.owner == "none" and cdef.delete == "none" and cdef.table != EMS_TABLE
