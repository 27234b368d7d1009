"""Read-only lookups for the resolver: stored rows that lazies into unsaved data point at.

Takes: a persist ``Db`` and the run's ``SaveGraph`` (the ``key`` attributes and secondary-ref
values each collection is looked up by).
Gives: ``Lookups``: ``db_rows(name)`` (a collection's rows in scope by manager_ref key, with
the columns ``key`` lazies read; a lookup-only collection's rows of any manager) and
``secondary_rows(name, ref)`` (rows found by a secondary ref, e.g. ``cross_link_vms`` by
``uid_ems``, rows still connected to a manager first), each read once per run.
Raises: ``DatabaseError`` (through ``Db``). Does database I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from miqspec.persist.db import CHUNK, Db
from miqspec.persist.graph import SaveGraph
from miqspec.persist.values import OWNER_COLUMNS, key_columns, key_of, poly_type, secondary_value


class Lookups:
    """Stored rows the resolver looks references up in (cached per run)."""

    def __init__(self, db: Db, graph: SaveGraph) -> None:
        self.db, self.graph = db, graph
        self._db_cache: dict[str, dict[tuple[Any, ...], dict[str, Any]]] = {}
        self._sec_cache: dict[tuple[str, str], dict[tuple[Any, ...], tuple[int, str | None]]] = {}

    def db_rows(self, name: str) -> Mapping[tuple[Any, ...], Mapping[str, Any]]:
        """Rows of a collection in scope by manager_ref key, for lazies into unsaved data."""
        cached = self._db_cache.get(name)
        if cached is not None:
            return cached
        cached = self._db_cache[name] = {}
        cdef = self.db.catalogue.collections[name]
        if self.db.scopable(name):
            where = self.db.scope(name)
        elif cdef.delete == "none" and self.db.has_table(name):  # read-only lookup, any manager
            where = sa.and_(sa.true(), *self.db.values_clause(name))
        else:
            return cached
        table = self.db.table(name)
        keys = key_columns(cdef, table)
        extra: list[str] = ["type"] if "type" in table.c else []  # ``type_value: class``
        for key in self.graph.lazy_keys.get(name, ()):
            rdef = cdef.references.get(key)
            cols = (rdef.column, rdef.type_column) if rdef else (key,)
            extra += [c for c in cols if c and c in table.c]
        rows, pos = self.db.select(name, ["id", *keys, *extra], where)
        idx = [pos[c] for c in keys]
        for r in sorted(rows, key=lambda r: r[0], reverse=True):
            cached[key_of(tuple(r[i] for i in idx))] = {c: r[i] for c, i in pos.items()}
        return cached

    def secondary_rows(
        self, name: str, ref: str
    ) -> Mapping[tuple[Any, ...], tuple[int, str | None]]:
        """Rows found by a secondary ref (e.g. ``cross_link_vms`` by ``uid_ems``)."""
        cached = self._sec_cache.get((name, ref))
        if cached is not None:
            return cached
        cached = self._sec_cache[(name, ref)] = {}
        cdef = self.db.catalogue.collections[name]
        if not self.db.has_table(name):
            return cached
        table = self.db.table(name)
        attrs = [cdef.references[a].column if a in cdef.references else a
                 for a in cdef.secondary_refs[ref]]  # fmt: skip
        # prefer rows still connected to a manager (lowest id first)
        owner = OWNER_COLUMNS.get(cdef.owner, ())[:1] or (
            ("ems_id",) if "ems_id" in table.c else ()
        )
        values = sorted(self.graph.secondary.get((name, ref), ()), key=repr)
        if cdef.delete != "none" and self.db.scopable(name):
            where = self.db.scope(name, keyed=True)  # the secondary ref's index leads
        else:
            where = sa.and_(sa.true(), *self.db.values_clause(name))
        cols = ["id", *attrs, *owner]
        found: list[Any] = []
        col = table.c[attrs[0]] if len(attrs) == 1 else sa.tuple_(*(table.c[a] for a in attrs))
        for start in range(0, len(values), CHUNK):
            part = values[start : start + CHUNK]
            wanted = [v[0] for v in part] if len(attrs) == 1 else part
            rows, _ = self.db.select(name, cols, sa.and_(where, col.in_(wanted)))
            found += rows
        connected = len(owner) > 0
        for r in sorted(found, key=lambda r: (connected and r[-1] is None, r[0])):
            key = tuple(secondary_value(r[i + 1]) for i in range(len(attrs)))
            cached.setdefault(key, (r[0], poly_type(cdef)))
        return cached
