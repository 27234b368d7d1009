"""Provisioning end to end: the simulator over loopback HTTP -> SQLite and PostgreSQL.

A request and its tasks stored as ManageIQ stores them (pending -> active -> finished, status
Ok/Error/Warn, options with the form values, the new VM linked); choices from the inventory
by value or label; a quota or an API failure ends tasks with Error and leaves nothing
half-made in the inventory; without waiting, tasks stay active.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from miqspec.errors import UsageError
from miqspec.operations import provisioning_dialog
from miqspec.pipeline import provision, provisioning_rows, refresh_provider, requests_of
from miqspec.simulator import Simulator
from miqspec.spec.load import load_spec
from miqspec.store.providers import ProviderStore

from ..conftest import AWESOME, sim_args

NAME = "ac"


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(instances=4, flavors=2, images=3, operation_delay=0.2) as s:
        yield s


@pytest.fixture
def provider(engine: sa.Engine, keyring: Any, sim: Simulator) -> int:
    ems_id = ProviderStore(engine).add(load_spec(str(AWESOME)), NAME, sim_args(sim), keyring)
    assert refresh_provider(engine, NAME, keyring).ok
    return ems_id


def values(sim: Simulator, **more: Any) -> dict[str, Any]:
    return {
        "vm_name": "web",
        "template": sim.data.images[0]["name"],  # by its label
        "flavor": sim.data.flavors[1]["id"],  # by its value
        **more,
    }


def vm_names(engine: sa.Engine) -> set[str]:
    with engine.connect() as conn:
        names = conn.execute(sa.text("select name from vms where template = :f"), {"f": False})
        return {n for (n,) in names}


def test_provision_three_and_wait(
    engine: sa.Engine, keyring: Any, sim: Simulator, provider: int
) -> None:
    out = provision(engine, NAME, keyring, values(sim), count=3, wait=True)
    assert [t.name for t in out.tasks] == ["web_0001", "web_0002", "web_0003"]
    assert not out.failed and all(t.row_id for t in out.tasks)
    assert out.request["state"] == "finished" and out.request["status"] == "Ok"
    assert {"web_0001", "web_0002", "web_0003"} <= vm_names(engine)
    [request] = requests_of(engine, NAME)
    assert request["type"] == "MiqProvisionRequest" and request["approval_state"] == "approved"
    assert request["options"]["template"] == sim.data.images[0]["id"]
    assert request["options"]["number_of_vms"] == 3
    for task in request["tasks"]:
        assert (task["state"], task["status"]) == ("finished", "Ok")
        assert task["destination_type"] == "VmOrTemplate" and task["destination_id"]
        assert task["options"]["vm_name"].startswith("web_")
        assert task["type"] == "ManageIQ::Providers::AwesomeCloud::CloudManager::Provision"
    created = [i for i in sim.data.instances if i["name"].startswith("web_")]
    assert {i["image"] for i in created} == {sim.data.images[0]["id"]}


def test_quota_ends_tasks_with_error_and_nothing_half_made(engine: sa.Engine, keyring: Any) -> None:
    with Simulator(instances=4, flavors=2, images=3, operation_delay=0.2, instance_quota=5) as sim:
        ProviderStore(engine).add(load_spec(str(AWESOME)), NAME, sim_args(sim), keyring)
        assert refresh_provider(engine, NAME, keyring).ok
        out = provision(engine, NAME, keyring, values(sim), count=3, wait=True)
    errors = [t.error for t in out.tasks if t.error]
    assert len(errors) == 2 and all("quota exceeded" in e for e in errors)
    assert out.request["status"] == "Warn"
    assert out.request["message"] == "Provisioned 1 of 3; 2 failed"
    assert len([n for n in vm_names(engine) if n.startswith("web_")]) == 1


def test_api_failure_leaves_the_inventory_as_it_was(
    engine: sa.Engine, keyring: Any, sim: Simulator, provider: int
) -> None:
    before = vm_names(engine)
    sim.set_faults(fail_always_status=500, path="/v1/instances")
    out = provision(engine, NAME, keyring, values(sim), count=2, wait=True)
    assert len(out.failed) == 2 and "answered 500" in str(out.failed[0].error)
    assert (out.request["state"], out.request["status"]) == ("finished", "Error")
    assert vm_names(engine) == before


def test_without_wait_tasks_stay_active(
    engine: sa.Engine, keyring: Any, sim: Simulator, provider: int
) -> None:
    out = provision(engine, NAME, keyring, values(sim, vm_name="db"), wait=False)
    assert out.tasks[0].ems_ref and out.tasks[0].name == "db"
    [request] = requests_of(engine, NAME)
    assert request["state"] == "active"
    assert request["tasks"][0]["state"] == "active"
    assert "next refresh" in request["tasks"][0]["message"]


def test_values_are_checked(engine: sa.Engine, keyring: Any, sim: Simulator, provider: int) -> None:
    with pytest.raises(UsageError, match="did you mean 'flavor'"):
        provision(engine, NAME, keyring, {**values(sim), "flavour": "x"})
    with pytest.raises(UsageError, match="'template' is required"):
        provision(engine, NAME, keyring, {"vm_name": "x", "flavor": sim.data.flavors[0]["id"]})
    with pytest.raises(UsageError, match="is not one of the choices"):
        provision(engine, NAME, keyring, values(sim, flavor="nope"))
    with pytest.raises(UsageError, match="count must be 1 to 100"):
        provision(engine, NAME, keyring, values(sim), count=101)
    assert requests_of(engine, NAME) == []


def test_dialog_choices_from_the_inventory(
    engine: sa.Engine, sim: Simulator, provider: int
) -> None:
    spec = load_spec(str(AWESOME))
    dialog = provisioning_dialog(spec.provisioning, provisioning_rows(engine, NAME))
    fields = {f["name"]: f for f in dialog["fields"]}
    assert fields["vm_name"]["component"] == "text-field" and fields["vm_name"]["id"] == "vm_name"
    assert {o["value"] for o in fields["template"]["options"]} == {i["id"] for i in sim.data.images}
    assert {o["label"] for o in fields["flavor"]["options"]} == {
        f["name"] for f in sim.data.flavors
    }
    assert "options_from" not in fields["flavor"]
    empty = provisioning_dialog(spec.provisioning)
    assert [f["options"] for f in empty["fields"] if "options" in f] == [[], [], []]
