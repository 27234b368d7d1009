"""The operator's kit (issue 15): ``provider edit`` keeping the inventory, unknown form fields
refused with a did-you-mean, spec paths stored absolute, clear errors where there were internal
ones. Through the command line, on SQLite and PostgreSQL, against the real simulator."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from miqspec import api
from miqspec.cli.app import main
from miqspec.simulator import Simulator

from ..conftest import AWESOME

SECRET = "sim-secret"
NEW_SECRET = "rotated-secret"
Run = Callable[..., str]


@pytest.fixture
def cli(migrated_db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Run]:
    monkeypatch.setenv("MIQSPEC_DATABASE_URL", migrated_db_url)
    monkeypatch.setenv("MIQSPEC_KEY_FILE", str(tmp_path / "key" / "v2_key"))
    monkeypatch.setenv("AC_SECRET", SECRET)
    monkeypatch.setenv("AC_NEW_SECRET", NEW_SECRET)
    runner = CliRunner()

    def run(*args: str, code: int = 0, stdin: str | None = None) -> str:
        result = runner.invoke(main, list(args), input=stdin, catch_exceptions=False)
        output = result.stdout + result.stderr
        assert result.exit_code == code, output
        assert "Traceback" not in output and "internal error" not in output
        assert SECRET not in output and NEW_SECRET not in output
        return output

    yield run


def add(cli: Run, sim: Simulator, spec: str = str(AWESOME), *extra: str, code: int = 0) -> str:
    return cli(
        "provider",
        "add",
        spec,
        "--name",
        "ac1",
        "--region",
        "us-east-1",
        "--set",
        f"endpoints.default.url={sim.url}",
        "--set",
        f"authentications.default.userid={sim.options.access_key}",
        "--secret-env",
        "authentications.default.password=AC_SECRET",
        *extra,
        code=code,
    )


def vm_ids(url: str) -> dict[str, int]:
    """The saved vms, ems_ref -> row id, read straight from the database."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT ems_ref, id FROM vms")).all()
    finally:
        engine.dispose()
    return {str(ref): int(rid) for ref, rid in rows}


def show(cli: Run) -> dict[str, object]:
    return dict(json.loads(cli("provider", "show", "ac1", "--format", "json")))


def test_edit_moves_the_endpoint_and_secret_and_keeps_the_inventory(
    cli: Run, migrated_db_url: str
) -> None:
    with Simulator(instances=6, flavors=2, images=3) as old:
        add(cli, old)
        assert json.loads(cli("refresh", "ac1", "--format", "json"))[0]["ok"]
    before = vm_ids(migrated_db_url)
    assert before
    with Simulator(instances=6, flavors=2, images=3, secret_key=NEW_SECRET) as new:
        # the stored secret is the old one: the new simulator refuses it
        cli("provider", "edit", "ac1", "--set", f"endpoints.default.url={new.url}")
        assert "invalid" in cli("provider", "verify", "ac1", code=3).lower()
        out = cli(
            "provider",
            "edit",
            "ac1",
            "--secret-env",
            "authentications.default.password=AC_NEW_SECRET",
        )
        assert "edited provider 'ac1'" in out
        assert "valid" in cli("provider", "verify", "ac1").lower()
        result = json.loads(cli("refresh", "ac1", "--format", "json"))[0]
    assert result["ok"]
    assert vm_ids(migrated_db_url) == before
    assert result["collections"]["vms"]["created"] == 0
    info = show(cli)
    assert info["region"] == "us-east-1" and len(info["children"]) == 2  # type: ignore[arg-type]


def test_edit_changes_nothing_it_is_not_given(cli: Run, migrated_db_url: str) -> None:
    with Simulator(instances=2, flavors=1, images=1) as sim:
        add(cli, sim)
        before = show(cli)
        cli("provider", "edit", "ac1", "--zone", "east")
        after = show(cli)
        assert after["zone"] == "east"
        assert {k: v for k, v in after.items() if k != "zone"} == {
            k: v for k, v in before.items() if k != "zone"
        }
        assert "valid" in cli("provider", "verify", "ac1").lower()


def test_edit_refuses_bad_changes_and_changes_nothing(cli: Run) -> None:
    with Simulator(instances=2, flavors=1, images=1) as sim:
        add(cli, sim)
        before = show(cli)
        cases = [
            (["--set", "endpoints.default.prot=1"], "did you mean endpoints.default.url?"),
            (["--set", "authentications.default.userd=x"], "authentications.default.userid"),
            (["--set", "authentications.default.password=x"], "is a secret"),
            (["--region", "mars-1"], "not one of awesome_cloud's regions"),
            (["--set", "endpoints.default.url=http://u:p@h"], "holds a password"),
            (["--set", "authentications.default.userid="], "missing required field"),
            ([], "nothing to change"),
            (["--prompt", "authentications.default.password"], "needs a terminal"),
            (["--prompt", "authentications.default.userid"], "not a secret field"),
        ]
        for extra, message in cases:
            out = cli("provider", "edit", "ac1", *extra, code=2)
            assert message in out, (extra, out)
            assert out.count("\n") == 1, out
        assert show(cli) == before
        assert "valid" in cli("provider", "verify", "ac1").lower()
        assert "no provider named 'nope'" in cli("provider", "edit", "nope", "--zone", "x", code=10)


def test_add_refuses_an_unknown_field_with_a_did_you_mean(cli: Run) -> None:
    with Simulator(instances=1, flavors=1, images=1) as sim:
        out = add(cli, sim, str(AWESOME), "--set", "endpoints.default.prot=1", code=2)
        assert "no field 'endpoints.default.prot'; did you mean endpoints.default.url?" in out
        out = add(cli, sim, str(AWESOME), "--set", "zzz=1", code=2)
        assert "its fields: provider_region, endpoints.default.url" in out
        out = add(
            cli, sim, str(AWESOME), "--secret-file", "authentications.default.pasword=/x", code=2
        )
        assert "--secret-file" in out and "authentications.default.password" in out
    assert "no providers" in cli("provider", "list")


def test_a_relative_spec_path_is_stored_absolute_and_edit_repoints_a_moved_spec(
    cli: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    here = tmp_path / "specs"
    here.mkdir()
    text = AWESOME.read_text()
    assert "\n  name: awesome_cloud\n" in text
    (here / "orbit.yaml").write_text(text.replace("\n  name: awesome_cloud\n", "\n  name: orbit\n"))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    with Simulator(instances=3, flavors=1, images=1) as sim:
        monkeypatch.chdir(here)
        add(cli, sim, "orbit.yaml")
        monkeypatch.chdir(elsewhere)
        assert show(cli)["spec_path"] == str((here / "orbit.yaml").resolve())
        assert json.loads(cli("refresh", "ac1", "--format", "json"))[0]["ok"]
        moved = elsewhere / "moved.yaml"
        (here / "orbit.yaml").rename(moved)
        assert "not found at" in cli("refresh", "ac1", code=10)
        cli("provider", "edit", "ac1", "--spec", "moved.yaml")
        assert show(cli)["spec_path"] == str(moved.resolve())
        assert json.loads(cli("refresh", "ac1", "--format", "json"))[0]["ok"]


def test_edit_refuses_a_spec_of_another_provider_kind(cli: Run) -> None:
    with Simulator(instances=1, flavors=1, images=1) as sim:
        add(cli, sim)
        out = cli("provider", "edit", "ac1", "--spec", "awx", code=2)
        assert "is a awesome_cloud provider" in out and "for awx" in out


def test_delete_without_a_terminal_asks_for_yes(cli: Run) -> None:
    with Simulator(instances=1, flavors=1, images=1) as sim:
        add(cli, sim)
        out = cli("provider", "delete", "ac1", code=2, stdin="")
        assert "pass --yes" in out
        assert "ac1" in cli("provider", "list")
        assert "deleted provider 'ac1'" in cli("provider", "delete", "ac1", "--yes")


@pytest.mark.parametrize(
    ("spec", "args", "names"),
    [
        ("awx", {}, ["endpoints.default.url", "authentications.default.password"]),
        ("nsxt", {"endpoints": {"default": {"port": 443}}}, ["endpoints.default.hostname"]),
        ("awesome_cloud", {"provider_region": "mars-1"}, ["mars-1", "us-east-1"]),
    ],
)
def test_class_level_verify_names_a_missing_required_field(
    spec: str, args: dict[str, object], names: list[str]
) -> None:
    result = CliRunner().invoke(main, ["verify", spec, "--args", "-"], input=json.dumps(args))
    assert result.exit_code == 2, result.output
    assert all(n in result.stderr for n in names), result.stderr
    assert result.stderr.count("\n") == 1
    with pytest.raises(api.UsageError):
        api.verify(api.load_spec(spec), args)


# -- logging --------------------------------------------------------------------------------


def test_vv_traces_every_request_on_stderr_and_stdout_is_unchanged(cli: Run) -> None:
    runner = CliRunner()
    with Simulator(instances=3, flavors=1, images=1) as sim:
        add(cli, sim)
        quiet = runner.invoke(main, ["refresh", "ac1", "--dry-run"])
        traced = runner.invoke(main, ["-vv", "refresh", "ac1", "--dry-run"])
    assert quiet.exit_code == traced.exit_code == 0, traced.output
    assert "miqspec.http" not in quiet.stderr
    trace = [line for line in traced.stderr.splitlines() if " DEBUG miqspec.http: " in line]
    assert any(f"POST {sim.url}" in line and " 200 " in line for line in trace), trace
    assert any(f"GET {sim.url}" in line and line.endswith(" bytes") for line in trace), trace
    assert "miqspec.http" not in traced.stdout
    assert SECRET not in traced.stderr


def test_log_level_from_the_environment(cli: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    with Simulator(instances=1, flavors=1, images=1) as sim:
        add(cli, sim)
        monkeypatch.setenv("MIQSPEC_LOG_LEVEL", "debug")
        result = CliRunner().invoke(main, ["provider", "verify", "ac1"])
        assert result.exit_code == 0 and " DEBUG miqspec.http: POST " in result.stderr
        monkeypatch.setenv("MIQSPEC_LOG_LEVEL", "chatty")
        out = cli("provider", "list", code=2)
        assert "MIQSPEC_LOG_LEVEL must be one of DEBUG, INFO" in out and "'CHATTY'" in out


def test_the_request_trace_masks_the_session_secrets(caplog: pytest.LogCaptureFixture) -> None:
    from miqspec.connect import HttpClient

    with Simulator(instances=1, flavors=1, images=1) as sim:
        client = HttpClient(secrets=lambda: [SECRET])
        try:
            with caplog.at_level(logging.DEBUG, logger="miqspec.http"):
                resp = client.send_once("GET", f"{sim.url}/nothing", params={"key": SECRET})
        finally:
            client.close()
    (record,) = [r for r in caplog.records if r.name == "miqspec.http"]
    assert SECRET not in record.getMessage() and "key=********" in record.getMessage()
    assert record.__dict__["status"] == resp.status and record.__dict__["bytes"] == len(resp.body)


def test_the_worker_logs_json_lines(cli: Run) -> None:
    with Simulator(instances=2, flavors=1, images=1) as sim:
        add(cli, sim)
        result = CliRunner().invoke(main, ["--log-format", "json", "worker", "--once"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stderr.splitlines()]
    events = {line["event"]: line for line in lines if line["logger"] == "miqspec.worker"}
    assert list(events) == ["started", "refreshed", "stopped"]
    refreshed = events["refreshed"]
    assert refreshed["provider"] == "ac1" and refreshed["level"] == "INFO"
    assert refreshed["rows"] > 0 and refreshed["time"].endswith("Z")
    assert refreshed["message"] in result.stdout


# -- the demo's own database ------------------------------------------------------------------


def test_the_demo_database_is_its_own_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("MIQSPEC_DATABASE_URL", f"sqlite:///{tmp_path / 'users.db'}")
    assert api.demo_database_url() == f"sqlite:///{home / 'demo.db'}"
    with api.open_database() as users:
        assert api.provider_names(users) == []
    with api.open_database(api.demo_database_url()) as db:
        result = api.run_demo(db, instances=3, flavors=1, images=1)
        assert result.ok and api.provider_names(db) == [api.DEMO_NAME]
    with api.open_database() as users:
        assert api.provider_names(users) == []
    assert (home / "demo.db").is_file()


# -- shell completion -------------------------------------------------------------------------


def complete(words: str, **env: str) -> str:
    script = Path(sys.executable).parent / "miqspec"
    cword = str(len(words.split()) - (0 if words.endswith(" ") else 1))
    return subprocess.run(
        [str(script)],
        env={
            **os.environ,
            "_MIQSPEC_COMPLETE": "bash_complete",
            "COMP_WORDS": words,
            "COMP_CWORD": cword,
            **env,
        },
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout


def test_shell_completion_as_documented() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "cli.md").read_text()
    assert 'eval "$(_MIQSPEC_COMPLETE=bash_source miqspec)"' in doc
    script = Path(sys.executable).parent / "miqspec"
    for shell in ("bash", "zsh", "fish"):
        source = subprocess.run(
            [str(script)],
            env={**os.environ, "_MIQSPEC_COMPLETE": f"{shell}_source"},
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout
        assert "_MIQSPEC_COMPLETE" in source, shell
    assert "plain,edit" in complete("miqspec provider ed").splitlines()
    assert "plain,--log-format" in complete("miqspec --log-").splitlines()


def test_provider_names_complete_from_the_database(
    cli: Run, migrated_db_url: str, tmp_path: Path
) -> None:
    with Simulator(instances=1, flavors=1, images=1) as sim:
        add(cli, sim)
    env = {"MIQSPEC_DATABASE_URL": migrated_db_url}
    assert complete("miqspec provider show a", **env).splitlines() == ["plain,ac1"]
    assert complete("miqspec provider edit x", **env).split() == []
    missing = tmp_path / "none" / "x.db"
    gone = {"MIQSPEC_DATABASE_URL": f"sqlite:///{missing}"}
    assert complete("miqspec provider show a", **gone).split() == []
    assert not missing.exists() and not missing.parent.exists()


# -- archived rows ----------------------------------------------------------------------------


def test_inventory_archived_shows_the_disconnected_rows(
    migrated_db_url: str, tmp_path: Path
) -> None:
    from ..conftest import sim_args

    with api.open_database(migrated_db_url, key_file=tmp_path / "v2_key") as db:
        spec = api.load_spec("awesome_cloud")
        with Simulator(instances=5, flavors=1, images=1) as sim:
            api.add_provider(db, spec, "ac1", sim_args(sim))
            assert api.refresh(db, "ac1").ok
        all_vms = {r["ems_ref"] for r in api.read_inventory(db, "ac1", "vms").rows}
        assert api.read_inventory(db, "ac1", "vms", archived=True).rows == []
        with Simulator(instances=3, flavors=1, images=1) as fewer:
            api.edit_provider(db, "ac1", {"endpoints.default.url": fewer.url})
            result = api.refresh(db, "ac1", allow_mass_delete=True)
        assert result.ok, result.error
        kept = {r["ems_ref"] for r in api.read_inventory(db, "ac1", "vms").rows}
        archived = api.read_inventory(db, "ac1", "vms", archived=True)
        gone = {r["ems_ref"] for r in archived.rows}
        assert gone and kept and gone | kept == all_vms and not gone & kept
        assert all(r["ems_id"] is None for r in archived.rows)
        assert archived.columns and "ems_ref" in archived.columns
        assert len(api.read_inventory(db, "ac1", "vms", archived=True, limit=1).rows) == 1
        with pytest.raises(api.UsageError, match="never disconnected"):
            api.read_inventory(db, "ac1", "flavors", archived=True)


def test_demo_writes_to_its_own_database_never_the_default(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from miqspec.cli import main

    home = tmp_path / "home"
    default = tmp_path / "mine.db"
    monkeypatch.setenv("MIQSPEC_HOME", str(home))
    monkeypatch.setenv("MIQSPEC_DATABASE_URL", f"sqlite:///{default}")
    result = CliRunner().invoke(
        main, ["demo", "--instances", "5", "--flavors", "2", "--images", "2"]
    )
    assert result.exit_code == 0, result.output
    assert (home / "demo.db").is_file()
    assert not default.exists()
    assert "--database" in result.output


def test_inventory_csv_and_archived(tmp_path, monkeypatch):
    import csv
    import io

    from click.testing import CliRunner

    from miqspec.cli import main

    monkeypatch.setenv("MIQSPEC_HOME", str(tmp_path / "home"))
    runner = CliRunner()
    assert runner.invoke(main, ["demo", "--instances", "7", "--images", "2"]).exit_code == 0
    url = f"sqlite:///{tmp_path / 'home' / 'demo.db'}"
    out = runner.invoke(
        main, ["inventory", "--database", url, "Awesome Cloud demo", "vms", "--format", "csv"]
    )
    assert out.exit_code == 0, out.output
    parsed = list(csv.DictReader(io.StringIO(out.output)))
    assert len(parsed) == 7
    assert all(r["name"] for r in parsed)
    archived = runner.invoke(
        main, ["inventory", "--database", url, "Awesome Cloud demo", "vms", "--archived"]
    )
    assert archived.exit_code == 0, archived.output
    assert "no rows" in archived.output  # nothing has left the API yet
    counts_csv = runner.invoke(
        main, ["inventory", "--database", url, "Awesome Cloud demo", "--format", "csv"]
    )
    assert counts_csv.exit_code == 2
