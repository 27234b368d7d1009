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
order (lookup-only collections such as ``cross_link_vms`` are never saved). Each collection
(``Persister.save``): its objects become rows (``RowPlan.build``); the rows in scope are loaded
with one select and matched by manager_ref (as strings; reference parts by row id); new rows
are inserted (a disconnected row with the same manager_ref reconnected instead, for ``delete:
disconnect`` collections), changed columns updated, unchanged rows left alone. Then the
attributes closing a dependency cycle are written in an update-only pass, then many-to-many
join rows (none for collections carrying records: their mappings set no such attribute), then
(complete collections only, reverse order) rows not seen are deleted, with their owner-less
children and join rows, or disconnected (``persist.sweep``). An object whose manager_ref
reference resolves to nothing is skipped and counted (``skipped``); any other unresolved
reference is stored as its ``default`` (NULL) and counted (``unresolved``).

Work that can be skipped without changing the result (objects whose stored row digest matches,
records carried unparsed, maps for the next refresh) is the ``SaveStrategy``'s
(``persist.strategy``; ``persist.fast``), bulk writes through the driver ``Db``'s
(``persist.driver``): ``fast=False`` turns both off.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from miqspec.errors import MappingError
from miqspec.parse import ParsedInventory
from miqspec.persist.changes import Changes, Stamps, Updates
from miqspec.persist.db import Db
from miqspec.persist.driver import DriverWrites
from miqspec.persist.fast import FastSave
from miqspec.persist.graph import plan_save
from miqspec.persist.items import Item, Saved
from miqspec.persist.lookups import Lookups
from miqspec.persist.passes import parent_columns, reconnect, save_deferred, save_links
from miqspec.persist.remember import Alias, remember_ids
from miqspec.persist.report import Clock, PersistReport
from miqspec.persist.rows import Resolver, RowPlan
from miqspec.persist.strategy import Known, PlainSave, SaveStrategy
from miqspec.persist.sweep import archive, sweep
from miqspec.persist.tags import save_tags
from miqspec.persist.targets import Targets, target_scope
from miqspec.persist.values import (
    EMS_TABLE,
    OWNER_COLUMNS,
    ancestry_column,
    mem_key,
    row_key,
    stored_keys,
    timestamp_columns,
)
from miqspec.spec import Catalogue, CollectionDef

__all__ = ["PersistReport", "persist"]


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
    fast: bool = True,
    targets: Targets | None = None,
) -> PersistReport:
    """Save ``inventory`` (see the module docstring); ``vendor_types`` gives the STI ``type``
    per collection for objects that set none. ``digests`` (default on): objects whose stored
    row digest matches are unchanged without loading their rows (``persist.digest``); off,
    every row in scope is loaded and compared (and the digests are stored afresh). ``fast``
    False: the plain path (no digests, no record carry, SQLAlchemy's writes), which the fast
    paths are tested against. ``targets`` (a targeted refresh, with ``fast=False``):
    collection -> manager_refs; only those rows, and the owner-less rows hanging on them, are
    loaded, compared and swept (``persist.targets``)."""
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
        fast,
        targets,
    ).run()


class Persister:
    """One persist run (see the module docstring)."""

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
        fast: bool = True,
        targets: Targets | None = None,
    ) -> None:
        self.catalogue, self.inventory, self.owners = catalogue, inventory, owners
        self.targets = targets
        self.vendor_types, self.power_states = vendor_types, power_states
        self.trust, self.fast = digests, fast
        self.report = PersistReport(dry_run=dry_run)
        self.clock = Clock(self.report.timings)
        self.changes = Changes(self.report, now, sample_changes)
        driver = DriverWrites() if fast else None
        self.db = Db(conn, metadata, catalogue, owners, dry_run, driver)
        self.saved: dict[str, Saved] = {}

    def run(self) -> PersistReport:
        inv, report, clock = self.inventory, self.report, self.clock
        names = [n for n in self.collections() if not read_only(self.catalogue.collections[n])]
        graph = self.graph = plan_save(self.catalogue, inv, names)
        report.order = list(graph.order)
        report.deferred = {n: sorted(a) for n, a in graph.deferred.items()}
        lookups = Lookups(self.db, graph, point=bool(self.targets))
        tables = {n: self.db.table(n) for n in self.catalogue.collections if self.db.has_table(n)}
        resolver = Resolver(
            self.catalogue,
            inv,
            set(names),
            tables,
            lookups.db_row,
            lookups.secondary_rows,
            targeted=bool(self.targets),
        )
        self.resolver = resolver
        self.strategy = self.choose_strategy()
        clock.tick("plan")
        with self.db.session():
            for name in graph.order:
                self.save(name)
                if name in graph.early:  # a self-reference: nothing else to wait for
                    save_deferred(
                        self.db, resolver, self.changes, report.of(name), name, self.saved[name]
                    )
            for name in graph.order:
                if name in graph.deferred and name not in graph.early:
                    save_deferred(
                        self.db, resolver, self.changes, report.of(name), name, self.saved[name]
                    )
            clock.tick("deferred")
            for name in graph.order:  # a carrying collection's mapping sets no such link
                if self.catalogue.collections[name].many_to_many and name not in inv.carried:
                    save_links(self.db, resolver, report.of(name), name, self.saved[name])
            clock.tick("links")
            sweep(
                self.db, report, self.changes, graph.order, self.saved, inv.complete,
                self.power_states,
            )  # fmt: skip
            clock.tick("delete")
            if inv.labels:  # collections with tags: (no work for specs without)
                with self.db.errors("tags"):
                    report.tags = save_tags(
                        self.db.conn, self.catalogue, inv.labels, resolver.ids, self.db.dry_run
                    )
                clock.tick("tags")
            report.digests_written = self.strategy.finish()
            clock.tick("digests")
        report.rows_written = self.db.written
        for name, reasons in inv.dropped.items():
            report.of(name).dropped += sum(reasons.values())
        for rep in report.collections.values():
            rep.dropped += rep.skipped
        clock.total()
        return report

    def collections(self) -> list[str]:
        """The collections of this refresh: with objects, or complete (even with none)."""
        inv = self.inventory
        names = list(dict.fromkeys([*inv.objects, *(n for n, ok in inv.complete.items() if ok)]))
        for name in names:
            if self.catalogue.get(name) is None:
                raise MappingError(f"unknown inventory collection {name!r}")
        return names

    def choose_strategy(self) -> SaveStrategy:
        if not self.fast:
            touched = self.touched if self.targets else None
            return PlainSave(self.db, self.inventory, self.owners, touched)
        return FastSave(
            self.db,
            self.catalogue,
            self.inventory,
            self.owners,
            self.graph,
            self.saved,
            self.resolver.ids,
            self.clock,
            self.trust,
        )

    def touched(self, name: str) -> set[int]:
        """The rows of ``name`` this (targeted) save loaded, wrote or swept."""
        done = self.saved.get(name)
        if done is None:
            return set()
        return {i.id for i in done.items} | {r[0] for r in done.unmatched}

    # -- one collection ----------------------------------------------------------------------
    def save(self, name: str) -> None:
        """Save one collection: build its rows, load the stored ones, compare, write."""
        cdef, table = self.catalogue.collections[name], self.db.table(name)
        plan = RowPlan(
            cdef,
            table,
            self.resolver,
            owner_id=self.owners.get(name),
            sti_type=self.vendor_types.get(name),
            power_states=self.power_states,
            deferred=self.graph.deferred.get(name, set()),
        )
        known = self.strategy.open(name, plan)  # objects to build, objects known unchanged
        items, aliases, cols = self.build(name, plan, known)
        rows, pos = self.load(name, plan, cols, known)
        unmatched = self.compare(name, plan, items, rows, pos)
        remember_ids(self.resolver, self.catalogue, name, plan, known, items, pos, aliases)
        self.saved[name] = Saved(plan, items, pos, unmatched, known.kept)
        rep, kept = self.report.of(name), known.kept
        rep.unchanged += len(kept.ids) + sum(1 for i in items if i.state == "unchanged")
        rep.carried += len(kept.ids) - len(kept.objs)
        self.clock.tick("compare")

    def build(
        self, name: str, plan: RowPlan, known: Known
    ) -> tuple[list[Item], list[Alias], set[str]]:
        """The items of the objects to build (the first object per identity key; later ones
        are aliases of it, or of a kept row), and the columns their rows set."""
        kept = known.kept
        by_key: dict[tuple[Any, ...], Item | int] = dict(
            zip(kept.keys, kept.ids[: len(kept.keys)], strict=True)
        )
        items: list[Item] = []
        aliases: list[Alias] = []
        cols: set[str] = set()
        key_cols, build = plan.key_cols, plan.build
        for obj, sig in known.rest:
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
        if plan.table.name == EMS_TABLE:  # the provider row itself: update only, first wins
            items = items[:1]
        rep = self.report.of(name)
        rep.skipped += plan.skipped
        rep.unresolved += plan.unresolved
        plan.skipped = plan.unresolved = 0
        self.clock.tick("build")
        return items, aliases, cols

    def load(
        self, name: str, plan: RowPlan, cols: set[str], known: Known
    ) -> tuple[list[Any], dict[str, int]]:
        """The stored rows in scope (``known.load``'s only, when it says), with the columns
        the rows set and those the later passes read."""
        cdef, table = plan.cdef, plan.table
        cols.update(plan.key_cols)
        cols.update(c for c in ("raw_power_state", "power_state", "type") if c in table.c)
        cols.update(OWNER_COLUMNS.get(cdef.owner, ())[:1])
        for attr in plan.deferred:
            rdef = cdef.references.get(attr)
            cols.update(c for c in ((rdef.column, rdef.type_column) if rdef else (attr,)) if c)
        cols.update(parent_columns(self.catalogue, name))
        ancestry = ancestry_column(self.catalogue, table.name)
        cols.update((ancestry,) if ancestry else ())
        cols.discard("id")
        select = ["id", *sorted(cols)]
        where = self.db.scope(name)
        narrowed = target_scope(self.db, name, self.targets) if self.targets else None
        if narrowed is not None:
            where = sa.and_(where, narrowed)
        if known.load is None:
            found = self.db.select(name, select, where)
        else:
            found = self.db.select_ids(name, select, where, known.load, known.in_scope)
        self.clock.tick("load")
        return found

    def compare(
        self, name: str, plan: RowPlan, items: list[Item], rows: list[Any], pos: dict[str, int]
    ) -> list[Any]:
        """Match stored rows, write inserts and updates; return the rows not seen."""
        table, key_cols, rep = plan.table, plan.key_cols, self.report.of(name)
        ts = timestamp_columns(plan.cdef.timestamps, table)
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
        updates: Updates = {}
        queue_update = self.changes.queue_update
        new: list[Item] = [] if index else list(items)  # no stored row: every item is new
        replaced: list[Any] = []  # archive_on_change: stored rows of changed objects
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
            if plan.cdef.archive_on_change:  # the old row archived, a new one made
                replaced.append(old)
                item.id, item.old = 0, None
                new.append(item)
                continue
            queue_update(name, plan, item, changed, pos, updates, ts)
        unmatched.extend(index.values())
        if table.name == EMS_TABLE:
            new = []
        if new and plan.cdef.delete == "disconnect" and plan.cdef.reconnect:
            new = reconnect(self.db, self.changes, rep, name, plan, new, pos, updates, ts)
        self.clock.tick("compare")
        if replaced:
            archive(self.db, self.changes, name, plan, replaced)
            rep.created -= len(replaced)  # counted as updated: ``insert`` counts them again
        self.db.update(name, updates)
        self.insert(name, plan, new, ts)
        self.clock.tick("write")
        return unmatched

    def insert(self, name: str, plan: RowPlan, new: list[Item], ts: Stamps) -> None:
        """Insert the new items' rows (grouped by their columns, in build order: ids follow
        the API's order) and give each item its row id."""
        table, stamp = plan.table, self.changes.stamp
        extra = {c: stamp(table, c) for c in ts if c}
        changed_on = "state_changed_on" if "state_changed_on" in table.c else None
        groups: dict[tuple[str, ...], list[Item]] = {}
        for item in new:
            groups.setdefault(tuple(item.row), []).append(item)
        for keys, group in groups.items():
            add = dict(extra)
            if changed_on and "raw_power_state" in keys:
                add[changed_on] = stamp(table, changed_on)
            rows = [item.row for item in group]
            ids = self.db.insert(name, rows, [i.dbkey for i in group], plan.key_cols, add)
            for item, new_id in zip(group, ids, strict=True):
                item.id = new_id
        self.report.of(name).created += len(new)


def read_only(cdef: CollectionDef) -> bool:
    """A lookup-only collection (``cross_link_vms``): owner none, nothing to delete, no table
    of its own to save into; lazies may point at it, its objects are never saved."""
    return cdef.owner == "none" and cdef.delete == "none" and cdef.table != EMS_TABLE
