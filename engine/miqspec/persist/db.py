"""Database statements for persist: scopes, one-select loads and batched writes.

Takes: a SQLAlchemy connection inside the caller's transaction, the metadata, the catalogue and
the owner ids. Gives: the SQL scope of a collection (owner column and scope values, or through
its parent reference for ``owner: none`` collections), loaded rows, a manager's row ids of a
table read from the owner index alone (``owner_ids``), and batched insert (with
``RETURNING id`` in parameter order), update (grouped by changed columns) and delete (by id, in
chunks of 500) helpers that count written rows and honour ``dry_run`` (no write at all).
Raises: ``DatabaseError`` (one line: collection and DB error class) on any database error,
``MappingError`` when a collection cannot be scoped. Does database I/O.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa

from miqspec.errors import DatabaseError, MappingError
from miqspec.persist.bulk import bind_tuples, fetch, insert_copy, insert_sqlite, sqlite_bulk
from miqspec.persist.graph import SaveGraph, parent_reference
from miqspec.persist.values import (
    EMS_TABLE,
    OWNER_COLUMNS,
    OWNER_TYPE,
    coercer,
    key_columns,
    key_of,
    poly_type,
    secondary_value,
    stored_keys,
)
from miqspec.spec import Catalogue

CHUNK = 500


def chunks(items: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class Db:
    """Statements of one persist run; ``written`` counts rows written (or that would be)."""

    def __init__(
        self,
        conn: sa.Connection,
        metadata: sa.MetaData,
        catalogue: Catalogue,
        owners: Mapping[str, int],
        dry_run: bool,
    ) -> None:
        self.conn = conn
        self.metadata = metadata
        self.catalogue = catalogue
        self.owners = owners
        self.dry_run = dry_run
        self.written = 0
        self._fake_ids = itertools.count(-1, -1)
        self.graph = SaveGraph(order=[])
        self._db_cache: dict[str, dict[tuple[Any, ...], dict[str, Any]]] = {}
        self._sec_cache: dict[tuple[str, str], dict[tuple[Any, ...], tuple[int, str | None]]] = {}
        self._owner_ids: dict[tuple[str, str, int], list[int]] = {}  # ``owner_ids``' reads

    @contextmanager
    def errors(self, name: str) -> Iterator[None]:
        """Turn a database error into a one-line ``DatabaseError`` naming ``name``."""
        dbapi = getattr(self.conn.dialect, "loaded_dbapi", None)
        driver_error: type[Exception] = getattr(dbapi, "Error", sa.exc.SQLAlchemyError)
        try:
            yield
        except (sa.exc.SQLAlchemyError, OverflowError, driver_error) as exc:  # OverflowError:
            # sqlite3's int out of range; driver errors: COPY and cursor reads (persist_bulk)
            orig = getattr(exc, "orig", None) or exc
            text = (str(orig).strip().splitlines() or [""])[0][:200]
            raise DatabaseError(
                f"database error saving {name}: {type(orig).__name__}: {text}"
            ) from exc

    def table(self, name: str) -> sa.Table:
        cdef = self.catalogue.collections[name]
        table = self.metadata.tables.get(cdef.table)
        if table is None:
            raise DatabaseError(
                f"database error saving {name}: table {cdef.table!r} is not in the metadata"
            )
        return table

    def has_table(self, name: str) -> bool:
        cdef = self.catalogue.get(name)
        return cdef is not None and cdef.table in self.metadata.tables

    def scopable(self, name: str, seen: frozenset[str] = frozenset()) -> bool:
        """True when rows of ``name`` can be scoped (its owner, or a parent's, is known)."""
        cdef = self.catalogue.get(name)
        if cdef is None or not self.has_table(name) or name in seen:
            return False
        if cdef.owner != "none" or cdef.table == EMS_TABLE:
            return name in self.owners
        rdef = parent_reference(self.catalogue, name)
        return rdef is not None and any(self.scopable(c, seen | {name}) for c in rdef.collections)

    def values_clause(self, name: str) -> list[sa.ColumnElement[bool]]:
        """The conditions of a collection's ``scope`` values (``template`` for vms)."""
        table = self.table(name)
        out: list[sa.ColumnElement[bool]] = []
        for col, value in self.catalogue.collections[name].scope.items():
            if col not in table.c:
                raise MappingError(f"{name}: scope column {col!r} missing from {table.name!r}")
            column = table.c[col]
            out.append(column.is_(None) if value is None else column == coercer(column)[1](value))
        return out

    def scope(self, name: str, keyed: bool = False) -> sa.ColumnElement[bool]:
        """Rows of ``name`` owned by this refresh's manager(s). ``keyed``: the query also looks
        rows up by another indexed column, which should lead: the owner id is compared as an
        expression (``ems_id + 0``), which SQLite's planner does not take an index for (without
        statistics it prefers an equality on the owner index to an ``IN`` list on another)."""
        cdef = self.catalogue.collections[name]
        table = self.table(name)
        conds = self.values_clause(name)
        if cdef.table == EMS_TABLE:  # the provider row itself (ManageIQ's custom save block)
            return sa.and_(table.c.id == self.owners[name], *conds)
        if cdef.owner != "none":
            if name not in self.owners:
                raise MappingError(f"no owning manager given for collection {name!r}")
            owner_cols = OWNER_COLUMNS[cdef.owner]
            owner: Any = table.c[owner_cols[0]]
            conds.append((owner + 0 if keyed else owner) == self.owners[name])
            if len(owner_cols) > 1:
                conds.append(table.c[owner_cols[1]] == OWNER_TYPE)
            return sa.and_(*conds)
        rdef = parent_reference(self.catalogue, name)
        parents: list[sa.ColumnElement[bool]] = []
        for target in rdef.collections if rdef else ():
            if rdef is None or target == name or not self.scopable(target):
                continue
            ids = sa.select(self.table(target).c.id).where(self.scope(target))
            cond: sa.ColumnElement[bool] = table.c[rdef.column].in_(ids)
            if rdef.type_column:
                model = poly_type(self.catalogue.collections[target])
                cond = sa.and_(cond, table.c[rdef.type_column] == model)
            parents.append(cond)
        if not parents:
            raise MappingError(
                f"collection {name!r} has owner none and no parent collection whose owner is known"
            )
        return sa.and_(sa.or_(*parents), *conds)

    def select(
        self, name: str, cols: Iterable[str], where: sa.ColumnElement[bool]
    ) -> tuple[list[Any], dict[str, int]]:
        """Rows of ``name``'s table (only ``cols``) and the position of each column."""
        table = self.table(name)
        cols = list(dict.fromkeys(cols))
        columns = [table.c[c] for c in cols]
        with self.errors(name):
            rows = fetch(self.conn, sa.select(*columns).where(where), columns)
        return rows, {c: i for i, c in enumerate(cols)}

    def owner_ids(self, name: str, leave: set[int] | frozenset[int] = frozenset()) -> list[int]:
        """The ids of the rows in ``name``'s scope, or more: for a collection owned by a
        manager, every row of that manager in the table (one read of the owner index, not of
        the rows: the scope's values are not checked; read once per table and manager, as the
        collections of a table write rows of their own scope only) less the ids in ``leave``."""
        cdef = self.catalogue.collections[name]
        owner_cols = OWNER_COLUMNS.get(cdef.owner)
        if not cdef.scope or owner_cols is None or name not in self.owners:
            ids = [r[0] for r in self.select(name, ["id"], self.scope(name))[0]]
        else:
            table = self.table(name)
            key = (table.name, cdef.owner, self.owners[name])
            cached = self._owner_ids.get(key)
            if cached is None:
                where = [table.c[owner_cols[0]] == self.owners[name]]
                if len(owner_cols) > 1:
                    where.append(table.c[owner_cols[1]] == OWNER_TYPE)
                rows, _ = self.select(name, ["id"], sa.and_(*where))
                cached = self._owner_ids[key] = [r[0] for r in rows]
            ids = cached
        return list(itertools.filterfalse(leave.__contains__, ids)) if leave else list(ids)

    def select_ids(
        self,
        name: str,
        cols: Iterable[str],
        where: sa.ColumnElement[bool],
        ids: Sequence[int],
        everything: int,
    ) -> tuple[list[Any], dict[str, int]]:
        """``select`` of the rows with ``ids`` only (``everything``: how many are in scope):
        by id in chunks when they are few, else all of the scope, filtered."""
        cols = list(dict.fromkeys(cols))
        if len(ids) * 4 >= everything:
            rows, pos = self.select(name, cols, where)
            if len(ids) < everything:
                wanted = set(ids)
                rows = [r for r in rows if r[0] in wanted]
            return rows, pos
        table = self.table(name)
        found: list[Any] = []
        pos = {c: i for i, c in enumerate(cols)}
        for part in chunks(sorted(ids)):
            found += self.select(name, cols, sa.and_(where, table.c.id.in_(part)))[0]
        return found, pos

    def insert(
        self,
        name: str,
        rows: list[dict[str, Any]],
        keys: Sequence[tuple[Any, ...]],
        key_cols: Sequence[str],
        extra: Mapping[str, Any] | None = None,
    ) -> list[int]:
        """Insert rows (all with the same columns, plus the values of ``extra`` in every row,
        overriding theirs); return their ids in the same order.

        PostgreSQL: ``COPY`` with ids taken from the sequence (``persist_bulk.insert_copy``),
        else ``INSERT ... RETURNING id`` batched in parameter order. SQLite would run that one
        row at a time, so there: one executemany; the ids are ``max(id)+1 ...`` when SQLite
        numbered them so, else one select of the new ids by manager_ref key (``keys[i]`` is row
        i's identity key; the refresh lock makes it unique).
        """
        if not rows:
            return []
        self.written += len(rows)
        if self.dry_run:
            return [next(self._fake_ids) for _ in rows]
        table = self.table(name)
        with self.errors(name):
            extra = extra or {}
            cols = [c for c in rows[0] if c not in extra] + list(extra)
            defaults = any(c.default is not None and c.name not in cols for c in table.c)
            if not defaults and not self.raw:
                copied = insert_copy(self.conn, table, cols, rows, extra)
                if copied is not None:
                    return copied
            if not self.raw or defaults:
                stmt = table.insert().returning(table.c.id, sort_by_parameter_order=True)
                merged = [{**r, **extra} for r in rows] if extra else list(rows)
                return list(self.conn.execute(stmt, merged).scalars())
            before = self.conn.execute(sa.select(sa.func.max(table.c.id))).scalar() or 0
            with sqlite_bulk(self.conn, table, len(rows)):
                numbered = insert_sqlite(self.conn, table, cols, rows, extra)
            if numbered is not None:
                return numbered
        got, pos = self.select(
            name, ["id", *key_cols], sa.and_(table.c.id > before, self.scope(name))
        )
        by_key = dict(
            zip(stored_keys(got, [pos[c] for c in key_cols]), (r[0] for r in got), strict=True)
        )
        ids = [by_key.get(k) for k in keys]
        if None in ids:
            raise DatabaseError(f"database error saving {name}: inserted rows not found again")
        return ids  # type: ignore[return-value]

    def update(self, name: str, groups: Mapping[frozenset[str], list[dict[str, Any]]]) -> None:
        """Executemany ``UPDATE ... WHERE id = :b_id``, one statement per set of columns."""
        table = self.table(name)
        stmt = table.update().where(table.c.id == sa.bindparam("b_id"))
        quote = self.conn.dialect.identifier_preparer.quote
        for params in groups.values():
            self.written += len(params)
            if self.dry_run:
                continue
            with self.errors(name):
                if not self.raw:
                    for part in chunks(params, 5000):
                        self.conn.execute(stmt, list(part))
                    continue
                cols = [c for c in params[0] if c != "b_id"]
                sql = (
                    f"UPDATE {quote(table.name)} SET "
                    f"{', '.join(f'{quote(c)} = ?' for c in cols)} WHERE {quote('id')} = ?"
                )
                self.conn.exec_driver_sql(
                    sql,
                    bind_tuples(self.conn, table, [*cols, "b_id"], params),
                )

    @property
    def raw(self) -> bool:
        """Write through the driver's executemany (SQLite: SQLAlchemy's per-row work dominates)."""
        dialect = self.conn.dialect
        return dialect.name == "sqlite" and dialect.paramstyle == "qmark"

    def delete_ids(self, name: str, table: sa.Table, ids: Sequence[int]) -> None:
        self.written += len(ids)
        if self.dry_run or not ids:
            return
        with self.errors(name):
            for part in chunks(ids):
                self.conn.execute(table.delete().where(table.c.id.in_(part)))

    def ids_where(
        self,
        name: str,
        table: sa.Table,
        col: str,
        values: Sequence[int],
        extra: sa.ColumnElement[bool] | None = None,
    ) -> list[int]:
        """Ids of rows whose ``col`` is one of ``values`` (chunked selects)."""
        found: list[int] = []
        with self.errors(name):
            for part in chunks(values):
                stmt = sa.select(table.c.id).where(table.c[col].in_(part))
                if extra is not None:
                    stmt = stmt.where(extra)
                found.extend(self.conn.execute(stmt).scalars())
        return found

    def join_pairs(
        self, name: str, join: sa.Table, own: str, other: str, owned: sa.ColumnElement[bool]
    ) -> set[tuple[int, int]]:
        with self.errors(name):
            rows = self.conn.execute(sa.select(join.c[own], join.c[other]).where(owned))
            return {(a, b) for a, b in rows}

    def join_write(
        self,
        name: str,
        join: sa.Table,
        own: str,
        other: str,
        add: list[tuple[int, int]],
        remove: list[tuple[int, int]],
    ) -> None:
        self.written += len(add) + len(remove)
        if self.dry_run:
            return
        with self.errors(name):
            if add:
                for part in chunks(add, 5000):
                    self.conn.execute(join.insert(), [{own: a, other: b} for a, b in part])
            if remove:
                stmt = join.delete().where(
                    join.c[own] == sa.bindparam("b_own"), join.c[other] == sa.bindparam("b_other")
                )
                for part in chunks(remove, 5000):
                    self.conn.execute(stmt, [{"b_own": a, "b_other": b} for a, b in part])

    def join_delete(self, name: str, join: sa.Table, col: str, ids: Sequence[int]) -> int:
        """Delete join rows whose ``col`` is one of ``ids``; return how many went."""
        if self.dry_run or not ids:
            return 0
        count = 0
        with self.errors(name):
            for part in chunks(ids):
                count += self.conn.execute(join.delete().where(join.c[col].in_(part))).rowcount
        self.written += count
        return count

    # -- read-only lookups for the resolver (cached) ------------------------------------------
    def db_rows(self, name: str) -> Mapping[tuple[Any, ...], Mapping[str, Any]]:
        """Rows of a collection in scope by manager_ref key, for lazies into unsaved data."""
        cached = self._db_cache.get(name)
        if cached is not None:
            return cached
        cached = self._db_cache[name] = {}
        cdef = self.catalogue.collections[name]
        if self.scopable(name):
            where = self.scope(name)
        elif cdef.delete == "none" and self.has_table(name):  # read-only lookup, any manager
            where = sa.and_(sa.true(), *self.values_clause(name))
        else:
            return cached
        table = self.table(name)
        keys = key_columns(cdef, table)
        extra: list[str] = []
        for key in self.graph.lazy_keys.get(name, ()):
            rdef = cdef.references.get(key)
            cols = (rdef.column, rdef.type_column) if rdef else (key,)
            extra += [c for c in cols if c and c in table.c]
        rows, pos = self.select(name, ["id", *keys, *extra], where)
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
        cdef = self.catalogue.collections[name]
        if not self.has_table(name):
            return cached
        table = self.table(name)
        attrs = [cdef.references[a].column if a in cdef.references else a
                 for a in cdef.secondary_refs[ref]]  # fmt: skip
        # prefer rows still connected to a manager (lowest id first)
        owner = OWNER_COLUMNS.get(cdef.owner, ())[:1] or (
            ("ems_id",) if "ems_id" in table.c else ()
        )
        values = sorted(self.graph.secondary.get((name, ref), ()), key=repr)
        if cdef.delete != "none" and self.scopable(name):
            where = self.scope(name, keyed=True)  # the secondary ref's index leads
        else:
            where = sa.and_(sa.true(), *self.values_clause(name))
        cols = ["id", *attrs, *owner]
        found: list[Any] = []
        col = table.c[attrs[0]] if len(attrs) == 1 else sa.tuple_(*(table.c[a] for a in attrs))
        for start in range(0, len(values), 500):
            part = values[start : start + 500]
            wanted = [v[0] for v in part] if len(attrs) == 1 else part
            rows, _ = self.select(name, cols, sa.and_(where, col.in_(wanted)))
            found += rows
        connected = len(owner) > 0
        for r in sorted(found, key=lambda r: (connected and r[-1] is None, r[0])):
            key = tuple(secondary_value(r[i + 1]) for i in range(len(attrs)))
            cached.setdefault(key, (r[0], poly_type(cdef)))
        return cached
