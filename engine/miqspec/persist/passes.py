"""persist's passes for rows that come back, and for what waits until every row has an id.

Takes: the run's ``Db``, ``Resolver`` (row ids of the objects saved so far), ``Changes`` and a
collection's report, with one collection's new items (``reconnect``) or its ``Saved`` result
(ids known; stored rows kept).
Gives: ``reconnect`` reattaches a disconnected row with the same manager_ref instead of
inserting; ``save_deferred`` writes the attributes that closed a dependency cycle (update
only, parents before children for ``ancestry`` paths); ``save_links`` adds missing and removes
stale many-to-many join rows of the objects saved in this refresh that set the attribute
(objects without it are left alone); ``parent_columns`` (the columns an owner-less collection
is swept by, loaded with its rows). Rows not seen go in ``persist.sweep``.
Raises: ``DatabaseError``, ``MappingError`` (a many-to-many value that is not a list). Does
database I/O (through ``Db``).
"""

from __future__ import annotations

from itertools import compress
from operator import attrgetter, methodcaller
from typing import Any

import sqlalchemy as sa

from miqspec.errors import MappingError
from miqspec.parse import InventoryObject, LazyRef
from miqspec.persist.changes import Changes, Stamps, Updates
from miqspec.persist.db import CHUNK, Db
from miqspec.persist.graph import parent_reference
from miqspec.persist.items import Item, Saved
from miqspec.persist.report import CollectionReport
from miqspec.persist.rows import Resolver, RowPlan
from miqspec.persist.values import (
    OWNER_COLUMNS,
    REF_TYPES,
    ref_text,
    stored_keys,
    timestamp_columns,
)
from miqspec.spec import Catalogue

_DATA, _OBJ = attrgetter("data"), attrgetter("obj")


def save_deferred(
    db: Db,
    resolver: Resolver,
    changes: Changes,
    rep: CollectionReport,
    name: str,
    saved: Saved,
) -> None:
    """Write the cycle-closing attributes now that every collection has ids."""
    plan, pos = saved.plan, saved.pos
    ts = timestamp_columns(plan.cdef.timestamps, plan.table)
    updates: Updates = {}
    ancestry = [
        r.column
        for a in plan.deferred
        if (r := plan.cdef.references.get(a)) is not None and r.kind == "ancestry"
    ]
    items = saved.items
    if ancestry:  # parents before children: a child's path includes its parent's
        depth = _Depth(resolver, name, [a for a in plan.deferred if a in plan.cdef.references])
        items = sorted(items, key=lambda i: depth(i.obj))
    for item in items:
        row = plan.build_deferred(item.obj)
        for col in ancestry:
            if col in row:
                resolver.ancestry[(plan.table.name, item.id)] = row[col]
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
            changed[ts[1]] = changes.stamp(plan.table, ts[1])
        changed["b_id"] = item.id
        updates.setdefault(frozenset(changed), []).append(changed)
    rep.unresolved += plan.unresolved
    plan.unresolved = 0
    db.update(name, updates)


class _Depth:
    """How many in-memory ancestors an object has through its self-references."""

    def __init__(self, resolver: Resolver, name: str, attrs: list[str]) -> None:
        self.resolver, self.name, self.attrs = resolver, name, attrs
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
                parent = self.resolver.find_object(self.name, value.ref)
            if parent is not None and id(parent) not in seen and parent is not obj:
                best = max(best, 1 + self(parent, seen | {id(obj)}))
        self.memo[id(obj)] = best
        return best


def save_links(db: Db, resolver: Resolver, rep: CollectionReport, name: str, saved: Saved) -> None:
    """Many-to-many: add missing join rows and remove stale ones of the saved objects."""
    cdef = saved.plan.cdef
    datas = [*map(_DATA, map(_OBJ, saved.items)), *map(_DATA, saved.kept.objs)]
    pairs: list[tuple[InventoryObject, int]] | None = None
    for attr, m2m in cdef.many_to_many.items():
        join = db.metadata.tables.get(m2m.join_table)
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
                found = resolver.ref_id(ref)[0] if isinstance(ref, REF_TYPES) else ref
                if found is None:
                    rep.unresolved += 1
                else:
                    ids.add(found)
        if not wanted:
            continue
        owned = join.c[m2m.own_column].in_(sa.select(db.table(name).c.id).where(db.scope(name)))
        have = db.join_pairs(name, join, m2m.own_column, m2m.other_column, owned)
        want = {(a, b) for a, others in wanted.items() for b in others}
        add = sorted(want - have)
        remove = sorted(pair for pair in have - want if pair[0] in wanted)
        db.join_write(name, join, m2m.own_column, m2m.other_column, add, remove)
        rep.links_added += len(add)
        rep.links_removed += len(remove)


def parent_columns(catalogue: Catalogue, name: str) -> tuple[str, ...]:
    """The parent FK (and type) columns an owner-less collection is swept by."""
    if catalogue.collections[name].owner != "none":
        return ()
    rdef = parent_reference(catalogue, name)
    return tuple(c for c in (rdef.column, rdef.type_column) if c) if rdef else ()


def reconnect(
    db: Db,
    changes: Changes,
    rep: CollectionReport,
    name: str,
    plan: RowPlan,
    new: list[Item],
    pos: dict[str, int],
    updates: Updates,
    ts: Stamps,
) -> list[Item]:
    """Reattach disconnected rows (owner NULL, same manager_ref, same STI type when both say)
    instead of inserting, as ManageIQ's ``custom_reconnect_block``; return the objects left."""
    table = plan.table
    owner = OWNER_COLUMNS.get(plan.cdef.owner, ())[:1]
    if not owner:
        return new
    where = sa.and_(table.c[owner[0]].is_(None), *db.values_clause(name))
    first = plan.key_cols[0]
    rows: list[Any] = []
    if len(new) <= 4 * CHUNK and len(plan.key_cols) == 1:  # few new objects: look them up
        wanted = [i.dbkey[0] for i in new if i.dbkey[0] is not None]
        for start in range(0, len(wanted), CHUNK):
            part = table.c[first].in_(wanted[start : start + CHUNK])
            rows += db.select(name, list(pos), sa.and_(where, part))[0]
    else:
        rows = db.select(name, list(pos), where)[0]
    if not rows:
        return new
    cands: dict[tuple[Any, ...], list[Any]] = {}
    rows.sort(key=lambda r: r[0])
    for key, r in zip(stored_keys(rows, [pos[c] for c in plan.key_cols]), rows, strict=True):
        cands.setdefault(key, []).append(r)
    type_at = pos.get("type") if plan.cdef.sti else None
    rest: list[Item] = []
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
        changes.queue_update(name, plan, item, plan.diff(item.row, pick, pos), pos, updates, ts)
    return rest
