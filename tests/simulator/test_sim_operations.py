"""The simulator's instance operations and provisioning (simulator.operations) over HTTP.

Asynchronous states that change after ``operation_delay`` seconds, 409 for an action from the
wrong state or on an instance already changing, a quota, creates checked against the data,
the bearer token required, faults applied, events recorded, mutations of a changing
instance not crashing, and no change after stop.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from miqspec.errors import UsageError
from miqspec.simulator import Simulator


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(instances=12, flavors=2, images=2, operation_delay=0.3, instance_quota=14) as s:
        yield s


def headers(sim: Simulator) -> dict[str, str]:
    body = {"access_key": sim.options.access_key, "secret_key": sim.options.secret_key}
    token = requests.post(sim.url + "/auth/tokens", json=body, timeout=5).json()["token"]
    return {"Authorization": f"Bearer {token}"}


def state(sim: Simulator, instance_id: str) -> Any:
    found = [i for i in sim.data.instances if i["id"] == instance_id]
    return found[0]["power_state"] if found else None


def until(sim: Simulator, instance_id: str, wanted: Any, seconds: float = 5.0) -> None:
    end = time.monotonic() + seconds
    while state(sim, instance_id) != wanted:
        assert time.monotonic() < end, f"{instance_id} stayed {state(sim, instance_id)}"
        time.sleep(0.05)


@pytest.mark.parametrize(
    ("start", "action", "transitional", "final"),
    [
        ("running", "stop", "stopping", "stopped"),
        ("running", "suspend", "suspending", "suspended"),
        ("running", "reboot", "rebooting", "running"),
        ("stopped", "start", "starting", "running"),
        ("suspended", "start", "starting", "running"),
    ],
)
def test_actions_are_asynchronous(
    sim: Simulator, start: str, action: str, transitional: str, final: str
) -> None:
    h = headers(sim)
    vm = next(i for i in sim.data.instances if i["power_state"] == start)
    resp = requests.post(f"{sim.url}/instances/{vm['id']}/{action}", headers=h, timeout=5)
    assert resp.status_code == 202 and resp.json()["power_state"] == transitional
    again = requests.post(f"{sim.url}/instances/{vm['id']}/{action}", headers=h, timeout=5)
    assert again.status_code == 409 and transitional in again.json()["error"]
    assert (
        requests.get(f"{sim.url}/instances/{vm['id']}", headers=h, timeout=5).json()["power_state"]
        == transitional
    )
    until(sim, vm["id"], final)


def test_wrong_state_unknown_and_unauthorised(sim: Simulator) -> None:
    h = headers(sim)
    vm = next(i for i in sim.data.instances if i["power_state"] == "running")
    resp = requests.post(f"{sim.url}/instances/{vm['id']}/start", headers=h, timeout=5)
    assert resp.status_code == 409 and "it is running" in resp.json()["error"]
    assert requests.post(f"{sim.url}/instances/nope/stop", headers=h, timeout=5).status_code == 404
    assert (
        requests.post(f"{sim.url}/instances/{vm['id']}/fly", headers=h, timeout=5).status_code
        == 404
    )
    assert requests.post(f"{sim.url}/instances/{vm['id']}/stop", timeout=5).status_code == 401
    assert state(sim, vm["id"]) == "running"


def test_delete_and_events(sim: Simulator) -> None:
    h = headers(sim)
    vm = sim.data.instances[0]
    resp = requests.delete(f"{sim.url}/instances/{vm['id']}", headers=h, timeout=5)
    assert resp.status_code == 202 and resp.json()["power_state"] == "deleting"
    until(sim, vm["id"], None)
    assert requests.get(f"{sim.url}/instances/{vm['id']}", headers=h, timeout=5).status_code == 404
    events = requests.get(f"{sim.url}/events", headers=h, timeout=5).json()["items"]
    assert [e["type"] for e in events if e["resource_id"] == vm["id"]] == [
        "instance.power_changed",
        "instance.deleted",
    ]


def test_create_quota_and_checks(sim: Simulator) -> None:
    h = headers(sim)
    image, flavor = sim.data.images[0]["id"], sim.data.flavors[0]["id"]
    body = {"name": "n1", "image": image, "flavor": flavor, "availability_zone": "us-east-1b"}
    resp = requests.post(f"{sim.url}/instances", headers=h, json=body, timeout=5)
    assert resp.status_code == 202
    new = resp.json()
    assert (new["name"], new["power_state"], new["image"]) == ("n1", "creating", image)
    assert new["availability_zone"] == "us-east-1b"
    until(sim, new["id"], "running")
    for bad, why in (
        ({"image": image}, "name is required"),
        ({"name": "x", "image": "nope"}, "unknown image"),
        ({"name": "x", "flavor": "nope"}, "unknown flavor"),
    ):
        resp = requests.post(f"{sim.url}/instances", headers=h, json=bad, timeout=5)
        assert resp.status_code == 400 and why in resp.json()["error"]
    assert requests.post(f"{sim.url}/instances", headers=h, json={"name": "n2"}, timeout=5).ok
    over = requests.post(f"{sim.url}/instances", headers=h, json={"name": "n3"}, timeout=5)
    assert over.status_code == 409 and "quota exceeded: 14 of 14" in over.json()["error"]


def test_faults_apply_to_operations(sim: Simulator) -> None:
    h = headers(sim)
    vm = next(i for i in sim.data.instances if i["power_state"] == "running")
    sim.set_faults(fail_always_status=503, path="/stop")
    resp = requests.post(f"{sim.url}/instances/{vm['id']}/stop", headers=h, timeout=5)
    assert resp.status_code == 503 and state(sim, vm["id"]) == "running"


def test_mutation_of_a_changing_instance_and_stop(sim: Simulator) -> None:
    h = headers(sim)
    for vm in sim.data.instances:
        action = "stop" if vm["power_state"] == "running" else "start"
        requests.post(f"{sim.url}/instances/{vm['id']}/{action}", headers=h, timeout=5)
    sim.mutate(change=5, power=5)  # transitional instances move on without an error
    assert all(i["power_state"] in ("running", "stopped", "suspended", "stopping", "starting")
               for i in sim.data.instances)  # fmt: skip
    sim.stop()
    before = {i["id"]: i["power_state"] for i in sim.data.instances}
    time.sleep(0.5)
    assert {i["id"]: i["power_state"] for i in sim.data.instances} == before


def test_options_are_checked() -> None:
    with pytest.raises(UsageError, match="operation_delay"):
        Simulator(operation_delay=-1)
    with pytest.raises(UsageError, match="instance_quota"):
        Simulator(instance_quota=-2)
