"""VM operations end to end: the simulator over loopback HTTP -> SQLite and PostgreSQL.

Start/stop/suspend/reboot/destroy as awesome_cloud declares them: ManageIQ's unsupported
reasons refuse without a request or a write; the transitional raw_power_state is written at
once; --wait polls until the instance settles and the refresh brings the row up to date;
destroy disconnects exactly that row; two operations on one VM at once are refused; nothing
runs for invalid credentials or an archived row; a provider failure (fault flags) changes
nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from miqspec import operations
from miqspec.errors import ApiError, CredentialsError, NotFoundError, UnsupportedError
from miqspec.pipeline import find_object, object_rows, refresh_provider, run_operation
from miqspec.simulator import Simulator
from miqspec.spec.load import load_spec
from miqspec.store import spec_metadata
from miqspec.store.providers import ProviderStore

from ..conftest import AWESOME, sim_args

NAME = "ac"


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(instances=12, flavors=2, images=2, operation_delay=0.3) as s:
        yield s


@pytest.fixture
def provider(engine: sa.Engine, keyring: Any, sim: Simulator) -> int:
    ems_id = ProviderStore(engine).add(load_spec(str(AWESOME)), NAME, sim_args(sim), keyring)
    assert refresh_provider(engine, NAME, keyring).ok
    return ems_id


def vm_in(sim: Simulator, state: str) -> dict[str, Any]:
    return next(i for i in sim.data.instances if i["power_state"] == state)


def stored(engine: sa.Engine, ems_ref: str) -> dict[str, Any]:
    with engine.connect() as conn:
        row = (
            conn.execute(sa.text("select * from vms where ems_ref = :r"), {"r": ems_ref})
            .mappings()
            .one()
        )
    return dict(row)


def test_stop_waits_and_refreshes(
    engine: sa.Engine, keyring: Any, sim: Simulator, provider: int
) -> None:
    vm = vm_in(sim, "running")
    result = run_operation(engine, NAME, keyring, "vms", vm["name"], "stop", wait=True)
    assert result.outcome.finished and result.outcome.waited
    assert result.outcome.raw_power_state == "stopping"
    assert result.refreshed == "targeted"
    row = stored(engine, vm["id"])
    assert (row["raw_power_state"], row["power_state"]) == ("stopped", "off")
    assert result.row is not None and result.row["power_state"] == "off"
    assert sim.stats().get(f"/v1/instances/{vm['id']}/stop") == 1


def test_start_without_wait_writes_the_transitional_state(
    engine: sa.Engine, keyring: Any, sim: Simulator, provider: int
) -> None:
    vm = vm_in(sim, "stopped")
    result = run_operation(engine, NAME, keyring, "vms", vm["id"], "start")
    assert not result.outcome.waited and result.refreshed is None
    row = stored(engine, vm["id"])
    assert row["raw_power_state"] == "starting"
    assert row["power_state"] == "powering_up"
    assert row["previous_state"] == "stopped"
    assert row["state_changed_on"] is not None


@pytest.mark.parametrize(
    ("state", "op", "reason"),
    [
        ("running", "start", "The VM is powered on"),
        ("stopped", "stop", "The VM is not powered on"),
        ("suspended", "suspend", "The VM is not powered on"),
        ("stopped", "reboot_guest", "The VM is not powered on"),
        ("running", "pause", "Feature not available/supported"),
    ],
)
def test_unsupported_is_refused_and_changes_nothing(
    engine: sa.Engine, keyring: Any, sim: Simulator, provider: int, state: str, op: str, reason: str
) -> None:
    vm = vm_in(sim, state)
    before = stored(engine, vm["id"])
    with pytest.raises(UnsupportedError, match=reason) as err:
        run_operation(engine, NAME, keyring, "vms", vm["name"], op)
    assert err.value.exit_code == 13
    assert stored(engine, vm["id"]) == before
    assert not any("/start" in p or "/stop" in p for p in sim.stats())


def test_list_and_show_give_supports(engine: sa.Engine, provider: int, sim: Simulator) -> None:
    _spec, rows = object_rows(engine, NAME, "vms")
    assert len(rows) == 12
    for row in rows:
        if row["power_state"] == "on":
            assert row["supports"]["start"] == "The VM is powered on"
            assert row["supports"]["stop"] is None
        else:
            assert row["supports"]["stop"] == "The VM is not powered on"
        assert row["supports"]["destroy"] is None
    shown = find_object(engine, NAME, "vms", rows[0]["ems_ref"])
    assert shown["name"] == rows[0]["name"] and shown["archived"] is False
    with pytest.raises(NotFoundError, match="did you mean"):
        find_object(engine, NAME, "vms", rows[0]["name"] + "x")


def test_destroy_disconnects_exactly_that_row(
    engine: sa.Engine, keyring: Any, sim: Simulator, provider: int
) -> None:
    vm = vm_in(sim, "running")
    others = {
        r["ems_ref"]: r for r in object_rows(engine, NAME, "vms")[1] if r["ems_ref"] != vm["id"]
    }
    result = run_operation(engine, NAME, keyring, "vms", vm["name"], "destroy", wait=True)
    assert result.outcome.removed == "disconnected"
    row = stored(engine, vm["id"])
    assert row["ems_id"] is None and row["raw_power_state"] == "unknown"
    after = {r["ems_ref"]: r for r in object_rows(engine, NAME, "vms")[1]}
    assert set(after) == set(others)
    assert all(after[k]["updated_on"] == others[k]["updated_on"] for k in others)
    assert vm["id"] not in {i["id"] for i in sim.data.instances}
    # an archived row: never operated on again
    with pytest.raises(UnsupportedError, match="not connected to an active Provider"):
        run_operation(engine, NAME, keyring, "vms", vm["id"], "start")


def test_two_operations_on_one_vm_at_once(
    engine: sa.Engine, keyring: Any, sim: Simulator, provider: int
) -> None:
    vm = vm_in(sim, "running")
    row = stored(engine, vm["id"])
    with operations.OperationLock(engine, "vms", row["id"], "stop", "VM x", 60):
        with pytest.raises(
            operations.OperationBusyError, match="operation 'stop' runs on it"
        ) as err:
            run_operation(engine, NAME, keyring, "vms", vm["id"], "stop")
        assert err.value.exit_code == 8
    assert stored(engine, vm["id"])["raw_power_state"] == "running"
    # at the same time from two threads: one runs, the other is refused
    outcomes: list[Any] = []

    def one() -> None:
        try:
            outcomes.append(
                run_operation(engine, NAME, keyring, "vms", vm["id"], "stop", wait=True)
            )
        except (operations.OperationBusyError, UnsupportedError) as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=one) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(isinstance(o, Exception) for o in outcomes) == 1
    assert sim.stats().get(f"/v1/instances/{vm['id']}/stop") == 1


def test_invalid_credentials_refuse(
    engine: sa.Engine, keyring: Any, sim: Simulator, provider: int
) -> None:
    vm = vm_in(sim, "running")
    ProviderStore(engine).record_auth_status(provider, "Invalid", "login answered 401")
    with pytest.raises(CredentialsError, match="invalid credentials"):
        run_operation(engine, NAME, keyring, "vms", vm["id"], "stop")
    assert stored(engine, vm["id"])["raw_power_state"] == "running"
    assert not sim.stats().get(f"/v1/instances/{vm['id']}/stop")


def test_provider_failure_changes_nothing(
    engine: sa.Engine, keyring: Any, sim: Simulator, provider: int
) -> None:
    vm = vm_in(sim, "running")
    sim.set_faults(fail_always_status=500, path="/stop")
    with pytest.raises(ApiError, match="answered 500") as err:
        run_operation(engine, NAME, keyring, "vms", vm["id"], "stop")
    assert err.value.exit_code == 5
    assert stored(engine, vm["id"])["raw_power_state"] == "running"
    assert sim.stats().get(f"/v1/instances/{vm['id']}/stop") == 1  # not retried


def test_wait_times_out(engine: sa.Engine, keyring: Any, sim: Simulator, tmp_path: Any) -> None:
    text = AWESOME.read_text(encoding="utf-8").replace(
        """        until: "power_state == 'stopped'"
        interval: 1
        deadline: 300""",
        """        until: "power_state == 'never'"
        interval: 0.1
        deadline: 0.5""",
    )
    path = tmp_path / "slow.yaml"
    path.write_text(text, encoding="utf-8")
    ProviderStore(engine).add(load_spec(str(path)), NAME, sim_args(sim), keyring)
    assert refresh_provider(engine, NAME, keyring).ok
    vm = vm_in(sim, "running")
    with pytest.raises(ApiError, match=r"timed out after 0\.5 s waiting for") as err:
        run_operation(engine, NAME, keyring, "vms", vm["id"], "stop", wait=True)
    assert err.value.exit_code == 5
    # the transitional state stays until a refresh (ManageIQ leaves it so too)
    assert stored(engine, vm["id"])["raw_power_state"] == "stopping"


def test_failed_when_ends_the_wait(
    engine: sa.Engine, keyring: Any, sim: Simulator, tmp_path: Any
) -> None:
    text = AWESOME.read_text(encoding="utf-8").replace(
        """        until: "power_state == 'stopped'"
""",
        """        until: "power_state == 'stopped'"
        failed_when: "power_state == 'stopping' && 'the instance refused to stop'"
""",
    )
    path = tmp_path / "failing.yaml"
    path.write_text(text, encoding="utf-8")
    ProviderStore(engine).add(load_spec(str(path)), NAME, sim_args(sim), keyring)
    assert refresh_provider(engine, NAME, keyring).ok
    vm = vm_in(sim, "running")
    with pytest.raises(ApiError, match="the provider reports a failure: the instance refused"):
        run_operation(engine, NAME, keyring, "vms", vm["id"], "stop", wait=True)


def test_remove_row_follows_the_delete_rule(engine: sa.Engine, provider: int) -> None:
    spec = load_spec(str(AWESOME))
    tables = spec_metadata(engine, spec).tables
    with engine.connect() as conn:
        flavor_ids = [r[0] for r in conn.execute(sa.text("select id from flavors order by id"))]
        vm_ids = [r[0] for r in conn.execute(sa.text("select id from vms order by id"))]
    flavors = spec.catalogue.collections["flavors"]  # delete: delete
    assert (
        operations.remove_row(engine, tables["flavors"], flavors, flavor_ids[0], str) == "deleted"
    )
    vms = spec.catalogue.collections["vms"]  # delete: disconnect
    got = operations.remove_row(engine, tables["vms"], vms, vm_ids[0], spec.provider.power_state)
    assert got == "disconnected"
    with engine.connect() as conn:
        left = [r[0] for r in conn.execute(sa.text("select id from flavors order by id"))]
        owners = dict(conn.execute(sa.text("select id, ems_id from vms")).all())
    assert left == flavor_ids[1:]
    assert owners[vm_ids[0]] is None and all(owners[i] == provider for i in vm_ids[1:])


def test_refused_credentials_change_nothing(
    engine: sa.Engine, keyring: Any, sim: Simulator, provider: int
) -> None:
    vm = vm_in(sim, "running")
    changes = {"authentications.default.password": "wrong-secret"}
    ProviderStore(engine).edit(NAME, changes, keyring, load_spec(str(AWESOME)))
    with pytest.raises(CredentialsError) as err:
        run_operation(engine, NAME, keyring, "vms", vm["id"], "stop")
    assert err.value.exit_code == 3 and "wrong-secret" not in str(err.value)
    assert stored(engine, vm["id"])["raw_power_state"] == "running"
    assert not sim.stats().get(f"/v1/instances/{vm['id']}/stop")
