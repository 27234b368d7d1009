"""PostgreSQL bulk inserts for persist: rows sent with ``COPY ... FROM STDIN``.

Takes: a SQLAlchemy connection (psycopg2) inside the caller's transaction, a table, its columns
and rows (plus values every row gets).
Gives: ``insert_copy``: ids taken from the table's sequence, the rows sent in COPY's text
format, the ids in row order; None (and nothing done) when the driver cannot COPY, ``id`` has
no sequence or a value has no text form (arrays, JSON documents).
Raises: the driver's and SQLAlchemy's errors unchanged (``Db.errors`` turns them into
``DatabaseError``). Does database I/O.
"""

from __future__ import annotations

import datetime
import io
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from miqspec.persist.bulk import bind_tuples

NULL = "\\N"
_SPECIAL = ("\\", "\t", "\n", "\r")


def insert_copy(
    conn: sa.Connection,
    table: sa.Table,
    cols: Sequence[str],
    rows: Sequence[Mapping[str, Any]],
    extra: Mapping[str, Any] | None = None,
) -> list[int] | None:
    """PostgreSQL: ids from the table's sequence, rows through ``COPY FROM STDIN``; None (and
    nothing done) unless the driver can COPY, ``id`` has a sequence and every value has a text
    form (no arrays or JSON documents)."""
    raw = conn.connection.driver_connection
    if conn.dialect.name != "postgresql" or raw is None:
        return None
    cursor = raw.cursor()
    try:
        if not hasattr(cursor, "copy_expert"):
            return None
        text = _copy_text(bind_tuples(conn, table, cols, rows, extra))
        if text is None:
            return None
        prep = conn.dialect.identifier_preparer
        seq = conn.exec_driver_sql(
            "SELECT pg_get_serial_sequence(%(t)s, 'id')", {"t": prep.format_table(table)}
        ).scalar()
        if seq is None:
            return None
        ids = list(
            conn.exec_driver_sql(
                "SELECT nextval(%(s)s) FROM generate_series(1, %(n)s)", {"s": seq, "n": len(rows)}
            ).scalars()
        )
        body = io.StringIO("".join(f"{i}\t{line}\n" for i, line in zip(ids, text, strict=True)))
        names = ", ".join(prep.quote(c) for c in ("id", *cols))
        cursor.copy_expert(f"COPY {prep.format_table(table)} ({names}) FROM STDIN", body)
        return ids
    finally:
        cursor.close()


def _copy_text(tuples: list[tuple[Any, ...]]) -> list[str] | None:
    """Each row in COPY's text format (without the id), or None when a value has no text form."""
    if not tuples:
        return []
    columns: list[list[str]] = []
    for values in zip(*tuples, strict=True):
        kinds = {type(v) for v in values}
        if kinds <= {str, type(None)}:
            texts = [NULL if v is None else v for v in values]
            probe = "\x00".join(texts)
            if any(s in probe for s in _SPECIAL):
                texts = [t if t is NULL else _escape(t) for t in texts]
            columns.append(texts)
            continue
        texts = []
        for v in values:
            t = _text(v)
            if t is None:
                return None
            texts.append(t)
        columns.append(texts)
    return list(map("\t".join, zip(*columns, strict=True)))


def _text(v: Any) -> str | None:
    if v is None:
        return NULL
    kind = type(v)
    if kind is bool:
        return "t" if v else "f"
    if kind is int or kind is Decimal:
        return str(v)
    if kind is float:
        return repr(v)
    if kind is str:
        return _escape(v)
    if kind is datetime.datetime or kind is datetime.date or kind is datetime.time:
        return str(v)
    return None


def _escape(s: str) -> str:
    if any(c in s for c in _SPECIAL):
        return (
            s.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
        )
    return s
