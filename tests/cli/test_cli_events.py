"""``miqspec refresh --target``, ``miqspec events`` and ``miqspec inventory NAME events``:
output, JSON, and one-line errors with their exit codes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from miqspec.cli.app import main
from miqspec.simulator import Simulator

from ..conftest import AWESOME

SECRET = "sim-secret"


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(instances=12, flavors=3, images=3) as s:
        yield s


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("MIQSPEC_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("MIQSPEC_KEY_FILE", str(tmp_path / "key" / "v2_key"))
    monkeypatch.setenv("AC_SECRET", SECRET)
    runner = CliRunner()

    def run(*args: str, code: int = 0) -> str:
        result = runner.invoke(main, list(args), catch_exceptions=False)
        output = result.output + (result.stderr if result.stderr_bytes is not None else "")
        assert result.exit_code == code, output
        assert "Traceback" not in output and SECRET not in output
        return output

    return run


def _added(cli, sim: Simulator, spec: Path = AWESOME) -> None:  # type: ignore[no-untyped-def]
    cli("provider", "add", str(spec), "--name", "ac1", "--region", "us-east-1",
        "--set", f"endpoints.default.url={sim.url}",
        "--set", f"authentications.default.userid={sim.options.access_key}",
        "--secret-env", "authentications.default.password=AC_SECRET")  # fmt: skip
    cli("refresh", "ac1", "--quiet")


def test_refresh_target_text_and_json(cli, sim) -> None:  # type: ignore[no-untyped-def]
    _added(cli, sim)
    hit = sim.mutate(change=1, remove=1)
    changed, removed = hit["changed"][0], hit["removed"][0]
    out = cli("refresh", "ac1", "--target", f"vms:{changed}", "--target", f"vms:{removed}")
    assert "targeted refresh of 2 target(s)" in out
    assert f"gone: vms:{removed}" in out
    data = json.loads(cli("refresh", "ac1", "--target", f"vms:{changed}", "--format", "json"))
    assert data["ok"] and data["targets"] == [f"vms:{changed}"] and data["gone"] == []
    assert data["saved"]["vms"]["unchanged"] == 1


def test_refresh_target_errors(cli, sim) -> None:  # type: ignore[no-untyped-def]
    _added(cli, sim)
    assert "has no target rule" in cli("refresh", "ac1", "--target", "availability_zones:x", code=2)
    assert "COLLECTION:MANAGER_REF" in cli("refresh", "ac1", "--target", "vms", code=2)
    assert "--target refreshes one NAME" in cli("refresh", "--all", "--target", "vms:x", code=2)
    sim.set_faults(path="/v1/instances/", fail_always_status=500)
    ref = sim.data.instances[0]["id"]
    out = cli("refresh", "ac1", "--target", f"vms:{ref}", code=5)
    assert f"failed: vms:{ref}:" in out and "answered 500" in out


def test_events_once_and_inventory_events(cli, sim) -> None:  # type: ignore[no-untyped-def]
    _added(cli, sim)
    sim.mutate(change=2, add=1)
    out = cli("events", "ac1", "--once")
    assert "3 event(s) stored (3 read, 0 duplicate(s), 0 ignored), 3 target(s)" in out
    again = json.loads(cli("events", "ac1", "--once", "--format", "json"))
    assert again["stored"] == 0 and again["cursor"] == {"value": 3}
    table = cli("inventory", "ac1", "events")
    assert "instance.updated" in table and "instance.created" in table
    rows = json.loads(cli("inventory", "ac1", "events", "--format", "json", "--limit", "2"))
    assert len(rows) == 2 and rows[0]["type"] == "EmsEvent"
    assert isinstance(rows[0]["full_data"], dict) and rows[0]["source"] == "AWESOME_CLOUD"
    sim.set_faults(path="/v1/events", fail_always_status=500)
    assert "get_events" in cli("events", "ac1", "--once", code=5)
    status = json.loads(cli("events", "ac1", "--status", "--format", "json"))
    assert "answered 500" in status["last_event_error"] and status["events_stored"] == 3
    assert "last_event_error" in cli("events", "ac1", "--status")


def test_events_needs_an_events_section(cli, sim, tmp_path) -> None:  # type: ignore[no-untyped-def]
    text = AWESOME.read_text()
    spec = tmp_path / "no_events.yaml"
    spec.write_text(text[: text.index("\nevents:")].replace("{{ events.cursor or 0 }}", "0"))
    _added(cli, sim, spec)
    assert "has no events section" in cli("events", "ac1", "--once", code=2)
    assert "nope" in cli("events", "nope", "--once", code=10)
