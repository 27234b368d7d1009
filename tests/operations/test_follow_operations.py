"""Operations run without waiting are recorded as tasks (``miq_tasks``) and followed to their
end (``pipeline.follow_requests``, the worker): the simulator over loopback HTTP -> SQLite and
PostgreSQL.

A stop not waited for is an Active task; once the instance stopped, the next check refreshes
the row (targeted) and finishes the task Ok. A destroy disconnects exactly its row. An
operation past its deadline ends Error with a clear message and its row is refreshed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from miqspec.pipeline import follow_requests, refresh_provider, run_operation, tasks_of
from miqspec.simulator import Simulator
from miqspec.spec.load import load_spec
from miqspec.store.providers import ProviderStore
from miqspec.workers import run_worker

from ..conftest import AWESOME, sim_args

NAME = "ac"


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(instances=8, flavors=2, images=2, operation_delay=0.3) as s:
        yield s


@pytest.fixture
def provider(engine: sa.Engine, keyring: Any, sim: Simulator) -> int:
    ems_id = ProviderStore(engine).add(load_spec(str(AWESOME)), NAME, sim_args(sim), keyring)
    assert refresh_provider(engine, NAME, keyring).ok
    return ems_id


def stored(engine: sa.Engine, ems_ref: str) -> dict[str, Any]:
    with engine.connect() as conn:
        query = sa.text("select * from vms where ems_ref = :r")
        return dict(conn.execute(query, {"r": ems_ref}).mappings().one())


def settled(sim: Simulator, instance_id: str, state: str | None) -> None:
    """Wait (at most 10 s) until the instance is in ``state`` (None: gone) at the simulator."""
    limit = time.monotonic() + 10
    while time.monotonic() < limit:
        found = [i for i in sim.data.instances if i["id"] == instance_id]
        if (found[0]["power_state"] if found else None) == state:
            return
        time.sleep(0.05)
    raise AssertionError(f"{instance_id} never {state}")


def test_a_stop_not_waited_for_is_a_task_the_follow_up_finishes(
    engine: sa.Engine, keyring: Any, sim: Simulator, provider: int
) -> None:
    vm = next(i for i in sim.data.instances if i["power_state"] == "running")
    result = run_operation(engine, NAME, keyring, "vms", vm["name"], "stop")
    assert result.task_id is not None and not result.outcome.finished
    [task] = tasks_of(engine, NAME)
    assert (task["state"], task["status"], task["identifier"]) == (
        "Active",
        "Ok",
        f"vms/{stored(engine, vm['id'])['id']}",
    )
    assert task["context_data"]["operation"] == "stop"
    assert stored(engine, vm["id"])["raw_power_state"] == "stopping"
    settled(sim, vm["id"], "stopped")
    lines: list[str] = []
    run_worker(engine, keyring, stop=threading.Event(), log=lines.append, once=True, events=False)
    assert any(f"operation task {result.task_id}" in x and "Ok" in x for x in lines), lines
    row = stored(engine, vm["id"])
    assert (row["raw_power_state"], row["power_state"]) == ("stopped", "off")
    [task] = tasks_of(engine, NAME)
    assert (task["state"], task["status"], task["pct_complete"]) == ("Finished", "Ok", 100)
    assert follow_requests(engine, keyring, NAME).checked == 0


def test_a_destroy_not_waited_for_disconnects_exactly_its_row(
    engine: sa.Engine, keyring: Any, sim: Simulator, provider: int
) -> None:
    vm = next(i for i in sim.data.instances if i["power_state"] == "stopped")
    result = run_operation(engine, NAME, keyring, "vms", vm["name"], "destroy")
    early = follow_requests(engine, keyring, NAME)
    assert (early.checked, early.waiting) == (1, 1) or early.finished  # it may be gone already
    settled(sim, vm["id"], None)
    done = follow_requests(engine, keyring)
    followed = [*early.finished, *done.finished]
    assert [(t.task_id, t.kind, t.status) for t in followed] == [
        (result.task_id, "operation", "Ok")
    ]
    assert followed[0].message.endswith("done; row disconnected")
    row = stored(engine, vm["id"])
    assert row["ems_id"] is None and row["raw_power_state"] == "unknown"
    with engine.connect() as conn:
        query = sa.text("select count(*) from vms where ems_id is not null and template = :f")
        assert conn.execute(query, {"f": False}).scalar() == len(sim.data.instances)


def test_an_operation_past_its_deadline_ends_with_error(engine: sa.Engine, keyring: Any) -> None:
    with Simulator(instances=4, flavors=1, images=1, operation_delay=3600) as sim:
        ProviderStore(engine).add(load_spec(str(AWESOME)), NAME, sim_args(sim), keyring)
        assert refresh_provider(engine, NAME, keyring).ok
        vm = next(i for i in sim.data.instances if i["power_state"] == "stopped")
        result = run_operation(engine, NAME, keyring, "vms", vm["name"], "start")
        assert follow_requests(engine, keyring, NAME).waiting == 1
        ago = datetime.now(UTC).replace(tzinfo=None) - timedelta(seconds=400)  # deadline 300 s
        with engine.begin() as conn:
            conn.execute(sa.text("update miq_tasks set created_on = :t"), {"t": ago})
        out = follow_requests(engine, keyring, NAME)
    [failed] = out.failed
    assert failed.task_id == result.task_id and failed.kind == "operation"
    assert failed.message == (
        "operations.vms.start: timed out after 300 s waiting for \"power_state == 'running'\" "
        f"(start of VM {vm['name']!r})"
    )
    [task] = tasks_of(engine, NAME)
    assert (task["state"], task["status"]) == ("Finished", "Error")
    assert out.refreshed == {NAME: "targeted"}  # the row shows the provider's state again


def test_a_second_operation_waits_for_the_first_tasks_end(
    engine: sa.Engine, keyring: Any, sim: Simulator, provider: int
) -> None:
    from miqspec.operations import OperationBusyError

    vm = next(i for i in sim.data.instances if i["power_state"] == "running")
    first = run_operation(engine, NAME, keyring, "vms", vm["name"], "stop")
    assert first.task_id is not None
    with pytest.raises(OperationBusyError, match=rf"task {first.task_id}\) has not ended") as err:
        run_operation(engine, NAME, keyring, "vms", vm["name"], "destroy")
    assert err.value.exit_code == 8
    assert any(i["id"] == vm["id"] for i in sim.data.instances)  # nothing was sent
    settled(sim, vm["id"], "stopped")
    follow_requests(engine, keyring, NAME)  # the stop's task ends
    [task] = tasks_of(engine, NAME)
    assert task["state"] == "Finished"
    second = run_operation(engine, NAME, keyring, "vms", vm["name"], "destroy")
    assert second.task_id is not None
