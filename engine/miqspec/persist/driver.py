"""Writes through the database driver: the fast path of ``Db``'s inserts and updates.

Takes: a SQLAlchemy connection inside the caller's transaction, a table, its columns and rows.
Gives: ``DriverWrites``: ``session`` (SQLite: a larger page cache while a refresh writes,
``persist.bulk.sqlite_cache``), ``insert`` (PostgreSQL: ``COPY``, ``persist.pgcopy``; SQLite:
statements of many rows through the driver's ``executemany``, a large load into a small table
with its plain indexes built again after, ``persist.bulk``) and ``update`` (SQLite: the
driver's ``executemany``); each says when it did nothing, and ``Db`` then writes with
SQLAlchemy's statements (which give the same rows: tests/persist/test_persist_paths.py).
Raises: the driver's and SQLAlchemy's errors unchanged (``Db.errors`` turns them into
``DatabaseError``). Does database I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa

from miqspec.persist.bulk import bind_tuples, insert_sqlite, sqlite_bulk, sqlite_cache
from miqspec.persist.pgcopy import insert_copy


def sqlite_driver(conn: sa.Connection) -> bool:
    """True for SQLite through pysqlite (SQLAlchemy's per-row work dominates its writes)."""
    dialect = conn.dialect
    return dialect.name == "sqlite" and dialect.paramstyle == "qmark"


class DriverWrites:
    """Bulk writes through the driver (see the module docstring)."""

    @contextmanager
    def session(self, conn: sa.Connection) -> Iterator[None]:
        with sqlite_cache(conn):
            yield

    def insert(
        self,
        conn: sa.Connection,
        table: sa.Table,
        cols: Sequence[str],
        rows: Sequence[Mapping[str, Any]],
        extra: Mapping[str, Any],
        find: Callable[[int], list[int]],
    ) -> list[int] | None:
        """Insert ``rows`` (``extra``'s columns last in ``cols``); their ids in row order, or
        None: nothing done. SQLite numbers new rows ``max(id)+1 ...``; when it did not,
        ``find(max_id_before)`` gives the ids."""
        if not sqlite_driver(conn):
            return insert_copy(conn, table, cols, rows, extra)
        before = conn.execute(sa.select(sa.func.max(table.c.id))).scalar() or 0
        with sqlite_bulk(conn, table, len(rows)):
            numbered = insert_sqlite(conn, table, cols, rows, extra)
        return numbered if numbered is not None else find(before)

    def update(
        self, conn: sa.Connection, table: sa.Table, params: Sequence[Mapping[str, Any]]
    ) -> bool:
        """``UPDATE ... WHERE id = ?`` of ``params`` (the same columns each, the row id as
        ``b_id``); False: nothing done."""
        if not sqlite_driver(conn):
            return False
        quote = conn.dialect.identifier_preparer.quote
        cols = [c for c in params[0] if c != "b_id"]
        sql = (
            f"UPDATE {quote(table.name)} SET "
            f"{', '.join(f'{quote(c)} = ?' for c in cols)} WHERE {quote('id')} = ?"
        )
        conn.exec_driver_sql(sql, bind_tuples(conn, table, [*cols, "b_id"], params))
        return True
