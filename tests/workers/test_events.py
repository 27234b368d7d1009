"""The worker's event side: catchers store events, targeted refreshes follow within seconds,
bursts are merged, and a failing stream leaves the periodic full refresh alone."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from miqspec.simulator import Simulator
from miqspec.spec.load import load_spec
from miqspec.store import EventLog
from miqspec.store.providers import ProviderStore
from miqspec.workers.schedule import run_worker

from ..conftest import AWESOME, sim_args


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(instances=40, flavors=3, images=3) as s:
        yield s


def _until(check: Callable[[], bool], seconds: float = 20.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return False


class Running:
    def __init__(self, engine: sa.Engine, keyring: Any) -> None:
        self.lines: list[str] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(
            target=run_worker,
            args=(engine, keyring),
            kwargs={
                "stop": self.stop,
                "log": self.lines.append,
                "poll": 0.5,
                "event_poll": 0.2,
                "merge_window": 0.3,
            },
        )

    def __enter__(self) -> Running:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=60)

    def saw(self, text: str) -> bool:
        return any(text in line for line in list(self.lines))


def _name(engine: sa.Engine, ref: str) -> str | None:
    with engine.connect() as conn:
        return conn.execute(sa.text("select name from vms where ems_ref = :r"), {"r": ref}).scalar()


def test_events_lead_to_merged_targeted_refreshes(engine, keyring, sim) -> None:  # type: ignore[no-untyped-def]
    ProviderStore(engine).add(load_spec(str(AWESOME)), "ac", sim_args(sim), keyring)
    with Running(engine, keyring) as worker:
        assert _until(lambda: worker.saw("ac: refreshed")), worker.lines
        hit = sim.mutate(change=1)
        ref = hit["changed"][0]
        served = next(i for i in sim.data.instances if i["id"] == ref)
        assert _until(lambda: _name(engine, ref) == served["name"]), worker.lines
        assert worker.saw("targeted refresh of 1 target(s)")
        before = sum("targeted refresh of" in line for line in worker.lines)
        stored = _count(engine)
        refs = [i["id"] for i in sim.data.instances[:5]]
        for _ in range(20):  # a burst: 100 events about the same 5 instances
            sim._api.events.record({"powered": refs}, sim._api.dataset.instance)
        assert _until(lambda: _count(engine) >= stored + 100), worker.lines
        assert _until(lambda: _refreshes(worker) > before), worker.lines
        time.sleep(1.0)
        assert _refreshes(worker) - before <= 3, worker.lines


def _refreshes(worker: Running) -> int:
    return sum("targeted refresh of" in line for line in list(worker.lines))


def _count(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text("select count(*) from event_streams")).scalar() or 0)


def test_a_failing_stream_keeps_the_full_refresh(engine, keyring, sim) -> None:  # type: ignore[no-untyped-def]
    ProviderStore(engine).add(load_spec(str(AWESOME)), "ac", sim_args(sim), keyring)
    ems_id = int(ProviderStore(engine).row("ac")["id"])
    sim.set_faults(path="/v1/events", fail_always_status=500)
    with Running(engine, keyring) as worker:
        assert _until(lambda: worker.saw("ac: refreshed")), worker.lines
        assert _until(lambda: worker.saw("ac: event stream failed")), worker.lines
    status = EventLog(engine).status(ems_id)
    assert status is not None and "answered 500" in status["last_event_error"]
    assert ProviderStore(engine).row("ac")["last_refresh_error"] is None
