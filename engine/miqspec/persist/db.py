"""Database statements for persist: scopes, one-select loads and batched writes.

Takes: a SQLAlchemy connection inside the caller's transaction, the metadata, the catalogue,
the owner ids and optionally the driver's bulk writes (``persist.driver``: a fast path).
Gives: ``Db``: the SQL scope of a collection (owner column and scope values, or through its
parent reference for ``owner: none`` collections), loaded rows, a manager's row ids of a table
read from the owner index alone (``owner_ids``), and batched insert (``RETURNING id`` in
parameter order, or the driver's), update (grouped by changed columns) and delete (by id, in
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
from miqspec.persist.bulk import fetch
from miqspec.persist.driver import DriverWrites
from miqspec.persist.graph import parent_reference
from miqspec.persist.values import (
    EMS_TABLE,
    OWNER_COLUMNS,
    OWNER_TYPE,
    coercer,
    poly_type,
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
        driver: DriverWrites | None = None,
    ) -> None:
        self.conn = conn
        self.metadata = metadata
        self.catalogue = catalogue
        self.owners = owners
        self.dry_run = dry_run
        self.written = 0
        self.driver = driver
        self._fake_ids = itertools.count(-1, -1)
        self._owner_ids: dict[tuple[str, str, int], list[int]] = {}  # ``owner_ids``' reads

    @contextmanager
    def session(self) -> Iterator[None]:
        """The run's statements: inside the driver's session when it writes."""
        if self.driver is None:
            yield
            return
        with self.driver.session(self.conn):
            yield

    @contextmanager
    def errors(self, name: str) -> Iterator[None]:
        """Turn a database error into a one-line ``DatabaseError`` naming ``name``."""
        dbapi = getattr(self.conn.dialect, "loaded_dbapi", None)
        driver_error: type[Exception] = getattr(dbapi, "Error", sa.exc.SQLAlchemyError)
        try:
            yield
        except (sa.exc.SQLAlchemyError, OverflowError, driver_error) as exc:  # OverflowError:
            # sqlite3's int out of range; driver errors: COPY and cursor reads (persist.pgcopy)
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
        """The conditions of a collection's ``scope`` values (``template`` for vms); rows not
        archived (``deleted_on`` NULL) for a collection that archives."""
        table = self.table(name)
        cdef = self.catalogue.collections[name]
        out: list[sa.ColumnElement[bool]] = []
        if cdef.archives and "deleted_on" in table.c:
            out.append(table.c.deleted_on.is_(None))
        for col, value in cdef.scope.items():
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
        overriding theirs); return their ids in the same order: through ``driver`` where it
        takes them (``keys[i]`` is row i's identity key: the new rows are found by it when
        SQLite did not number them in order; the refresh lock makes it unique), else
        ``INSERT ... RETURNING id`` batched in parameter order."""
        if not rows:
            return []
        self.written += len(rows)
        if self.dry_run:
            return [next(self._fake_ids) for _ in rows]
        table = self.table(name)
        extra = extra or {}
        with self.errors(name):
            cols = [c for c in rows[0] if c not in extra] + list(extra)
            defaults = any(c.default is not None and c.name not in cols for c in table.c)
            if self.driver is not None and not defaults:

                def find(before: int) -> list[int]:
                    return self._inserted(name, before, keys, key_cols)

                ids = self.driver.insert(self.conn, table, cols, rows, extra, find)
                if ids is not None:
                    return ids
            stmt = table.insert().returning(table.c.id, sort_by_parameter_order=True)
            merged = [{**r, **extra} for r in rows] if extra else list(rows)
            return list(self.conn.execute(stmt, merged).scalars())

    def _inserted(
        self, name: str, before: int, keys: Sequence[tuple[Any, ...]], key_cols: Sequence[str]
    ) -> list[int]:
        """The ids of the rows with identity ``keys`` among those past id ``before``."""
        table = self.table(name)
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
        """Executemany ``UPDATE ... WHERE id = :b_id``, one statement per set of columns
        (through ``driver`` where it takes them)."""
        table = self.table(name)
        stmt = table.update().where(table.c.id == sa.bindparam("b_id"))
        for params in groups.values():
            self.written += len(params)
            if self.dry_run:
                continue
            with self.errors(name):
                if self.driver is not None and self.driver.update(self.conn, table, params):
                    continue
                for part in chunks(params, 5000):
                    self.conn.execute(stmt, list(part))

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
