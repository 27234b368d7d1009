"""Metrics capture end to end: the simulator over loopback HTTP -> SQLite and PostgreSQL.

Realtime rows as ManageIQ stores them (20-second grid, whole seconds, gaps kept), repeated
captures storing nothing twice, last_perf_capture_on and the window it opens, due targets,
rollups (averages of what is there, min/max, gaps not zeros), the retention purge (hour
partitions dropped on PostgreSQL), the outcome on the provider row.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from miqspec import metrics
from miqspec.metrics.partitions import ensure_partitions
from miqspec.metrics.rollup import roll_up
from miqspec.metrics.tables import METRICS
from miqspec.pipeline import capture_metrics, make_session, metrics_owner, refresh_provider
from miqspec.simulator import Simulator
from miqspec.simulator.metrics import series
from miqspec.spec.load import load_spec
from miqspec.store.providers import ProviderStore

from ..conftest import AWESOME, sim_args

NAME = "ac"


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(instances=12, flavors=3, images=2) as s:
        yield s


@pytest.fixture
def provider(engine: sa.Engine, keyring: Any, sim: Simulator) -> int:
    ems_id = ProviderStore(engine).add(load_spec(str(AWESOME)), NAME, sim_args(sim), keyring)
    assert refresh_provider(engine, NAME, keyring).ok
    return ems_id


def rows(engine: sa.Engine, sql: str, **params: Any) -> list[Any]:
    """The rows of ``sql``, text that is a time (SQLite gives times as text) as datetimes."""
    with engine.connect() as conn:
        return [tuple(_time(v) for v in r) for r in conn.execute(sa.text(sql), params).all()]


def _time(value: Any) -> Any:
    if isinstance(value, str) and len(value) >= 19 and value[4] == "-" and value[10] == " ":
        return datetime.fromisoformat(value)
    return value


def run(engine: sa.Engine, keyring: Any, at: datetime, **options: Any) -> metrics.CaptureResult:
    """One capture at the fixed time ``at`` (through the metrics stage, as the pipeline runs
    it), so that two captures can read the very same window."""
    store = ProviderStore(engine)
    ems = store.row(NAME)
    spec, owner = metrics_owner(engine, NAME)
    session = make_session(spec, store.args(ems, keyring), provider=ems)
    try:
        return metrics.capture(engine, session, spec, ems, owner, at=at, **options)
    finally:
        session.close()


def expected_points(ref: str, start: datetime, end: datetime) -> list[tuple[datetime, float]]:
    """What ManageIQ would store for the simulator's samples of ``ref``: each 1-minute sample
    at t, t+20, t+40 (never past the next one), the last once, times truncated."""
    epoch = datetime(1970, 1, 1)
    raw = series(ref, 0, int((start - epoch).total_seconds()), int((end - epoch).total_seconds()))
    times = [int(datetime.fromisoformat(s["timestamp"]).timestamp()) for s in raw]
    out = []
    for i, (t, sample) in enumerate(zip(times, raw, strict=True)):
        stop = t + 1 if i + 1 == len(times) else min(times[i + 1], t + 60)
        out += [(epoch + timedelta(seconds=k), sample["cpu_percent"]) for k in range(t, stop, 20)]
    return out


def test_capture_stores_the_realtime_grid_of_running_vms(engine, keyring, sim, provider):
    at = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    result = run(engine, keyring, at)
    running = rows(
        engine, "select id, ems_ref from vms where ems_id = :e and power_state = 'on'", e=provider
    )
    assert 0 < len(running) < 12  # the simulator has stopped and suspended ones too
    assert (result.targets, result.captured, result.failed) == (len(running), len(running), {})
    stored = rows(engine, "select distinct resource_id from metrics")
    assert {r[0] for r in stored} == {r[0] for r in running}
    assert rows(engine, "select count(*) from metrics")[0][0] == result.rows
    for vm_id, ref in running:
        got = rows(
            engine,
            "select timestamp, cpu_usage_rate_average, capture_interval, capture_interval_name,"
            " resource_type from metrics where resource_id = :r order by timestamp",
            r=vm_id,
        )
        want = expected_points(ref, at - timedelta(hours=4), at)
        assert [(r[0], r[1]) for r in got] == want
        assert {(r[2], r[3], r[4]) for r in got} == {(20, "realtime", "VmOrTemplate")}
        last = rows(engine, "select last_perf_capture_on from vms where id = :r", r=vm_id)[0][0]
        assert last == want[-1][0]
        # derived columns from the VM's flavor, as Metric::Processing derives them
        flavor = rows(engine, "select f.cpu_total_cores, f.memory from vms v join flavors f "
                      "on f.id = v.flavor_id where v.id = :r", r=vm_id)[0]  # fmt: skip
        derived = rows(engine, "select derived_vm_numvcpus, derived_memory_available, "
                       "derived_memory_used, mem_usage_absolute_average from metrics "
                       "where resource_id = :r", r=vm_id)  # fmt: skip
        for cpus, available, used, mem in derived:
            assert (cpus, available) == (flavor[0], flavor[1] / 2**20)
            assert used == pytest.approx(mem * available / 100)
    ems = rows(engine, "select last_metrics_error, last_metrics_success_date from "
               "ext_management_systems where id = :e", e=provider)[0]  # fmt: skip
    assert ems[0] is None  # the stage alone does not record; the pipeline does (below)


def test_a_repeated_capture_stores_nothing_twice(engine, keyring, sim, provider):
    at = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    first = run(engine, keyring, at)
    before = rows(engine, "select resource_id, timestamp, cpu_usage_rate_average from metrics "
                  "order by 1, 2")  # fmt: skip
    rollups = rows(engine, "select count(*) from metric_rollups")[0][0]
    with engine.begin() as conn:  # forget the last capture: the same window is read again
        conn.execute(sa.text("update vms set last_perf_capture_on = null"))
    again = run(engine, keyring, at)
    assert again.rows == first.rows
    after = rows(engine, "select resource_id, timestamp, cpu_usage_rate_average from metrics "
                 "order by 1, 2")  # fmt: skip
    assert after == before
    assert rows(engine, "select count(*) from metric_rollups")[0][0] == rollups


def test_the_next_window_starts_at_last_perf_capture_on_and_only_due_targets_go(
    engine, keyring, sim, provider
):
    at = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    first = run(engine, keyring, at)
    assert run(engine, keyring, at + timedelta(minutes=10), due_only=True).targets == 0
    sim.reset()  # request counts from here
    later = at + timedelta(minutes=55)
    second = run(engine, keyring, later, due_only=True)
    assert second.targets == first.targets
    # each target asked from its newest sample on: about 55 new samples, not 4 hours
    assert second.samples <= first.targets * 57
    assert sum(n for path, n in sim.stats().items() if path.endswith("/metrics")) == first.targets


def test_pipeline_records_the_outcome_and_the_cli_shows_it(engine, keyring, sim, provider):
    result = capture_metrics(engine, NAME, keyring)
    assert result.rows > 0 and not result.failed
    ems = rows(engine, "select last_metrics_error, last_metrics_success_date, "
               "last_metrics_update_date from ext_management_systems where id = :e",
               e=provider)[0]  # fmt: skip
    assert ems[0] is None and ems[1] is not None and ems[2] is not None
    sim.set_faults(fail_always_status=400, path="/metrics")
    failed = capture_metrics(engine, NAME, keyring)
    assert failed.failed and failed.captured == 0
    error = rows(engine, "select last_metrics_error from ext_management_systems where id = :e",
                 e=provider)[0][0]  # fmt: skip
    assert error.startswith(f"{len(failed.failed)} target(s) failed; ")
    assert "answered 400" in error


def insert(engine: sa.Engine, points: list[tuple[int, datetime, float | None]]) -> None:
    hours = {p[1].replace(minute=0, second=0) for p in points}
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            ensure_partitions(conn, hours, set())
    with engine.begin() as conn:
        conn.execute(
            METRICS.insert(),
            [
                {"timestamp": t, "resource_type": "VmOrTemplate", "resource_id": rid,
                 "capture_interval": 20, "capture_interval_name": "realtime",
                 "cpu_usage_rate_average": v, "mem_usage_absolute_average": 50.0}
                for rid, t, v in points
            ],
        )  # fmt: skip


def test_rollups_average_what_is_there_and_keep_min_max(engine):
    base = datetime(2026, 3, 1, 10, 0, 0)
    points: list[tuple[int, datetime, float | None]] = [
        (7, base, 10.0), (7, base + timedelta(seconds=20), 30.0),
        (7, base + timedelta(seconds=40), None),  # a missing counter value: not a zero
        (7, base + timedelta(hours=2), 80.0),  # 11:00 has no rows at all: no rollup row
    ]  # fmt: skip
    insert(engine, points)
    names = {7: "vm-7"}
    stamp = datetime(2026, 3, 1, 13, 0)
    written = roll_up(engine, "VmOrTemplate", names, base, base + timedelta(hours=2), stamp)
    assert written == (2, 1)
    hourly = rows(engine, "select timestamp, cpu_usage_rate_average, intervals_in_rollup, min_max,"
                  " capture_interval from metric_rollups where capture_interval_name = 'hourly' "
                  "order by timestamp")  # fmt: skip
    assert [(r[0], r[1], r[2], r[4]) for r in hourly] == [
        (base, 20.0, 3, 3600),
        (base + timedelta(hours=2), 80.0, 1, 3600),
    ]
    assert json.loads(hourly[0][3])["min_cpu_usage_rate_average"] == 10.0
    assert json.loads(hourly[0][3])["max_cpu_usage_rate_average"] == 30.0
    daily = rows(engine, "select timestamp, cpu_usage_rate_average, intervals_in_rollup, min_max "
                 "from metric_rollups where capture_interval_name = 'daily'")  # fmt: skip
    assert [(r[0], r[1], r[2]) for r in daily] == [(datetime(2026, 3, 1), 50.0, 2)]
    assert json.loads(daily[0][3])["max_cpu_usage_rate_average"] == 80.0
    # idempotent: the same span again writes the same rows
    again = roll_up(engine, "VmOrTemplate", names, base, base + timedelta(hours=2), stamp)
    assert again == (2, 1)
    assert rows(engine, "select count(*) from metric_rollups")[0][0] == 3


def test_purge_drops_old_hours(engine):
    base = datetime(2026, 3, 1, 10, 0, 0)
    insert(engine, [(1, base + timedelta(minutes=30 * k), float(k)) for k in range(10)])
    removed = metrics.purge_realtime(engine, base + timedelta(hours=2, minutes=45))
    left = rows(engine, "select timestamp from metrics order by timestamp")
    assert [r[0] for r in left] == [base + timedelta(minutes=30 * k) for k in range(6, 10)]
    if engine.dialect.name == "postgresql":
        assert removed == 2  # 12:00 and 12:30 deleted; 10:00-11:59 went with their partitions
        names = rows(engine, "select c.relname from pg_inherits i join pg_class c on "
                     "c.oid = i.inhrelid join pg_class p on p.oid = i.inhparent "
                     "where p.relname = 'metrics' order by 1")  # fmt: skip
        assert [n[0] for n in names] == ["metrics_p2026030112", "metrics_p2026030113",
                                         "metrics_p2026030114"]  # fmt: skip
    else:
        assert removed == 6
