"""One metrics capture of a provider: targets, calls, samples, realtime rows, rollups, purge.

Takes: the database engine, the provider's ``ProviderSession`` and spec, its ems row, the id
of the manager owning the target collection, the time of the capture and options (only the
targets due by the spec's ``capture_threshold``; the realtime retention).
Gives: ``capture`` -> ``CaptureResult`` (targets due, captured, skipped and failed with the
reason, samples and realtime rows written, rollup rows, rows purged, points dropped, seconds).
A target's window starts at its ``last_perf_capture_on`` (else ``window`` before now; never
further back than that) and ends now; its samples are spread onto the 20-second grid and
upserted in batches; ``last_perf_capture_on`` becomes its newest sample's time; the hours and
days the capture touched are rolled up; realtime rows older than the retention are purged.
A target failing (API error, bad data) is recorded and the others go on.
Raises: ``CredentialsError`` (the provider's credentials are refused), ``DatabaseError``.
Does network and database I/O.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from miqspec.connect import ProviderSession
from miqspec.errors import MappingError
from miqspec.metrics.calls import CallOutcome, run_each, run_once
from miqspec.metrics.derived import Capacity, capacities, derived_values
from miqspec.metrics.rollup import roll_up
from miqspec.metrics.samples import Samples, add_records, sorted_samples
from miqspec.metrics.spread import spread
from miqspec.metrics.store import RealtimeWriter, moment, purge_realtime, set_last_capture
from miqspec.metrics.targets import Target, select_targets
from miqspec.spec import REALTIME_INTERVAL, MetricsSpec, Spec
from miqspec.store import Engine, spec_metadata

BATCH_ROWS = 20_000
Progress = Callable[[int, int], None]


@dataclass
class CaptureResult:
    provider: str
    targets: int = 0  # due targets
    captured: int = 0  # targets that gave samples
    skipped: int = 0  # targets whose call was skipped or gave no samples
    failed: dict[str, str] = field(default_factory=dict)  # ems_ref -> reason
    samples: int = 0
    rows: int = 0  # realtime rows written
    hourly: int = 0
    daily: int = 0
    purged: int = 0
    dropped: int = 0  # points without a usable time or target
    seconds: float = 0.0
    # seconds per phase: calls (requests and mapping samples), write, rollup, purge
    phases: dict[str, float] = field(default_factory=dict)


def _iso(at: datetime) -> str:
    return at.isoformat(timespec="seconds") + "Z"


def _window(ms: MetricsSpec, target: Target, at: datetime) -> tuple[datetime, datetime]:
    earliest = at - timedelta(seconds=ms.window)
    last = target.last_capture
    return (max(last, earliest) if last is not None else earliest), at


def _window_vars(start: datetime, end: datetime, ms: MetricsSpec) -> dict[str, Any]:
    epoch = datetime(1970, 1, 1)
    return {
        "start": _iso(start),
        "end": _iso(end),
        "start_epoch": int((start - epoch).total_seconds()),
        "end_epoch": int((end - epoch).total_seconds()),
        "interval": ms.interval,
    }


class _Capture:
    """The state of one capture: rows waiting to be written, what each target got."""

    def __init__(
        self,
        engine: Engine,
        ms: MetricsSpec,
        scope: Mapping[str, Any],
        ems_id: int,
        at: datetime,
        caps: Mapping[int, Capacity],
        result: CaptureResult,
    ) -> None:
        self.ms, self.scope, self.ems_id, self.at = ms, scope, ems_id, at
        self.caps = caps
        self.writer = RealtimeWriter(engine)
        self.result = result
        self.batch: list[dict[str, Any]] = []
        self.last: dict[int, datetime] = {}
        self.names: dict[int, str | None] = {}
        self.span: list[datetime] = []

    def take(self, target: Target, points: Mapping[int, Mapping[str, Any]]) -> None:
        """Turn one target's raw points into realtime rows (written in batches)."""
        samples = sorted_samples(self.ms, points, self.scope)
        if not samples:
            self.result.skipped += 1
            return
        self.result.captured += 1
        self.result.samples += len(samples)
        cap = self.caps.get(target.id)
        base = {
            "capture_interval": REALTIME_INTERVAL,
            "capture_interval_name": "realtime",
            "resource_type": self.ms.resource_type,
            "resource_id": target.id,
            "resource_name": target.name,
            "parent_ems_id": self.ems_id,
            "created_on": self.at,
        }
        for epoch, values in spread(samples, self.ms.interval):
            row = {**base, "timestamp": moment(epoch), **values}
            row.update(derived_values(cap, values.get("mem_usage_absolute_average")))
            self.batch.append(row)
        first, newest = moment(samples[0][0]), moment(samples[-1][0])
        self.last[target.id] = newest
        self.names[target.id] = target.name
        self.span.extend((first, newest))
        if len(self.batch) >= BATCH_ROWS:
            self.flush()

    def flush(self) -> None:
        self.result.rows += self.writer.write(self.batch)
        self.batch = []


def capture(
    engine: Engine,
    session: ProviderSession,
    spec: Spec,
    ems: Mapping[str, Any],
    owner_id: int,
    *,
    at: datetime,
    due_only: bool = False,
    retention: int = 4 * 3600,
    progress: Progress | None = None,
) -> CaptureResult:
    """Capture the metrics of provider ``ems``'s targets (see the module docstring)."""
    assert spec.metrics is not None
    ms = spec.metrics
    started = time.perf_counter()
    result = CaptureResult(provider=str(ems["name"]))
    tables = spec_metadata(engine, spec)
    table = tables.tables[spec.catalogue.collections[ms.collection].table]
    scope = {k: session.ctx.get(k) for k in ("region", "provider", "settings")}
    targets = select_targets(engine, spec, table, owner_id, scope, at, due_only)
    result.targets = len(targets)
    caps = capacities(engine, tables, spec, [t.id for t in targets])
    state = _Capture(engine, ms, scope, int(ems["id"]), at, caps, result)
    windows = [_window(ms, t, at) for t in targets]
    tell = progress or (lambda done, total: None)
    if ms.bulk and targets:
        start = min(w[0] for w in windows)
        extra = {"targets": [t.row for t in targets], "metrics": _window_vars(start, at, ms)}
        _take_bulk(state, targets, run_once(session, ms.call, extra))
        tell(len(targets), len(targets))
    else:
        extras = [
            {"target": t.row, "metrics": _window_vars(*w, ms)}
            for t, w in zip(targets, windows, strict=True)
        ]
        concurrency = spec.connection.concurrency
        runs = run_each(session, ms.call, extras, concurrency)
        for count, (index, outcome) in enumerate(runs, start=1):
            _take_one(state, targets[index], outcome)
            tell(count, len(targets))
    state.flush()
    set_last_capture(engine, table, state.last)
    written = time.perf_counter()
    if state.span:
        result.hourly, result.daily = roll_up(
            engine, ms.resource_type, state.names, min(state.span), max(state.span), at
        )
    rolled = time.perf_counter()
    result.purged = purge_realtime(engine, at - timedelta(seconds=retention))
    done = time.perf_counter()
    result.seconds = done - started
    write = state.writer.seconds
    result.phases = {
        "calls": written - started - write,
        "write": write,
        "rollup": rolled - written,
        "purge": done - rolled,
    }
    return result


def _take_one(state: _Capture, target: Target, outcome: CallOutcome) -> None:
    if outcome.error is not None:
        state.result.failed[target.ref] = outcome.error
        return
    if outcome.skipped is not None and not outcome.records:
        state.result.skipped += 1
        return
    samples = Samples()
    try:
        add_records(state.ms, outcome.records, state.scope, target.ref, samples)
    except MappingError as exc:
        state.result.failed[target.ref] = str(exc)
        return
    state.result.dropped += samples.dropped
    state.take(target, samples.points.get(target.ref, {}))


def _take_bulk(state: _Capture, targets: list[Target], outcome: CallOutcome) -> None:
    if outcome.error is not None:
        for t in targets:
            state.result.failed[t.ref] = outcome.error
        return
    samples = Samples()
    try:
        add_records(state.ms, outcome.records, state.scope, None, samples)
    except MappingError as exc:
        for t in targets:
            state.result.failed[t.ref] = str(exc)
        return
    state.result.dropped += samples.dropped
    for target in targets:
        state.take(target, samples.points.pop(target.ref, {}))
