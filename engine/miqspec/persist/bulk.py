"""Driver-level bulk reads and inserts for persist, where SQLAlchemy's per-row work dominates.

Takes: a SQLAlchemy connection inside the caller's transaction, a table, a statement or rows.
Gives: ``sqlite_cache`` (a larger page cache while a refresh writes), ``sqlite_bulk`` (a large
insert into a small SQLite table: its plain indexes dropped before and built again after,
inside the caller's transaction), ``fetch`` (a select's rows as plain tuples, each column
through its type's result processor: no ``Row`` objects), ``bind_tuples`` (rows as driver
parameters, each column through ``bind_processor``), ``insert_sqlite`` (``executemany`` of
statements of ``MULTI_ROWS`` rows each, columns with one value in every row written as literals
(``constant_columns``, ``sqlite_literal``); the new ids when SQLite numbered them in order,
else None); PostgreSQL's ``COPY`` is ``persist.pgcopy``'s.
Raises: the driver's and SQLAlchemy's errors unchanged (``Db.errors`` turns them into
``DatabaseError``). Does database I/O.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from itertools import chain
from operator import itemgetter
from typing import Any

import sqlalchemy as sa

SQLITE_CACHE_KIB = 65536  # 64 MiB: the indexes of 100,000s of rows stay in memory while written
BULK_ROWS = 5000  # from this many new rows (and at least as many as the table holds): sqlite_bulk
MULTI_ROWS = 100  # rows per SQLite INSERT statement (``VALUES (...), (...), ...``)
SQLITE_VARIABLES = 999  # parameters per statement any SQLite build takes (3.32+: 32766)


@contextmanager
def sqlite_cache(conn: sa.Connection) -> Iterator[None]:
    """SQLite: a page cache of ``SQLITE_CACHE_KIB`` inside the block, the previous one after."""
    if conn.dialect.name != "sqlite":
        yield
        return
    before = conn.exec_driver_sql("PRAGMA cache_size").scalar()
    conn.exec_driver_sql(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}")
    try:
        yield
    finally:
        conn.exec_driver_sql(f"PRAGMA cache_size = {int(before or -2000)}")


@contextmanager
def sqlite_bulk(conn: sa.Connection, table: sa.Table, new_rows: int) -> Iterator[None]:
    """SQLite, ``new_rows`` >= ``BULK_ROWS`` and at least the rows ``table`` holds: its plain
    (non-unique) indexes are dropped inside the block and created again from their own DDL
    after it, which sorts each index once instead of inserting into it row by row (a third of
    the time for 100,000 rows). Inside the caller's transaction: a rollback restores them.
    Elsewhere: nothing."""
    if conn.dialect.name != "sqlite" or new_rows < BULK_ROWS or not conn.in_transaction():
        yield
        return
    held = conn.execute(sa.select(sa.func.count()).select_from(table)).scalar() or 0
    ddl = conn.exec_driver_sql(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? "
        "AND sql IS NOT NULL AND sql NOT LIKE 'CREATE UNIQUE%'",
        (table.name,),
    ).all()
    if held > new_rows or not ddl:
        yield
        return
    raw = conn.connection.driver_connection
    if raw is not None and not raw.in_transaction:  # pysqlite begins only before DML:
        conn.exec_driver_sql("BEGIN")  # the DDL below must not run in autocommit
    quote = conn.dialect.identifier_preparer.quote
    for name, _ in ddl:
        conn.exec_driver_sql(f"DROP INDEX {quote(name)}")
    yield
    for _, sql in ddl:
        conn.exec_driver_sql(sql)


def fetch(
    conn: sa.Connection, stmt: sa.Select[Any], columns: Sequence[sa.Column[Any]]
) -> list[tuple[Any, ...]]:
    """The rows of ``stmt`` (which selects ``columns``) as tuples of Python values."""
    result = conn.execute(stmt)
    try:
        cursor = result.cursor
        assert cursor is not None
        desc = cursor.description
        rows: list[tuple[Any, ...]] = list(cursor.fetchall())
    finally:
        result.close()
    dialect = conn.dialect
    procs = []
    for i, col in enumerate(columns):
        proc = col.type.dialect_impl(dialect).result_processor(dialect, desc[i][1])
        if proc is not None:
            procs.append((i, proc))
    if not procs or not rows:
        return rows
    cols = [list(c) for c in zip(*rows, strict=True)]
    for i, proc in procs:
        cols[i] = [None if v is None else proc(v) for v in cols[i]]
    return list(zip(*cols, strict=True))


def bind_processor(conn: sa.Connection, column: sa.Column[Any]) -> Any:
    """What turns a value of ``column`` into its driver parameter (None: nothing; booleans go
    as they are: the drivers store them as the processor would)."""
    dialect = conn.dialect
    proc = column.type.dialect_impl(dialect).bind_processor(dialect)
    return None if isinstance(column.type, sa.Boolean) else proc


def bind_tuples(
    conn: sa.Connection,
    table: sa.Table,
    cols: Sequence[str],
    rows: Sequence[Mapping[str, Any]],
    extra: Mapping[str, Any] | None = None,
) -> list[tuple[Any, ...]]:
    """Rows as driver parameters: each column through its type's bind processor (booleans go
    as they are: the drivers store them as the processor would), once per distinct value
    object (timestamps are one object for a whole refresh). ``b_id`` is ``id``; a column of
    ``extra`` has that value in every row (``extra`` columns come last in ``cols``)."""
    extra = extra or {}
    procs: dict[str, Any] = {}
    for col in cols:
        proc = bind_processor(conn, table.c[col if col != "b_id" else "id"])
        if proc is not None:
            procs[col] = proc
    own = [c for c in cols if c not in extra]
    const = tuple(
        None if (v := extra[c]) is None else procs[c](v) if c in procs else v
        for c in cols[len(own) :]
    )
    if own and list(cols[: len(own)]) == own and not any(c in procs for c in own):
        getter = itemgetter(*own)  # whole rows in C: no column needs converting
        tuples = [(getter(r),) for r in rows] if len(own) == 1 else list(map(getter, rows))
        return [t + const for t in tuples] if const else tuples
    columns: list[list[Any]] = []
    for col in cols:
        if col in extra:
            value = extra[col]
            proc = procs.get(col)
            columns.append([value if value is None or proc is None else proc(value)] * len(rows))
            continue
        values = [r[col] for r in rows]
        proc = procs.get(col)
        if proc is not None:
            done: dict[int, Any] = {}
            values = [
                v
                if v is None
                else done[id(v)]
                if id(v) in done
                else done.setdefault(id(v), proc(v))
                for v in values
            ]
        columns.append(values)
    return list(zip(*columns, strict=True))


def sqlite_literal(value: Any) -> str | None:
    """``value`` as an SQLite literal that stores what binding it would (None: it has none
    here): NULL, booleans and 64-bit integers as numbers, text without NUL as a quoted string."""
    kind = type(value)
    if value is None:
        return "NULL"
    if kind is bool:
        return "1" if value else "0"
    if kind is int and -(2**63) <= value < 2**63:
        return str(value)
    if kind is str and "\x00" not in value:
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate: binding decides
            return None
        return "'" + value.replace("'", "''") + "'"
    return None


def constant_columns(
    conn: sa.Connection,
    table: sa.Table,
    cols: Sequence[str],
    rows: Sequence[Mapping[str, Any]],
    extra: Mapping[str, Any],
) -> dict[str, str]:
    """The columns every row gives one value (``extra``'s, and a row column whose value, of
    one type, is the same in all rows), with that value as it would be bound, as an SQLite
    literal; columns without a literal stay bound."""
    out: dict[str, str] = {}
    n = len(rows)
    for col in cols:
        if col in extra:
            value = extra[col]
        else:
            first, kind = rows[0][col], type(rows[0][col])
            if any(type(r[col]) is not kind or r[col] != first for r in (rows[-1], rows[n // 2])):
                continue  # the cheap test: the last or the middle row differs
            values = list(map(itemgetter(col), rows))
            if values.count(first) != n:  # equal values: of one type too (1 == True == 1.0)
                continue
            if kind is not str and set(map(type, values)) != {kind}:
                continue
            value = first
        proc = bind_processor(conn, table.c[col])
        if value is not None and proc is not None:
            value = proc(value)
        text = sqlite_literal(value)
        if text is not None:
            out[col] = text
    return out


def insert_sqlite(
    conn: sa.Connection,
    table: sa.Table,
    cols: Sequence[str],
    rows: Sequence[Mapping[str, Any]],
    extra: Mapping[str, Any] | None = None,
) -> list[int] | None:
    """Rows ``MULTI_ROWS`` to a statement (``VALUES (...), (...), ...``, one ``executemany``;
    the rest one to a statement), in order; the new ids in row order when they are
    ``max(id)+1 ...`` (SQLite numbers rows so unless ids ran out), else None (the caller finds
    them by key). Columns with one value in every row are literals in the statement
    (``constant_columns``): the driver binds only the others."""
    before = conn.execute(sa.select(sa.func.max(table.c.id))).scalar() or 0
    quote = conn.dialect.identifier_preparer.quote
    extra = extra or {}
    fixed = constant_columns(conn, table, cols, rows, extra) if len(rows) > 1 else {}
    bound = [c for c in cols if c not in fixed]
    head = f"INSERT INTO {quote(table.name)} ({', '.join(quote(c) for c in cols)}) VALUES "
    one = f"({', '.join(fixed.get(c, '?') for c in cols)})"
    left = {c: v for c, v in extra.items() if c not in fixed}
    params = bind_tuples(conn, table, bound, rows, left) if bound else [()] * len(rows)
    n = len(rows)
    per = min(MULTI_ROWS, SQLITE_VARIABLES // max(1, len(bound)))
    whole = n // per * per if per > 1 else 0
    if whole:  # 0.31-0.34 s instead of 0.36-0.41 s one row a statement (110,000 vms)
        flat = chain.from_iterable
        groups = [tuple(flat(params[i : i + per])) for i in range(0, whole, per)]
        conn.exec_driver_sql(head + ", ".join([one] * per), groups)
    if whole < n:
        conn.exec_driver_sql(head + one, params[whole:])
    got = conn.execute(
        sa.select(sa.func.count(), sa.func.min(table.c.id), sa.func.max(table.c.id)).where(
            table.c.id > before
        )
    ).one()
    if tuple(got) == (n, before + 1, before + n):
        return list(range(before + 1, before + n + 1))
    return None
