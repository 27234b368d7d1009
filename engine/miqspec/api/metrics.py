"""Metrics in the public API: capture once, one target's series, rollup reports.

Takes: an open ``Database``, a provider name, a target's name or ems_ref, durations as text
(``90s``, ``30m``, ``4h``, ``7d``) or seconds. Gives: ``capture_metrics`` (a
``CaptureResult``), ``metrics_series`` (a ``MetricsSeries``: realtime rows, or hourly/daily
rollups, of one target since a time), ``metrics_report`` (the rollup rows of every target,
one per target per hour or day: chargeback's input), ``parse_duration`` and
``metrics_retention`` (the realtime retention: ``MIQSPEC_METRICS_RETENTION``, default 4 h).
Re-exported by ``miqspec.api``.
Raises: ``UsageError`` (a bad duration or rollup name, a spec without metrics),
``NotFoundError`` (no such provider or target), ``CredentialsError``, ``DatabaseError``.
Does database and network I/O.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from miqspec import metrics, pipeline, store
from miqspec.api.database import Database
from miqspec.errors import UsageError
from miqspec.metrics import CaptureResult

DEFAULT_RETENTION = 4 * 3600
ROLLUPS = ("hourly", "daily")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class MetricsSeries:
    """One target's rows of one interval (``realtime``, ``hourly`` or ``daily``), oldest
    first; ``counters`` are the columns worth charting, in order."""

    provider: str
    target: str
    ems_ref: str
    interval: str
    since: datetime
    counters: tuple[str, ...]
    rows: list[dict[str, Any]]


def parse_duration(value: str | int, what: str = "duration") -> int:
    """``4h`` -> 14400 (s, m, h, d; a bare number is seconds); ``UsageError`` otherwise."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    found = re.fullmatch(r"\s*(\d{1,9})\s*([smhd]?)\s*", str(value))
    if not found:
        raise UsageError(f"{what} must be like 90s, 30m, 4h or 7d, got {value!r}")
    return int(found.group(1)) * _UNITS.get(found.group(2) or "s", 1)


def metrics_retention() -> int:
    """Seconds realtime rows are kept: ``$MIQSPEC_METRICS_RETENTION`` (e.g. ``4h``), else
    4 hours (ManageIQ's ``keep_realtime_performances``)."""
    text = os.environ.get("MIQSPEC_METRICS_RETENTION")
    return parse_duration(text, "MIQSPEC_METRICS_RETENTION") if text else DEFAULT_RETENTION


def capture_metrics(
    db: Database,
    name: str,
    *,
    due_only: bool = False,
    retention: str | int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> CaptureResult:
    """Capture provider ``name``'s metrics once: every target its spec names (``due_only``:
    those whose ``capture_threshold`` has passed), windows from each target's
    ``last_perf_capture_on`` (first time: the spec's ``window``, default 4 h), realtime rows
    upserted, hourly and daily rollups recomputed, rows older than ``retention`` (default
    ``metrics_retention()``) purged. ``progress(done, total)`` after each target."""
    keep = metrics_retention() if retention is None else parse_duration(retention, "retention")
    return pipeline.capture_metrics(
        db.engine, name, db.keyring, due_only=due_only, retention=keep, progress=progress
    )


def metrics_series(
    db: Database,
    name: str,
    target: str,
    *,
    since: str | int = "4h",
    rollup: str | None = None,
) -> MetricsSeries:
    """The rows of target ``target`` (a name or ems_ref) of provider ``name`` from ``since``
    ago: realtime (20-second) rows, or ``rollup`` ``hourly``/``daily`` rows (from the start of
    the hour or day ``since`` ago falls in)."""
    interval = _interval(rollup)
    start = _period_start(
        store.now() - timedelta(seconds=parse_duration(since, "--since")), interval
    )
    spec, owner = pipeline.metrics_owner(db.engine, name)
    rid, ref, label = metrics.find_target(db.engine, spec, owner, target)
    rows = metrics.series(db.engine, spec, rid, start, interval)
    return MetricsSeries(name, label, ref, interval, start, metrics.COUNTERS, rows)


def metrics_report(
    db: Database, name: str, *, rollup: str = "daily", since: str | int = "30d"
) -> list[dict[str, Any]]:
    """One row per target per ``rollup`` period (``daily`` or ``hourly``) from ``since`` ago,
    by target name then time: ``timestamp``, ``target_name``, ``ems_ref``, the four counters'
    averages, their ``min_*``/``max_*``, the derived columns and ``intervals_in_rollup``."""
    interval = _interval(rollup)
    if interval == "realtime":
        raise UsageError("a report needs --rollup hourly or daily")
    start = _period_start(
        store.now() - timedelta(seconds=parse_duration(since, "--since")), interval
    )
    spec, owner = pipeline.metrics_owner(db.engine, name)
    return metrics.rollup_report(db.engine, spec, owner, start, interval)


def _period_start(at: datetime, interval: str) -> datetime:
    """``at`` moved back to the start of its hour (hourly) or day (daily): the rollup row
    that covers it is included."""
    if interval == "hourly":
        return at.replace(minute=0, second=0, microsecond=0)
    if interval == "daily":
        return at.replace(hour=0, minute=0, second=0, microsecond=0)
    return at


def _interval(rollup: str | None) -> str:
    if rollup is None or rollup == "realtime":
        return "realtime"
    if rollup not in ROLLUPS:
        raise UsageError(f"rollup must be hourly or daily, got {rollup!r}")
    return rollup
