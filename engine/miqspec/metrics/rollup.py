"""Hourly and daily rollups of realtime metrics (``metric_rollups``), as ManageIQ keeps them.

Takes: a database engine, a ``resource_type``, resource ids (with their names) and the time
span a capture touched (naive UTC).
Gives: ``roll_up`` -> (hourly rows, daily rows) written. Hourly rows come from the realtime
rows of each whole UTC hour in the span: per counter (and derived column) the average of the
values present, and ``min_max`` (JSON text, ManageIQ's column) with ``min_<counter>`` and
``max_<counter>``; ``intervals_in_rollup`` is how many realtime rows the hour had. Daily rows
(UTC days; ``time_profile_id`` null) come from the day's hourly rows: the average of their
averages, the least minimum and greatest maximum, ``intervals_in_rollup`` the hours present.
Missing samples are not zeros: an hour without rows has no rollup, and nulls are left out of
averages. Recomputing the same span writes the same rows (upsert on resource, interval name
and timestamp). Raises: ``DatabaseError`` (one line). Does database I/O.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from miqspec.metrics.store import db_failed, upsert
from miqspec.metrics.tables import CAPTURE_INTERVALS, COUNTERS, METRICS, ROLLUPS, ROLLUPS_KEY

AVERAGED = (*COUNTERS, "derived_vm_numvcpus", "derived_memory_available", "derived_memory_used")
KEPT = COUNTERS  # the columns whose min and max go into min_max
CHUNK = 500  # resource ids per query
ROLLUP_COLUMNS = (
    "timestamp",
    "capture_interval",
    "capture_interval_name",
    "resource_type",
    "resource_id",
    "resource_name",
    *AVERAGED,
    "parent_ems_id",
    "min_max",
    "intervals_in_rollup",
    "created_on",
)


def _chunks(ids: Sequence[int]) -> Iterator[Sequence[int]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]


def _hour_bucket(dialect: str) -> Any:
    if dialect == "postgresql":
        return sa.func.date_trunc("hour", METRICS.c.timestamp)
    return sa.func.strftime("%Y-%m-%d %H:00:00", METRICS.c.timestamp)


def _as_datetime(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def _hourly(
    conn: sa.Connection, resource_type: str, ids: Sequence[int], start: datetime, end: datetime
) -> list[dict[str, Any]]:
    bucket = _hour_bucket(conn.dialect.name).label("bucket")
    columns: list[Any] = [
        METRICS.c.resource_id,
        bucket,
        sa.func.count().label("n"),
        sa.func.max(METRICS.c.parent_ems_id).label("parent_ems_id"),
    ]
    for name in AVERAGED:
        columns.append(sa.func.avg(METRICS.c[name]).label(f"avg_{name}"))
    for name in KEPT:
        columns.append(sa.func.min(METRICS.c[name]).label(f"min_{name}"))
        columns.append(sa.func.max(METRICS.c[name]).label(f"max_{name}"))
    query = (
        sa.select(*columns)
        .where(
            METRICS.c.resource_type == resource_type,
            METRICS.c.resource_id.in_(list(ids)),
            METRICS.c.timestamp >= start,
            METRICS.c.timestamp < end,
        )
        .group_by(METRICS.c.resource_id, bucket)
    )
    return [dict(r) for r in conn.execute(query).mappings()]


def _row(
    interval: str,
    resource_type: str,
    resource_id: int,
    name: str | None,
    at: datetime,
    averages: Mapping[str, Any],
    min_max: Mapping[str, Any],
    count: int,
    stamp: datetime,
    parent: int | None = None,
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "parent_ems_id": parent,
        "timestamp": at,
        "capture_interval": CAPTURE_INTERVALS[interval],
        "capture_interval_name": interval,
        "resource_type": resource_type,
        "resource_id": resource_id,
        "resource_name": name,
        "min_max": json.dumps(dict(min_max), sort_keys=True),
        "intervals_in_rollup": count,
        "created_on": stamp,
    }
    row.update({c: averages.get(c) for c in AVERAGED})
    return row


def _daily(hourly: Iterable[Mapping[str, Any]], stamp: datetime) -> list[dict[str, Any]]:
    groups: dict[tuple[str, int, datetime], list[Mapping[str, Any]]] = {}
    for row in hourly:
        at = _as_datetime(row["timestamp"])
        day = at.replace(hour=0, minute=0, second=0, microsecond=0)
        groups.setdefault((row["resource_type"], row["resource_id"], day), []).append(row)
    out = []
    for (rtype, rid, day), rows in sorted(groups.items()):
        averages = {}
        for c in AVERAGED:
            values = [r[c] for r in rows if r[c] is not None]
            averages[c] = sum(values) / len(values) if values else None
        min_max: dict[str, Any] = {}
        parsed = [json.loads(r["min_max"] or "{}") for r in rows]
        for c in KEPT:
            lows = [m[f"min_{c}"] for m in parsed if m.get(f"min_{c}") is not None]
            highs = [m[f"max_{c}"] for m in parsed if m.get(f"max_{c}") is not None]
            min_max[f"min_{c}"] = min(lows) if lows else None
            min_max[f"max_{c}"] = max(highs) if highs else None
        name = rows[-1]["resource_name"]
        parent = rows[-1]["parent_ems_id"]
        out.append(
            _row("daily", rtype, rid, name, day, averages, min_max, len(rows), stamp, parent)
        )
    return out


def roll_up(
    engine: sa.Engine,
    resource_type: str,
    names: Mapping[int, str | None],
    start: datetime,
    end: datetime,
    stamp: datetime,
) -> tuple[int, int]:
    """Recompute the hourly rollups of the hours from ``start`` to ``end`` and the daily ones
    of their days, for the resources ``names`` (id -> name); (hourly, daily) rows written."""
    first_hour = start.replace(minute=0, second=0, microsecond=0)
    end_hour = end.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    first_day = first_hour.replace(hour=0)
    end_day = end_hour.replace(hour=0) + timedelta(days=1)
    ids = sorted(names)
    statement = upsert(engine.dialect.name, ROLLUPS, ROLLUPS_KEY, ROLLUP_COLUMNS[5:-1])
    hourly_count = daily_count = 0
    try:
        with engine.begin() as conn:
            for chunk in _chunks(ids):
                hourly = []
                for agg in _hourly(conn, resource_type, chunk, first_hour, end_hour):
                    rid = agg["resource_id"]
                    averages = {c: agg[f"avg_{c}"] for c in AVERAGED}
                    min_max = {f"{k}_{c}": agg[f"{k}_{c}"] for c in KEPT for k in ("min", "max")}
                    at = _as_datetime(agg["bucket"])
                    hourly.append(
                        _row(
                            "hourly",
                            resource_type,
                            rid,
                            names[rid],
                            at,
                            averages,
                            min_max,
                            int(agg["n"]),
                            stamp,
                            agg["parent_ems_id"],
                        )
                    )
                if hourly:
                    conn.execute(statement, hourly)
                hourly_count += len(hourly)
                day_rows = conn.execute(
                    sa.select(ROLLUPS).where(
                        ROLLUPS.c.resource_type == resource_type,
                        ROLLUPS.c.resource_id.in_(list(chunk)),
                        ROLLUPS.c.capture_interval_name == "hourly",
                        ROLLUPS.c.timestamp >= first_day,
                        ROLLUPS.c.timestamp < end_day,
                    )
                ).mappings()
                daily = _daily([dict(r) for r in day_rows], stamp)
                if daily:
                    conn.execute(statement, daily)
                daily_count += len(daily)
    except sa.exc.SQLAlchemyError as exc:
        raise db_failed("rolling up metrics", exc) from None
    return hourly_count, daily_count
