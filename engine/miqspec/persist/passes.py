"""persist's passes for rows that come and go, and for what waits until every row has an id.

Takes: a ``Persister`` whose collections are saved (ids known; stored rows, and rows in scope
that matched no object, kept per collection).
Gives: ``reconnect`` reattaches a disconnected row with the same manager_ref instead of
inserting; ``save_deferred`` writes the attributes that closed a dependency cycle (update
only, parents before children for ``ancestry`` paths); ``save_links`` adds missing and removes
stale many-to-many join rows of the objects saved in this refresh that set the attribute
(objects without it are left alone); ``sweep`` deletes the rows not seen, with the rows of
owner-less child collections and the join rows that hang on them (ManageIQ's ``dependent:
:destroy``), or for ``delete: disconnect`` collections runs ManageIQ's ``disconnect_inv``:
owner column, ``ems_cluster_id``, ``host_id`` and ``orchestration_stack_id`` set NULL; a vm's
``raw_power_state`` becomes "unknown" (``previous_state``, ``state_changed_on`` and
``power_state`` follow), a host's ``power_state`` becomes "unknown". Only complete collections
sweep, in reverse save order; ``delete: none`` never does; an owner-less collection (hardwares,
disks) only sweeps rows whose parent was saved in this refresh.
Raises: ``DatabaseError``, ``MappingError`` (a many-to-many value that is not a list). Does
database I/O (through ``Db``).
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import compress
from operator import attrgetter, methodcaller
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from miqspec.errors import MappingError
from miqspec.parse import InventoryObject, LazyRef
from miqspec.persist.cascade import delete_rows
from miqspec.persist.db import CHUNK
from miqspec.persist.graph import parent_reference
from miqspec.persist.values import (
    OWNER_COLUMNS,
    REF_TYPES,
    key_of,
    poly_type,
    ref_text,
    stored_keys,
    timestamp_columns,
)
from miqspec.spec import Catalogue

_DATA, _OBJ = attrgetter("data"), attrgetter("obj")

if TYPE_CHECKING:
    from miqspec.persist.persister import Item, Persister, Saved
    from miqspec.persist.rows import RowPlan

DISCONNECT_CLEARS = ("ems_cluster_id", "host_id", "orchestration_stack_id")
UNKNOWN = "unknown"


def save_deferred(p: Persister, name: str) -> None:
    """Write the cycle-closing attributes now that every collection has ids."""
    saved = p.saved[name]
    plan, pos, rep = saved.plan, saved.pos, p.report.of(name)
    ts = timestamp_columns(p.catalogue.collections[name].timestamps, plan.table)
    updates: dict[frozenset[str], list[dict[str, Any]]] = {}
    ancestry = [
        r.column
        for a in plan.deferred
        if (r := plan.cdef.references.get(a)) is not None and r.kind == "ancestry"
    ]
    items = saved.items
    if ancestry:  # parents before children: a child's path includes its parent's
        depth = _Depth(p, name, [a for a in plan.deferred if a in plan.cdef.references])
        items = sorted(items, key=lambda i: depth(i.obj))
    for item in items:
        row = plan.build_deferred(item.obj)
        for col in ancestry:
            if col in row:
                p.resolver.ancestry[(plan.table.name, item.id)] = row[col]
        if item.old is None:
            changed = {k: v for k, v in row.items() if v is not None}
        else:
            changed = plan.diff(row, item.old, pos)
        if not changed:
            continue
        if item.state == "unchanged":
            item.state = "updated"
            rep.unchanged -= 1
            rep.updated += 1
        if ts[1]:
            changed[ts[1]] = p.stamp(plan.table, ts[1])
        changed["b_id"] = item.id
        updates.setdefault(frozenset(changed), []).append(changed)
    rep.unresolved += plan.unresolved
    plan.unresolved = 0
    p.db.update(name, updates)


class _Depth:
    """How many in-memory ancestors an object has through its self-references."""

    def __init__(self, p: Persister, name: str, attrs: list[str]) -> None:
        self.p, self.name, self.attrs = p, name, attrs
        self.memo: dict[int, int] = {}

    def __call__(self, obj: InventoryObject, seen: frozenset[int] = frozenset()) -> int:
        known = self.memo.get(id(obj))
        if known is not None:
            return known
        best = 0
        for attr in self.attrs:
            value = obj.data.get(attr)
            parent = value if isinstance(value, InventoryObject) else None
            if isinstance(value, LazyRef) and value.collection == self.name and not value.key:
                parent = self.p.resolver.find_object(self.name, value.ref)
            if parent is not None and id(parent) not in seen and parent is not obj:
                best = max(best, 1 + self(parent, seen | {id(obj)}))
        self.memo[id(obj)] = best
        return best


def save_links(p: Persister, name: str) -> None:
    """Many-to-many: add missing join rows and remove stale ones of the saved objects."""
    cdef, saved, rep = p.catalogue.collections[name], p.saved[name], p.report.of(name)
    datas = [*map(_DATA, map(_OBJ, saved.items)), *map(_DATA, saved.kept.objs)]
    pairs: list[tuple[InventoryObject, int]] | None = None
    for attr, m2m in cdef.many_to_many.items():
        join = p.db.metadata.tables.get(m2m.join_table)
        if join is None:
            raise MappingError(
                f"{name}.{attr}: join table {m2m.join_table!r} is not in the metadata"
            )
        wanted: dict[int, set[int]] = {}
        setting = list(map(methodcaller("__contains__", attr), datas))  # in C
        if not any(setting):
            continue  # no object sets the attribute: its links stay as they are
        pairs = saved.objects() if pairs is None else pairs  # in ``datas`` order
        for obj, row_id in compress(pairs, setting):
            refs = obj.data.get(attr)
            if refs is None:
                continue
            if not isinstance(refs, list | tuple):
                raise MappingError(
                    f"{name}[{ref_text(obj.ref)}].{attr}: a many-to-many"
                    " attribute needs a list of references"
                )
            ids = wanted.setdefault(row_id, set())
            for ref in refs:
                found = p.resolver.ref_id(ref)[0] if isinstance(ref, REF_TYPES) else ref
                if found is None:
                    rep.unresolved += 1
                else:
                    ids.add(found)
        if not wanted:
            continue
        owned = join.c[m2m.own_column].in_(sa.select(p.db.table(name).c.id).where(p.db.scope(name)))
        have = p.db.join_pairs(name, join, m2m.own_column, m2m.other_column, owned)
        want = {(a, b) for a, others in wanted.items() for b in others}
        add = sorted(want - have)
        remove = sorted(p for p in have - want if p[0] in wanted)
        p.db.join_write(name, join, m2m.own_column, m2m.other_column, add, remove)
        rep.links_added += len(add)
        rep.links_removed += len(remove)


def parent_columns(catalogue: Catalogue, name: str) -> tuple[str, ...]:
    """The parent FK (and type) columns an owner-less collection is swept by."""
    if catalogue.collections[name].owner != "none":
        return ()
    rdef = parent_reference(catalogue, name)
    return tuple(c for c in (rdef.column, rdef.type_column) if c) if rdef else ()


def reconnect(
    p: Persister,
    name: str,
    plan: RowPlan,
    new: list[Item],
    pos: dict[str, int],
    updates: dict[frozenset[str], list[dict[str, Any]]],
    ts: tuple[str | None, str | None],
) -> list[Item]:
    """Reattach disconnected rows (owner NULL, same manager_ref, same STI type when both say)
    instead of inserting, as ManageIQ's ``custom_reconnect_block``; return the objects left."""
    table = plan.table
    owner = OWNER_COLUMNS.get(plan.cdef.owner, ())[:1]
    if not owner:
        return new
    where = sa.and_(table.c[owner[0]].is_(None), *p.db.values_clause(name))
    first = plan.key_cols[0]
    rows: list[Any] = []
    if len(new) <= 4 * CHUNK and len(plan.key_cols) == 1:  # few new objects: look them up
        wanted = [i.dbkey[0] for i in new if i.dbkey[0] is not None]
        for start in range(0, len(wanted), CHUNK):
            part = table.c[first].in_(wanted[start : start + CHUNK])
            rows += p.db.select(name, list(pos), sa.and_(where, part))[0]
    else:
        rows = p.db.select(name, list(pos), where)[0]
    if not rows:
        return new
    cands: dict[tuple[Any, ...], list[Any]] = {}
    rows.sort(key=lambda r: r[0])
    for key, r in zip(stored_keys(rows, [pos[c] for c in plan.key_cols]), rows, strict=True):
        cands.setdefault(key, []).append(r)
    type_at = pos.get("type") if plan.cdef.sti else None
    rest: list[Item] = []
    rep = p.report.of(name)
    for item in new:
        found = cands.get(item.dbkey, [])
        want = item.row.get("type")
        pick = next((r for r in found if type_at is None or want is None or r[type_at] == want),
                    None)  # fmt: skip
        if pick is None:
            rest.append(item)
            continue
        found.remove(pick)
        item.id, item.old, item.state = pick[0], pick, "reconnected"
        rep.reconnected += 1
        p.queue_update(name, plan, item, plan.diff(item.row, pick, pos), pos, updates, ts)
    return rest


def sweep(p: Persister) -> None:
    """Delete or disconnect the unseen rows of every complete collection, children first."""
    for name in reversed(p.graph.order):
        cdef = p.catalogue.collections[name]
        if not p.inventory.complete.get(name, True) or cdef.delete == "none":
            continue
        saved = p.saved[name]
        rows = saved.unmatched
        if cdef.owner == "none":
            rows = _within_saved_parents(p, name, rows, saved)
        if not rows:
            continue
        if cdef.delete == "disconnect" and cdef.owner != "none":
            _disconnect(p, name, rows, saved)
        else:
            _delete(p, name, [r[0] for r in rows])


def _within_saved_parents(p: Persister, name: str, rows: list[Any], saved: Saved) -> list[Any]:
    rdef = parent_reference(p.catalogue, name)
    if rdef is None:
        return []
    parents: set[tuple[str | None, int]] = set()
    for target in rdef.collections:
        if target in p.saved:
            model = poly_type(p.catalogue.collections[target]) if rdef.type_column else None
            parents.update((model, i) for i in p.saved[target].ids())
    at = saved.pos[rdef.column]
    type_at = saved.pos[rdef.type_column] if rdef.type_column else None
    return [r for r in rows if (None if type_at is None else r[type_at], r[at]) in parents]


def _delete(p: Persister, name: str, ids: Sequence[int]) -> None:
    """Delete rows and what hangs on them (``cascade``), counting each collection's deletes."""

    def counted(collection: str, count: int) -> None:
        p.report.of(collection).deleted += count

    delete_rows(p.catalogue, p.db, name, ids, counted)


def _disconnect(p: Persister, name: str, rows: list[Any], saved: Saved) -> None:
    """ManageIQ's ``disconnect_inv`` for vms, templates and hosts."""
    cdef, table, pos = p.catalogue.collections[name], saved.plan.table, saved.pos
    owner_col = OWNER_COLUMNS[cdef.owner][0]
    clears = [c for c in DISCONNECT_CLEARS if c in table.c]
    vm_like = "raw_power_state" in table.c and "previous_state" in table.c
    updated = timestamp_columns(cdef.timestamps, table)[1]
    key_at = [pos[c] for c in saved.plan.key_cols]
    updates: dict[frozenset[str], list[dict[str, Any]]] = {}
    for r in rows:
        change: dict[str, Any] = {owner_col: None, **dict.fromkeys(clears)}
        if vm_like:
            old_raw = r[pos["raw_power_state"]]
            if old_raw != UNKNOWN:
                change["raw_power_state"] = UNKNOWN
                change["previous_state"] = old_raw
                if "state_changed_on" in table.c:
                    change["state_changed_on"] = p.stamp(table, "state_changed_on")
            if "power_state" in table.c:
                change["power_state"] = p.power_states(UNKNOWN) if p.power_states else UNKNOWN
        elif "power_state" in table.c:
            change["power_state"] = UNKNOWN
        if updated:
            change[updated] = p.stamp(table, updated)
        p.change(
            name,
            "__".join("" if v is None else v for v in key_of(tuple(r[i] for i in key_at))),
            owner_col,
            r[pos[owner_col]],
            None,
        )
        change["b_id"] = r[0]
        updates.setdefault(frozenset(change), []).append(change)
    p.db.update(name, updates)
    p.report.of(name).disconnected += len(rows)
