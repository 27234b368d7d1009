"""``miqspec vm``, ``miqspec provision``, ``miqspec requests`` and ``form --provisioning``
through the command line (click's runner), on SQLite and PostgreSQL, against the simulator:
documented exit codes (13 unsupported, 8 busy, 2 not confirmed), --wait printing the new
state, --format json, destroy asking unless --yes."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from miqspec.cli.app import main
from miqspec.simulator import Simulator

from ..conftest import AWESOME

SECRET = "sim-secret"
Run = Callable[..., str]


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(instances=12, flavors=2, images=2, operation_delay=0.2) as s:
        yield s


@pytest.fixture
def cli(
    migrated_db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sim: Simulator
) -> Run:
    monkeypatch.setenv("MIQSPEC_DATABASE_URL", migrated_db_url)
    monkeypatch.setenv("MIQSPEC_KEY_FILE", str(tmp_path / "key" / "v2_key"))
    monkeypatch.setenv("AC_SECRET", SECRET)
    runner = CliRunner()

    def run(*args: str, code: int = 0, stdin: str | None = None) -> str:
        result = runner.invoke(main, list(args), input=stdin, catch_exceptions=False)
        output = result.stdout + result.stderr
        assert result.exit_code == code, output
        assert "Traceback" not in output and "internal error" not in output
        assert SECRET not in output
        return output

    run(
        "provider", "add", str(AWESOME), "--name", "ac", "--region", "us-east-1",
        "--set", f"endpoints.default.url={sim.url}",
        "--set", f"authentications.default.userid={sim.options.access_key}",
        "--secret-env", "authentications.default.password=AC_SECRET",
    )  # fmt: skip
    run("refresh", "ac", "--quiet")
    return run


def first(sim: Simulator, state: str) -> dict[str, str]:
    return next(i for i in sim.data.instances if i["power_state"] == state)


def test_vm_list_and_show(cli: Run, sim: Simulator) -> None:
    out = cli("vm", "list", "ac")
    assert "supported operations" in out and "instance-000000" in out
    rows = json.loads(cli("vm", "list", "ac", "--format", "json"))
    assert len(rows) == 12
    vm = first(sim, "running")
    shown = cli("vm", "show", "ac", vm["name"])
    assert "no: The VM is powered on" in shown and "supports destroy       yes" in shown
    data = json.loads(cli("vm", "show", "ac", vm["id"], "--format", "json"))
    assert data["supports"]["stop"] is None
    assert "did you mean" in cli("vm", "show", "ac", "instance-00000", code=10)


def test_stop_wait_prints_the_new_state(cli: Run, sim: Simulator) -> None:
    vm = first(sim, "running")
    out = cli("vm", "stop", "ac", vm["name"], "--wait")
    assert "stop of 'instance" in out or f"stop of {vm['name']}" in out
    assert "power_state off (raw_power_state stopped); refreshed (targeted)" in out
    data = json.loads(cli("vm", "start", "ac", vm["name"], "--format", "json"))
    assert data["raw_power_state"] == "starting" and data["waited"] is False
    assert data["row"]["power_state"] == "powering_up"


def test_unsupported_exits_13(cli: Run, sim: Simulator) -> None:
    vm = first(sim, "running")
    out = cli("vm", "start", "ac", vm["name"], code=13)
    assert "start is not supported for VM" in out and "The VM is powered on" in out
    out = cli("vm", "run", "ac", vm["name"], "shelve", code=13)
    assert "Feature not available/supported" in out


def test_destroy_asks_unless_yes(cli: Run, sim: Simulator) -> None:
    vm = first(sim, "stopped")
    out = cli("vm", "destroy", "ac", vm["name"], code=2, stdin="n\n")
    assert "nothing was done" in out or "not a terminal" in out
    assert vm["id"] in {i["id"] for i in sim.data.instances}
    out = cli("vm", "destroy", "ac", vm["name"], "--yes", "--wait")
    assert "row disconnected" in out
    assert vm["id"] not in {i["id"] for i in sim.data.instances}


def test_provision_requests_and_form(cli: Run, sim: Simulator) -> None:
    dialog = json.loads(cli("form", str(AWESOME), "--provisioning", "--provider", "ac"))
    flavors = next(f for f in dialog["fields"] if f["name"] == "flavor")["options"]
    assert {o["label"] for o in flavors} == {f["name"] for f in sim.data.flavors}
    image, flavor = sim.data.images[0]["name"], sim.data.flavors[0]["name"]
    out = cli(
        "provision", "ac", "--set", "vm_name=app", "--set", f"template={image}",
        "--set", f"flavor={flavor}", "--count", "2", "--wait",
    )  # fmt: skip
    assert "request 1: finished Ok: Provisioned 2 of 2" in out
    assert "app_0001" in out and "app_0002" in out
    listed = json.loads(cli("requests", "ac", "--format", "json"))
    assert listed[0]["tasks"][1]["destination_id"]
    assert "Provisioned 2 of 2" in cli("requests")
    assert "is required" in cli("provision", "ac", "--set", "vm_name=x", code=2)
    sim.set_faults(fail_always_status=500, path="/v1/instances")
    out = cli(
        "provision", "ac", "--set", "vm_name=bad", "--set", f"template={sim.data.images[0]['id']}",
        "--set", f"flavor={sim.data.flavors[0]['id']}", "--format", "json", code=5,
    )  # fmt: skip
    assert json.loads(out)["request"]["status"] == "Error"


def test_requests_follow_finishes_what_provision_left_active(cli: Run, sim: Simulator) -> None:
    image, flavor = sim.data.images[0]["id"], sim.data.flavors[0]["id"]
    out = cli(
        "provision", "ac", "--set", "vm_name=later", "--set", f"template={image}",
        "--set", f"flavor={flavor}", "--count", "2",
    )  # fmt: skip
    assert "request 1: active" in out and "miqspec requests ac --follow" in out
    limit = time.monotonic() + 10
    while time.monotonic() < limit:
        made = [i for i in sim.data.instances if i["name"].startswith("later_")]
        if len(made) == 2 and all(i["power_state"] == "running" for i in made):
            break
        time.sleep(0.05)
    out = cli("requests", "ac", "--follow")
    assert "followed 2 open task(s): 2 finished (0 with Error), 0 still open" in out
    assert "task 1 (later_0001): Ok: later_0001 provisioned" in out
    assert "Provisioned 2 of 2" in out
    data = json.loads(cli("requests", "--follow", "--format", "json"))
    assert data["checked"] == 0 and data["requests"][0]["state"] == "finished"
    assert all(t["destination_id"] for t in data["requests"][0]["tasks"])
    assert "no provider named" in cli("requests", "nope", "--follow", code=10)


def test_an_operation_not_waited_for_is_a_task_follow_finishes(cli: Run, sim: Simulator) -> None:
    vm = first(sim, "running")
    out = cli("vm", "stop", "ac", vm["name"])
    assert "task 1: the worker (or miqspec requests --follow) finishes it" in out
    [task] = json.loads(cli("vm", "tasks", "ac", "--format", "json"))
    assert (task["state"], task["context_data"]["ems_ref"]) == ("Active", vm["id"])
    limit = time.monotonic() + 10
    while time.monotonic() < limit:
        if next(i for i in sim.data.instances if i["id"] == vm["id"])["power_state"] == "stopped":
            break
        time.sleep(0.05)
    out = cli("requests", "ac", "--follow")
    assert f"operation task 1 (stop of VM {vm['name']!r}): Ok" in out
    assert "Finished" in cli("vm", "tasks") and "no provider" in cli("vm", "tasks", "x", code=10)
