"""Writing, reading and purging realtime metrics rows (SQLite and PostgreSQL).

Takes: a database engine (``store.open_database``'s); realtime rows as dicts of
``tables.ROW_COLUMNS``.
Gives: ``RealtimeWriter`` (``write`` upserts rows in one transaction: a row already stored
for the same resource and time is updated, so a capture repeated over a window stores
nothing twice; on PostgreSQL the hour partitions the rows need are created first, each in a
short transaction of its own), ``moment`` (epoch seconds -> naive UTC datetime, cached),
``copy_upsert`` (PostgreSQL with psycopg2: the rows through ``COPY`` and one
``INSERT ... ON CONFLICT``, several times faster than an ``executemany`` upsert),
``sqlite_upsert`` (SQLite: the driver's ``executemany`` with tuples),
``set_last_capture`` (``last_perf_capture_on`` of the targets), ``purge_realtime`` (rows older
than a cutoff: whole partitions dropped on PostgreSQL, the rest of the cutoff's hour deleted;
a ``DELETE`` on SQLite) and ``read_rows`` (one resource's realtime or rollup rows since a
time, in time order).
Raises: ``DatabaseError`` (one line) for what the database refuses. Does database I/O.
"""

from __future__ import annotations

import functools
import io
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from miqspec.errors import DatabaseError
from miqspec.metrics.partitions import (
    drop_partitions_before,
    ensure_partitions,
    existing_partitions,
    partition_name,
)
from miqspec.metrics.tables import METRICS, METRICS_KEY, ROLLUPS, ROW_COLUMNS

_SPECIAL = ("\\", "\t", "\n", "\r")
UPDATED = tuple(c for c in ROW_COLUMNS if c not in (*METRICS_KEY, "created_on"))


@functools.lru_cache(maxsize=65536)
def moment(epoch: int) -> datetime:
    """Epoch seconds as the naive UTC ``datetime`` the tables hold."""
    return datetime.fromtimestamp(epoch, UTC).replace(tzinfo=None)


def db_failed(what: str, exc: sa.exc.SQLAlchemyError) -> DatabaseError:
    reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return DatabaseError(f"{what} failed: {reason[0][:200] if reason else type(exc).__name__}")


def upsert(dialect: str, table: sa.Table, key: Sequence[str], update: Sequence[str]) -> Any:
    """``INSERT ... ON CONFLICT (key) DO UPDATE SET update = excluded.update`` for ``table``."""
    insert = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    return insert.on_conflict_do_update(
        index_elements=list(key), set_={c: insert.excluded[c] for c in update}
    )


class RealtimeWriter:
    """Upserts realtime rows; remembers which PostgreSQL partitions exist."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.postgres = engine.dialect.name == "postgresql"
        self.statement = upsert(engine.dialect.name, METRICS, METRICS_KEY, UPDATED)
        self._partitions: set[str] | None = None
        self.seconds = 0.0  # time spent writing, in all

    def write(self, rows: Sequence[Mapping[str, Any]]) -> int:
        """Upsert ``rows`` in one transaction; how many were given."""
        if not rows:
            return 0
        started = time.perf_counter()
        try:
            if self.postgres:
                self._ensure_partitions(rows)
            with self.engine.begin() as conn:
                fast = copy_upsert if self.postgres else sqlite_upsert
                if not fast(conn, rows):
                    conn.execute(self.statement, list(rows))
        except sa.exc.SQLAlchemyError as exc:
            raise db_failed("saving metrics", exc) from None
        finally:
            self.seconds += time.perf_counter() - started
        return len(rows)

    def _ensure_partitions(self, rows: Sequence[Mapping[str, Any]]) -> None:
        hours = {r["timestamp"].replace(minute=0, second=0, microsecond=0) for r in rows}
        if self._partitions is None:
            with self.engine.connect() as conn:
                self._partitions = set(existing_partitions(conn))
        if all(partition_name(h) in self._partitions for h in hours):
            return
        try:
            with self.engine.begin() as conn:
                ensure_partitions(conn, hours, self._partitions)
        except sa.exc.SQLAlchemyError:  # another process made one meanwhile: look again
            with self.engine.begin() as conn:
                self._partitions = set(existing_partitions(conn))
                ensure_partitions(conn, hours, self._partitions)


def _copy_text(value: Any) -> str:
    """One value in COPY's text format."""
    if value is None:
        return "\\N"
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, float):
        return repr(value)
    text = str(value)
    if any(c in text for c in _SPECIAL):
        text = text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
        text = text.replace("\r", "\\r")
    return text


def copy_upsert(conn: sa.Connection, rows: Sequence[Mapping[str, Any]]) -> bool:
    """PostgreSQL with psycopg2: ``rows`` sent with ``COPY`` into a temporary table (dropped at
    commit), then upserted into ``metrics`` by one ``INSERT ... SELECT ... ON CONFLICT``;
    False (nothing done) when the driver cannot COPY. Rows must be unique on the key."""
    raw = conn.connection.driver_connection
    cursor = raw.cursor() if raw is not None else None
    if cursor is None or not hasattr(cursor, "copy_expert"):
        return False
    names = ", ".join(ROW_COLUMNS)
    body = io.StringIO(
        "".join("\t".join(_copy_text(r.get(c)) for c in ROW_COLUMNS) + "\n" for r in rows)
    )
    updates = ", ".join(f"{c} = excluded.{c}" for c in UPDATED)
    try:
        cursor.execute(
            f"CREATE TEMP TABLE metrics_stage ON COMMIT DROP AS SELECT {names} FROM metrics "
            "WITH NO DATA"
        )
        cursor.copy_expert(f"COPY metrics_stage ({names}) FROM STDIN", body)
        cursor.execute(
            f"INSERT INTO metrics ({names}) SELECT {names} FROM metrics_stage "
            f"ON CONFLICT ({', '.join(METRICS_KEY)}) DO UPDATE SET {updates}"
        )
    finally:
        cursor.close()
    return True


def _sqlite_value(value: Any) -> Any:
    """A value as SQLAlchemy's SQLite dialect stores it (datetimes as its text format)."""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


def sqlite_upsert(conn: sa.Connection, rows: Sequence[Mapping[str, Any]]) -> bool:
    """SQLite: ``rows`` upserted by the driver's own ``executemany`` of one prepared
    ``INSERT ... ON CONFLICT`` with tuples, datetimes in SQLAlchemy's text format (so rows
    read back as SQLAlchemy wrote them); False (nothing done) for another driver."""
    raw = conn.connection.driver_connection
    if conn.dialect.name != "sqlite" or raw is None or not hasattr(raw, "executemany"):
        return False
    names = ", ".join(ROW_COLUMNS)
    marks = ", ".join("?" for _ in ROW_COLUMNS)
    updates = ", ".join(f"{c} = excluded.{c}" for c in UPDATED)
    raw.executemany(
        f"INSERT INTO metrics ({names}) VALUES ({marks}) "
        f"ON CONFLICT ({', '.join(METRICS_KEY)}) DO UPDATE SET {updates}",
        [tuple(_sqlite_value(r.get(c)) for c in ROW_COLUMNS) for r in rows],
    )
    return True


def set_last_capture(engine: sa.Engine, table: sa.Table, last: Mapping[int, datetime]) -> None:
    """``last_perf_capture_on`` of each row id in ``last`` (never moved back)."""
    if not last:
        return
    column = table.c.last_perf_capture_on
    try:
        with engine.begin() as conn:
            for row_id, at in last.items():
                conn.execute(
                    table.update()
                    .where(table.c.id == row_id)
                    .where(sa.or_(column.is_(None), column < at))
                    .values(last_perf_capture_on=at)
                )
    except sa.exc.SQLAlchemyError as exc:
        raise db_failed("recording last_perf_capture_on", exc) from None


def purge_realtime(engine: sa.Engine, cutoff: datetime) -> int:
    """Remove realtime rows older than ``cutoff``; how many rows a ``DELETE`` removed (rows
    of dropped partitions are not counted: PostgreSQL drops them without counting)."""
    try:
        with engine.begin() as conn:
            if engine.dialect.name == "postgresql":  # whole hours: drop their partitions
                drop_partitions_before(conn, cutoff.replace(minute=0, second=0, microsecond=0))
            # the rest (on PostgreSQL: of the cutoff's hour, found by partition pruning)
            where = METRICS.c.timestamp < cutoff
            return int(conn.execute(METRICS.delete().where(where)).rowcount or 0)
    except sa.exc.SQLAlchemyError as exc:
        raise db_failed("purging metrics", exc) from None


def read_rows(
    engine: sa.Engine,
    resource_type: str,
    resource_ids: Iterable[int],
    since: datetime,
    interval_name: str = "realtime",
    until: datetime | None = None,
) -> list[dict[str, Any]]:
    """The rows of ``resource_ids`` from ``since`` (and before ``until``), in time order:
    ``metrics`` for ``realtime``, ``metric_rollups`` for ``hourly``/``daily``."""
    table = METRICS if interval_name == "realtime" else ROLLUPS
    query = (
        sa.select(table)
        .where(
            table.c.resource_type == resource_type,
            table.c.resource_id.in_(list(resource_ids)),
            table.c.timestamp >= since,
        )
        .order_by(table.c.resource_id, table.c.timestamp)
    )
    if table is ROLLUPS:
        query = query.where(table.c.capture_interval_name == interval_name)
    if until is not None:
        query = query.where(table.c.timestamp < until)
    try:
        with engine.connect() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]
    except sa.exc.SQLAlchemyError as exc:
        raise db_failed("reading metrics", exc) from None
