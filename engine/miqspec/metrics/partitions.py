"""PostgreSQL's hourly partitions of ``metrics`` (declarative range partitioning).

Takes: a SQLAlchemy connection to PostgreSQL and hours (naive UTC datetimes on the hour).
Gives: ``partition_name`` (``metrics_p2026120721`` for 21:00-22:00 on 2026-12-07),
``existing_partitions`` (the hour each partition of ``metrics`` starts, by name),
``ensure_partitions`` (creates the missing ones, each ``FOR VALUES FROM (hour) TO (hour + 1 h)``)
and ``drop_partitions_before`` (drops those that end at or before a cutoff; the purge).
Raises: SQLAlchemy errors (the caller turns them into ``DatabaseError``). Does database I/O
(DDL: run it in a transaction of its own, so ``CREATE``/``DROP`` hold their lock on
``metrics`` only briefly).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime, timedelta

import sqlalchemy as sa

HOUR = timedelta(hours=1)
_NAME = re.compile(r"^metrics_p(\d{10})$")


def partition_name(hour: datetime) -> str:
    """The partition holding the hour starting at ``hour``."""
    return "metrics_p" + hour.strftime("%Y%m%d%H")


def existing_partitions(conn: sa.Connection) -> dict[str, datetime]:
    """Every partition of ``metrics`` named by this module, with the hour it starts."""
    rows = conn.exec_driver_sql(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'metrics' "
        "AND p.relnamespace = to_regnamespace(current_schema())::oid"
    ).all()
    out = {}
    for (name,) in rows:
        found = _NAME.match(name)
        if found:
            out[name] = datetime.strptime(found.group(1), "%Y%m%d%H")
    return out


def ensure_partitions(conn: sa.Connection, hours: Iterable[datetime], known: set[str]) -> None:
    """Create the partitions of ``hours`` not in ``known`` (which gains their names)."""
    for hour in sorted(set(hours)):
        name = partition_name(hour)
        if name in known:
            continue
        start, end = hour.isoformat(sep=" "), (hour + HOUR).isoformat(sep=" ")
        conn.exec_driver_sql(
            f'CREATE TABLE IF NOT EXISTS "{name}" PARTITION OF metrics '
            f"FOR VALUES FROM ('{start}') TO ('{end}')"
        )
        known.add(name)


def drop_partitions_before(conn: sa.Connection, cutoff: datetime) -> list[str]:
    """Drop the partitions whose hour ends at or before ``cutoff``; their names."""
    dropped = []
    for name, hour in sorted(existing_partitions(conn).items(), key=lambda kv: kv[1]):
        if hour + HOUR <= cutoff:
            conn.exec_driver_sql(f'DROP TABLE IF EXISTS "{name}"')
            dropped.append(name)
    return dropped
