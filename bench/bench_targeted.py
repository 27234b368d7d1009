"""Targeted refresh and events against the bundled simulator (issue 17).

Usage:
  .venv/bin/python bench/bench_targeted.py [--instances N] [--latency-samples K]
      [--burst-events E] [--burst-vms V] [--postgres] [--json FILE]

Three measurements, one run (read ratios within it: the box is shared and noisy):

1. **Targeted vs full.** The simulator serves N instances (1,000 flavors, 1,000 images); the
   provider is added and fully refreshed into an empty database (``full (cold)``), then one
   instance changes and the provider is fully refreshed again (``full (steady)``: the
   periodic refresh). Then one more instance changes and a targeted refresh of that one VM
   runs (``targeted``; median of 5, each after a change of its own; the spec held in memory,
   as the worker holds it). Printed: seconds, the
   targeted / full ratios, rows written, and whether every other vms row is byte-for-byte
   what it was (``others untouched``).
2. **Event-to-row latency.** ``miqspec worker`` (``run_worker``) runs in a thread with a 1 s
   event poll and a 0.2 s merge window; K times, one instance changes at the simulator and
   the time until its row in ``vms`` holds the new name is taken (the row is read every
   10 ms). Printed: median and p95.
3. **Burst.** With the worker running, E events about V instances (E/V power changes of
   each, as fast as the simulator takes them) arrive; printed: event rows stored, targeted
   and full refreshes the worker ran for them, and the seconds until the last row is right.

Does network (127.0.0.1) and database I/O; SQLite in a temporary directory, or PostgreSQL at
``MIQSPEC_BENCH_PG`` (default ``postgresql+psycopg2://postgres@127.0.0.1:5432/test``, a
database created and dropped for the run) with ``--postgres``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from miqspec.events import Target
from miqspec.pipeline import refresh_provider, refresh_targets
from miqspec.simulator import Simulator
from miqspec.spec.load import load_spec
from miqspec.store.credentials import KeyRing
from miqspec.store.database import open_database, upgrade
from miqspec.store.providers import ProviderStore
from miqspec.workers.schedule import run_worker

SPEC = Path(__file__).resolve().parents[1] / "provider_specs" / "awesome_cloud.yaml"
PG = os.environ.get("MIQSPEC_BENCH_PG", "postgresql+psycopg2://postgres@127.0.0.1:5432/test")


def _database(postgres: bool, tmp: Path) -> tuple[str, Callable[[], None]]:
    if not postgres:
        return f"sqlite:///{tmp / 'bench.db'}", lambda: None
    name = f"miqspec_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(PG, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return str(sa.make_url(PG).set(database=name)), drop


def _events_only_spec(tmp: Path) -> Path:
    """awesome_cloud with its metrics capture turned off (no VM is a capture target): the
    worker's capture (one request per running VM) would otherwise share the box with what is
    measured here."""
    text = SPEC.read_text(encoding="utf-8")
    on = "where: \"power_state == 'on'\""
    assert on in text, "awesome_cloud's metrics targets changed: update the bench"
    path = tmp / "awesome_cloud.yaml"
    path.write_text(text.replace(on, "where: \"power_state == 'never captured'\""))
    return path


def _vms(engine: sa.Engine) -> dict[str, tuple[Any, ...]]:
    with engine.connect() as conn:
        rows = conn.execute(sa.text("select * from vms order by id"))
        return {r.ems_ref: tuple(r) for r in rows}


def _name(engine: sa.Engine, ref: str) -> str | None:
    with engine.connect() as conn:
        found = conn.execute(sa.text("select name from vms where ems_ref = :r"), {"r": ref})
        return found.scalar()


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    out = fn()
    return time.perf_counter() - started, out


def targeted_vs_full(engine: sa.Engine, ring: KeyRing, sim: Simulator) -> dict[str, Any]:
    cold, full = _timed(lambda: refresh_provider(engine, "bench", ring))
    assert full.ok, full.error
    sim.mutate(change=1)
    steady, again = _timed(lambda: refresh_provider(engine, "bench", ring))
    assert again.ok, again.error
    spec = load_spec(str(_events_only_spec(Path(tempfile.mkdtemp()))))  # as the worker holds it
    times, written, untouched = [], [], True
    for _ in range(5):
        ref = sim.mutate(change=1)["changed"][0]
        before = _vms(engine)
        targets = [Target("vms", ref)]
        took, res = _timed(
            lambda targets=targets: refresh_targets(engine, "bench", ring, targets, spec=spec)
        )
        assert res.ok and not res.gone, (res.failed, res.gone)
        after = _vms(engine)
        untouched = untouched and all(after[k] == v for k, v in before.items() if k != ref)
        untouched = untouched and after[ref] != before[ref]
        times.append(took)
        written.append(res.report.rows_written if res.report else 0)
    targeted = statistics.median(times)
    settle, _ = _timed(lambda: refresh_provider(engine, "bench", ring))  # digests dropped
    return {
        "full_cold_s": round(cold, 3),
        "full_steady_s": round(steady, 3),
        "targeted_s": round(targeted, 4),
        "targeted_all_s": [round(t, 4) for t in times],
        "ratio_vs_cold": round(targeted / cold, 4),
        "ratio_vs_steady": round(targeted / steady, 4),
        "targeted_rows_written": written,
        "others_untouched": untouched,
        "full_after_targeted_s": round(settle, 3),
    }


class Worker:
    """``run_worker`` in a thread, its log lines kept."""

    def __init__(self, engine: sa.Engine, ring: KeyRing) -> None:
        self.lines: list[str] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(
            target=run_worker,
            args=(engine, ring),
            kwargs={
                "stop": self.stop,
                "log": self.lines.append,
                "poll": 5.0,
                "event_poll": 1.0,
                "merge_window": 0.2,
            },
            daemon=True,
        )

    def __enter__(self) -> Worker:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=120)

    def count(self, text: str) -> int:
        return sum(text in line for line in list(self.lines))


def _wait(check: Callable[[], bool], seconds: float) -> float | None:
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        if check():
            return time.perf_counter() - started
        time.sleep(0.01)
    return None


def latency_and_burst(
    engine: sa.Engine, ring: KeyRing, sim: Simulator, samples: int, events: int, vms: int
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with Worker(engine, ring) as worker:
        assert _wait(lambda: worker.count("catcher started") > 0, 60) is not None
        time.sleep(1.5)  # the first poll has read what came before
        lat: list[float] = []
        for i in range(samples):
            ref = sim.mutate(change=1)["changed"][0]
            new = next(x["name"] for x in sim.data.instances if x["id"] == ref)
            took = _wait(lambda ref=ref, new=new: _name(engine, ref) == new, 30)
            if took is None:
                raise SystemExit(f"sample {i}: the row did not change in 30 s: {worker.lines}")
            lat.append(took)
            time.sleep(0.3 + (i % 7) * 0.1)  # spread the changes over the poll phase
        lat.sort()
        out["latency_median_s"] = round(statistics.median(lat), 3)
        out["latency_p95_s"] = round(lat[min(len(lat) - 1, int(0.95 * len(lat)))], 3)
        out["latency_samples"] = len(lat)
        # burst: E events about V instances, as power changes of the same V instances
        with engine.connect() as conn:
            stored0 = conn.execute(sa.text("select count(*) from event_streams")).scalar() or 0
        targeted0, full0 = worker.count("targeted refresh of"), worker.count("full refresh")
        refs = [x["id"] for x in sim.data.instances[:vms]]
        started = time.perf_counter()
        rounds = max(1, events // max(vms, 1))
        for _ in range(rounds):
            for ref in refs:
                item = sim._api.dataset.instance(ref)
                assert item is not None
                sim._api.events.record({"powered": [ref]}, sim._api.dataset.instance)
        wanted = stored0 + rounds * len(refs)

        def stored() -> int:
            with engine.connect() as conn:
                return int(conn.execute(sa.text("select count(*) from event_streams")).scalar())

        _wait(lambda: stored() >= wanted, 60)
        _wait(lambda: worker.count("targeted refresh of") + worker.count("full refresh")
              > targeted0 + full0, 60)  # fmt: skip
        time.sleep(2.5)  # whatever else the burst queued has run
        out["burst_events"] = rounds * len(refs)
        out["burst_vms"] = len(refs)
        out["burst_rows_stored"] = stored() - stored0
        out["burst_targeted_refreshes"] = worker.count("targeted refresh of") - targeted0
        out["burst_full_refreshes"] = worker.count("full refresh") - full0
        out["burst_seconds"] = round(time.perf_counter() - started, 2)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--instances", type=int, default=10_000)
    ap.add_argument("--latency-samples", type=int, default=20)
    ap.add_argument("--burst-events", type=int, default=1000)
    ap.add_argument("--burst-vms", type=int, default=50)
    ap.add_argument("--postgres", action="store_true")
    ap.add_argument("--json", help="Write the results to this file too.")
    opts = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url, drop = _database(opts.postgres, Path(tmp))
        try:
            engine = open_database(url)
            upgrade(engine)
            ring = KeyRing.load(Path(tmp) / "v2_key")
            with Simulator(
                instances=opts.instances, flavors=1000, images=1000, page_size=1000
            ) as sim:
                args = {
                    "provider_region": "us-east-1",
                    "endpoints": {"default": {"url": sim.url}},
                    "authentications": {"default": {"userid": sim.options.access_key,
                                                    "password": sim.options.secret_key}},
                }  # fmt: skip
                spec = _events_only_spec(Path(tmp))
                ProviderStore(engine).add(load_spec(str(spec)), "bench", args, ring)
                results: dict[str, Any] = {
                    "instances": opts.instances,
                    "backend": "postgresql" if opts.postgres else "sqlite",
                }
                results.update(targeted_vs_full(engine, ring, sim))
                results.update(
                    latency_and_burst(
                        engine, ring, sim, opts.latency_samples, opts.burst_events, opts.burst_vms
                    )
                )
            engine.dispose()
        finally:
            drop()
    print(json.dumps(results, indent=2))
    if opts.json:
        Path(opts.json).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
