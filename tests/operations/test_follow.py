"""Provisioning tasks nobody waits for, followed (``pipeline.follow_requests`` and the worker):
the simulator over loopback HTTP -> SQLite and PostgreSQL.

Provisioned without waiting, the tasks stay active while the instances are creating; the
next check once they run brings the new VMs in (a targeted refresh), links each task and
finishes the request, as ManageIQ's workers do. A task past its deadline, or whose instance
went into error, ends with status Error and a clear message, its VM never in the inventory.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from miqspec.pipeline import follow_requests, provision, refresh_provider, requests_of
from miqspec.simulator import Simulator
from miqspec.spec.load import load_spec
from miqspec.store.providers import ProviderStore
from miqspec.workers import run_worker

from ..conftest import AWESOME, sim_args

NAME = "ac"
DELAY = 0.4  # seconds a new instance stays "creating" at the simulator


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(instances=4, flavors=2, images=3, operation_delay=DELAY) as s:
        yield s


@pytest.fixture
def provider(engine: sa.Engine, keyring: Any, sim: Simulator) -> int:
    ems_id = ProviderStore(engine).add(load_spec(str(AWESOME)), NAME, sim_args(sim), keyring)
    assert refresh_provider(engine, NAME, keyring).ok
    return ems_id


def values(sim: Simulator, name: str = "web") -> dict[str, Any]:
    return {
        "vm_name": name,
        "template": sim.data.images[0]["id"],
        "flavor": sim.data.flavors[0]["id"],
    }


def vms(engine: sa.Engine, prefix: str) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(sa.text("select name, id from vms where template = :f"), {"f": False})
        return {n: i for n, i in rows if n.startswith(prefix)}


def running(sim: Simulator, prefix: str, count: int) -> None:
    """Wait (at most 10 s) until ``count`` instances named ``prefix...`` run at the simulator."""
    limit = time.monotonic() + 10
    while time.monotonic() < limit:
        made = [i for i in sim.data.instances if i["name"].startswith(prefix)]
        if len(made) == count and all(i["power_state"] == "running" for i in made):
            return
        time.sleep(0.05)
    raise AssertionError(f"{prefix}* not running at the simulator")


def test_follow_brings_the_new_vms_in_and_finishes_the_request(
    engine: sa.Engine, keyring: Any, sim: Simulator, provider: int
) -> None:
    out = provision(engine, NAME, keyring, values(sim), count=3, wait=False)
    assert not out.failed and out.request["state"] == "active"
    early = follow_requests(engine, keyring, NAME)  # still creating: nothing ends
    assert (early.checked, early.waiting, early.finished) == (3, 3, [])
    assert vms(engine, "web_") == {}
    running(sim, "web_", 3)
    done = follow_requests(engine, keyring, NAME)
    assert done.checked == 3 and done.waiting == 0 and not done.failed
    assert done.refreshed == {NAME: "targeted"}
    assert done.requests[out.request_id]["status"] == "Ok"
    rows = vms(engine, "web_")
    assert set(rows) == {"web_0001", "web_0002", "web_0003"}
    [request] = requests_of(engine, NAME)
    assert (request["state"], request["status"]) == ("finished", "Ok")
    assert request["message"] == "Provisioned 3 of 3"
    for task in request["tasks"]:
        assert (task["state"], task["status"]) == ("finished", "Ok")
        assert task["destination_id"] == rows[task["options"]["vm_name"]]
    again = follow_requests(engine, keyring)  # nothing open any more
    assert (again.checked, again.finished) == (0, [])


def test_the_worker_follows_tasks_once_per_pass(
    engine: sa.Engine, keyring: Any, sim: Simulator, provider: int
) -> None:
    out = provision(engine, NAME, keyring, values(sim, "wk"), count=2, wait=False)
    running(sim, "wk_", 2)
    lines: list[str] = []
    run_worker(engine, keyring, stop=threading.Event(), log=lines.append, once=True, events=False)
    assert any(f"request {out.request_id} finished Ok: Provisioned 2 of 2" in x for x in lines)
    assert sum("provisioning task" in x and " Ok: wk_000" in x for x in lines) == 2
    assert set(vms(engine, "wk_")) == {"wk_0001", "wk_0002"}
    [request] = requests_of(engine, NAME)
    assert all(t["destination_id"] for t in request["tasks"])


def test_a_task_past_its_deadline_ends_with_error(engine: sa.Engine, keyring: Any) -> None:
    with Simulator(instances=2, flavors=1, images=1, operation_delay=3600) as sim:
        ProviderStore(engine).add(load_spec(str(AWESOME)), NAME, sim_args(sim), keyring)
        assert refresh_provider(engine, NAME, keyring).ok
        out = provision(engine, NAME, keyring, values(sim, "slow"), count=2, wait=False)
        assert follow_requests(engine, keyring, NAME).waiting == 2  # within its deadline
        with engine.begin() as conn:  # the first task was made 11 minutes ago (deadline 600 s)
            conn.execute(
                sa.text("update miq_request_tasks set created_on = :t where id = :i"),
                {"t": _ago(660), "i": out.tasks[0].task_id},
            )
        result = follow_requests(engine, keyring, NAME)
        assert result.waiting == 1 and len(result.failed) == 1
        assert result.failed[0].message == (
            "provisioning: timed out after 600 s waiting for \"power_state == 'running'\" "
            f"(slow_0001, {out.tasks[0].ems_ref})"
        )
        with engine.begin() as conn:
            conn.execute(sa.text("update miq_request_tasks set created_on = :t"), {"t": _ago(660)})
        follow_requests(engine, keyring, NAME)
    [request] = requests_of(engine, NAME)
    assert (request["state"], request["status"]) == ("finished", "Error")
    assert request["message"] == "Provisioned 0 of 2; 2 failed"
    for task in request["tasks"]:
        assert (task["state"], task["status"]) == ("finished", "Error")
        assert "timed out after 600 s" in task["message"] and task["destination_id"] is None
    assert vms(engine, "slow") == {}  # nothing half-made in the inventory


def test_an_instance_gone_into_error_ends_its_task_with_error(
    engine: sa.Engine, keyring: Any, sim: Simulator, provider: int
) -> None:
    out = provision(engine, NAME, keyring, values(sim, "bad"), count=2, wait=False)
    broken = out.tasks[0].ems_ref
    assert broken is not None
    sim._api.dataset.update_instance(broken, {"power_state": "error"})  # the provider fails it
    running(sim, "bad_0002", 1)
    result = follow_requests(engine, keyring, NAME)
    [failed] = result.failed
    assert (
        failed.message
        == "provisioning: the provider reports a failure: the instance went into error"
    )
    assert result.requests[out.request_id]["status"] == "Warn"
    assert set(vms(engine, "bad_")) == {"bad_0002"}


def _ago(seconds: float) -> datetime:
    return datetime.now(UTC).replace(tzinfo=None) - timedelta(seconds=seconds)
