"""``miqspec metrics capture|show|report`` and the worker's capture, through the command line
and the public API, on SQLite and PostgreSQL with the simulator over HTTP."""

from __future__ import annotations

import csv
import io
import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from miqspec import api
from miqspec.cli import main
from miqspec.simulator import Simulator

from ..conftest import AWESOME, REPO

SECRET = "sim-secret"
Run = Callable[..., str]


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(instances=8, flavors=2, images=2) as s:
        yield s


@pytest.fixture
def cli(migrated_db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Run]:
    monkeypatch.setenv("MIQSPEC_DATABASE_URL", migrated_db_url)
    monkeypatch.setenv("MIQSPEC_KEY_FILE", str(tmp_path / "key" / "v2_key"))
    monkeypatch.setenv("AC_SECRET", SECRET)
    runner = CliRunner()

    def run(*args: str, code: int = 0) -> str:
        result = runner.invoke(main, list(args), catch_exceptions=False)
        output = result.stdout + result.stderr
        assert result.exit_code == code, output
        assert "Traceback" not in output and "internal error" not in output
        assert SECRET not in output
        return output

    yield run


def add(cli: Run, sim: Simulator, spec: Path = AWESOME, name: str = "ac") -> None:
    cli("provider", "add", str(spec), "--name", name, "--region", "us-east-1",
        "--set", f"endpoints.default.url={sim.url}",
        "--set", f"authentications.default.userid={sim.options.access_key}",
        "--secret-env", "authentications.default.password=AC_SECRET")  # fmt: skip
    cli("refresh", name)


def test_capture_show_and_report(cli: Run, sim: Simulator) -> None:
    add(cli, sim)
    out = cli("metrics", "capture", "ac")
    assert "metrics of" in out and "target(s) captured" in out
    captured = json.loads(cli("metrics", "capture", "ac", "--format", "json"))
    assert captured["failed"] == {} and captured["targets"] > 0
    vm = next(r for r in api.read_inventory(api.open_database(), "ac", "vms").rows
              if r["power_state"] == "on")  # fmt: skip
    text = cli("metrics", "show", "ac", vm["name"])
    assert "realtime row(s) since" in text
    assert "cpu_usage_rate_average" in text and "average" in text
    assert "┌" in text and "(KB/s)" in text  # plotext frames and each counter title
    rows = json.loads(cli("metrics", "show", "ac", vm["ems_ref"], "--format", "json"))["rows"]
    assert len(rows) > 600 and rows[0]["cpu_usage_rate_average"] is not None
    shown = cli("metrics", "show", "ac", vm["name"], "--rollup", "hourly", "--format", "csv")
    hourly = list(csv.DictReader(io.StringIO(shown)))
    assert 4 <= len(hourly) <= 6 and all(int(h["intervals_in_rollup"]) > 0 for h in hourly)
    assert all(float(h["min_cpu_usage_rate_average"]) <= float(h["cpu_usage_rate_average"])
               <= float(h["max_cpu_usage_rate_average"]) for h in hourly)  # fmt: skip
    daily = cli("metrics", "show", "ac", vm["name"], "--rollup", "daily", "--format", "json")
    assert 1 <= len(json.loads(daily)["rows"]) <= 2  # --since 4h reaches back to its day's row
    report = list(csv.DictReader(io.StringIO(cli("metrics", "report", "ac", "--rollup", "daily"))))
    days = {r["timestamp"][:10] for r in report}
    assert len(report) == captured["targets"] * len(days)  # one row per VM per day
    assert len({(r["ems_ref"], r["timestamp"]) for r in report}) == len(report)
    assert "no vms row named 'unknown-vm'" in cli("metrics", "show", "ac", "unknown-vm", code=10)


def test_a_spec_without_metrics_is_a_usage_error(cli: Run, sim: Simulator, tmp_path: Path) -> None:
    lines, kept, in_call = AWESOME.read_text().split("\n"), [], False
    for line in lines:  # without the metrics call and the metrics section
        if line in ("  get_instance_metrics:", "metrics:"):
            in_call = True
        elif in_call and not line.startswith("  "):
            in_call = False
        if not in_call:
            kept.append(line)
    plain = tmp_path / "plain.yaml"
    plain.write_text("\n".join(kept))
    add(cli, sim, plain, "plain")
    out = cli("metrics", "capture", "plain", code=2)
    assert "declares no metrics" in out


def test_the_worker_captures_due_targets(cli: Run, sim: Simulator) -> None:
    add(cli, sim)
    lines: list[str] = []
    with api.open_database() as db:
        api.run_worker(db, stop=threading.Event(), log=lines.append, once=True)
        assert any("metrics of" in line and "target(s) captured" in line for line in lines), lines
        series = api.metrics_series(db, "ac", next(
            r["name"] for r in api.read_inventory(db, "ac", "vms").rows if r["power_state"] == "on"
        ))  # fmt: skip
        assert series.rows
        again = api.capture_metrics(db, "ac", due_only=True)
        assert again.targets == 0  # captured less than capture_threshold (50 min) ago


def test_docs_name_the_commands() -> None:
    doc = (REPO / "docs" / "cli.md").read_text()
    for command in ("miqspec metrics capture", "miqspec metrics show", "miqspec metrics report"):
        assert command in doc
