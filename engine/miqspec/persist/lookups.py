"""Read-only lookups for the resolver: stored rows that lazies into unsaved data point at.

Takes: a persist ``Db`` and the run's ``SaveGraph`` (the ``key`` attributes and secondary-ref
values each collection is looked up by).
Gives: ``Lookups``: ``db_rows(name)`` (a collection's rows in scope by manager_ref key, with
the columns ``key`` lazies read; a lookup-only collection's rows of any manager), ``db_row``
(one of them by its key: in a targeted run, ``point``, that row alone is read, so a lazy
into a collection of 100,000 rows does not read them all; otherwise from ``db_rows``) and
``secondary_rows(name, ref)`` (rows found by a secondary ref, e.g. ``cross_link_vms`` by
``uid_ems``, rows still connected to a manager first), each read once per run.
Raises: ``DatabaseError`` (through ``Db``). Does database I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa

from miqspec.persist.db import CHUNK, Db
from miqspec.persist.graph import SaveGraph
from miqspec.persist.values import (
    OWNER_COLUMNS,
    coercer,
    key_columns,
    key_of,
    poly_type,
    secondary_value,
)

SecondaryHit = tuple[int, str | None, Mapping[str, Any]]  # id, model class, columns read


class Lookups:
    """Stored rows the resolver looks references up in (cached per run)."""

    def __init__(self, db: Db, graph: SaveGraph, *, point: bool = False) -> None:
        self.db, self.graph, self.point = db, graph, point
        self._db_cache: dict[str, dict[tuple[Any, ...], dict[str, Any]]] = {}
        self._point_cache: dict[str, dict[tuple[Any, ...], Mapping[str, Any] | None]] = {}
        self._sec_cache: dict[tuple[str, str], dict[tuple[Any, ...], SecondaryHit]] = {}

    def db_rows(self, name: str) -> Mapping[tuple[Any, ...], Mapping[str, Any]]:
        """Rows of a collection in scope by manager_ref key, for lazies into unsaved data."""
        cached = self._db_cache.get(name)
        if cached is not None:
            return cached
        cached = self._db_cache[name] = {}
        where = self._where(name)
        if where is None:
            return cached
        keys = key_columns(self.db.catalogue.collections[name], self.db.table(name))
        rows, pos = self.db.select(name, ["id", *keys, *self._key_columns(name)], where)
        idx = [pos[c] for c in keys]
        for r in sorted(rows, key=lambda r: r[0], reverse=True):
            cached[key_of(tuple(r[i] for i in idx))] = {c: r[i] for c, i in pos.items()}
        return cached

    def db_row(self, name: str, parts: tuple[Any, ...]) -> Mapping[str, Any] | None:
        """The stored row of ``name`` in scope whose manager_ref columns hold ``parts`` (in
        their columns' form; the lowest id when several do)."""
        key = key_of(parts)
        if not self.point:
            return self.db_rows(name).get(key)
        cache = self._point_cache.setdefault(name, {})
        if key not in cache:
            cache[key] = self._point(name, parts)
        return cache[key]

    def _point(self, name: str, parts: tuple[Any, ...]) -> Mapping[str, Any] | None:
        where = self._where(name)
        if where is None:
            return None
        table = self.db.table(name)
        keys = key_columns(self.db.catalogue.collections[name], table)
        if len(keys) != len(parts):
            return self.db_rows(name).get(key_of(parts))
        match = [table.c[c].is_(None) if v is None else table.c[c] == v
                 for c, v in zip(keys, parts, strict=True)]  # fmt: skip
        rows, pos = self.db.select(
            name, ["id", *keys, *self._key_columns(name)], sa.and_(where, *match)
        )
        hit = min(rows, key=lambda r: r[0], default=None)
        return None if hit is None else {c: hit[i] for c, i in pos.items()}

    def _where(self, name: str) -> sa.ColumnElement[bool] | None:
        """The rows lazies into ``name`` may find (None: none)."""
        if self.db.scopable(name):
            return self.db.scope(name)
        if self.db.catalogue.collections[name].delete == "none" and self.db.has_table(name):
            return sa.and_(sa.true(), *self.db.values_clause(name))  # read-only, any manager
        return None

    def secondary_rows(self, name: str, ref: str) -> Mapping[tuple[Any, ...], SecondaryHit]:
        """Rows found by a secondary ref (e.g. ``cross_link_vms`` by ``uid_ems``): by the
        ref's values in their columns' form (``secondary_value`` of the stored value; a
        reference part by its row id), each with its id, model class and the columns ``key``
        lazies read."""
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
        extra = [c for c in self._key_columns(name) if c not in attrs and c not in owner]
        if cdef.delete != "none" and self.db.scopable(name):
            where = self.db.scope(name, keyed=True)  # the secondary ref's index leads
        else:
            where = sa.and_(sa.true(), *self.db.values_clause(name))
        cols = ["id", *attrs, *extra, *owner]
        found: list[Any] = []
        wanted_values = self.graph.secondary.get((name, ref), ())
        refs = any(a in cdef.references for a in cdef.secondary_refs[ref])
        values = None if refs else _typed(table, attrs, wanted_values)
        if values is None:  # a reference part: compared by row id (resolved later); all in scope
            found, pos = self.db.select(name, cols, where)
        else:
            col = table.c[attrs[0]] if len(attrs) == 1 else sa.tuple_(*(table.c[a] for a in attrs))
            pos = {c: i for i, c in enumerate(dict.fromkeys(cols))}
            for start in range(0, len(values), CHUNK):
                part = values[start : start + CHUNK]
                wanted = [v[0] for v in part] if len(attrs) == 1 else part
                found += self.db.select(name, cols, sa.and_(where, col.in_(wanted)))[0]
        connected = len(owner) > 0
        at = [(pos[a], coercer(table.c[a])[1]) for a in attrs]  # as ``Resolver.secondary_key``
        for r in sorted(found, key=lambda r: (connected and r[-1] is None, r[0])):
            key = tuple(secondary_value(None if r[i] is None else f(r[i])) for i, f in at)
            if key not in cached:
                cached[key] = (r[0], poly_type(cdef), {c: r[i] for c, i in pos.items()})
        return cached

    def _key_columns(self, name: str) -> list[str]:
        """The columns the ``key`` lazies into ``name`` read (a reference: id and type)."""
        cdef, table = self.db.catalogue.collections[name], self.db.table(name)
        out: list[str] = ["type"] if "type" in table.c else []
        for key in self.graph.lazy_keys.get(name, ()):
            rdef = cdef.references.get(key)
            cols = (rdef.column, rdef.type_column) if rdef else (key,)
            out += [c for c in cols if c and c in table.c]
        return out


def _typed(
    table: sa.Table, cols: list[str], values: Iterable[tuple[Any, ...]]
) -> list[tuple[Any, ...]] | None:
    """The looked-up values in their columns' types (those that cannot be: left out), sorted;
    None when one has another number of parts (all rows in scope are read)."""
    convert = [coercer(table.c[c])[1] for c in cols]
    out = set()
    for value in values:
        if len(value) != len(cols):
            return None
        try:
            out.add(tuple(v if v is None else f(v) for f, v in zip(convert, value, strict=True)))
        except (ValueError, TypeError, ArithmeticError):
            continue
    return sorted(out, key=repr)
