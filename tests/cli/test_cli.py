"""The command line against the simulator and a real SQLite file: providers, verify, form."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from miqspec.cli.app import main
from miqspec.simulator import Simulator

from ..conftest import AWESOME, sim_args

SECRET = "sim-secret"


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(instances=15, flavors=4, images=5) as s:
        yield s


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    db = tmp_path / "cli.db"
    monkeypatch.setenv("MIQSPEC_DATABASE_URL", f"sqlite:///{db}")
    monkeypatch.setenv("MIQSPEC_KEY_FILE", str(tmp_path / "key" / "v2_key"))
    monkeypatch.setenv("AC_SECRET", SECRET)
    runner = CliRunner()

    def run(*args: str, code: int = 0) -> str:
        result = runner.invoke(main, list(args), catch_exceptions=False)
        output = result.output + (result.stderr if result.stderr_bytes is not None else "")
        assert result.exit_code == code, output
        assert "Traceback" not in output
        assert SECRET not in output
        return output

    run.db = db  # type: ignore[attr-defined]
    return run


def add(  # type: ignore[no-untyped-def]
    cli, sim: Simulator, name: str = "ac1", region: str = "us-east-1", code: int = 0, spec: str = ""
) -> str:
    return cli(
        "provider",
        "add",
        spec or str(AWESOME),
        "--name",
        name,
        "--region",
        region,
        "--set",
        f"endpoints.default.url={sim.url}",
        "--set",
        f"authentications.default.userid={sim.options.access_key}",
        "--secret-env",
        "authentications.default.password=AC_SECRET",
        code=code,
    )


def test_add_list_show_verify_refresh_delete(cli, sim):
    assert "added provider 'ac1'" in add(cli, sim)
    listing = cli("provider", "list")
    assert "ac1" in listing and "us-east-1" in listing
    show = json.loads(cli("provider", "show", "ac1", "--format", "json"))
    assert show["region"] == "us-east-1" and show["auth_status"] is None
    assert len(show["children"]) == 2
    assert "ac1: valid" in cli("provider", "verify", "ac1")
    assert json.loads(cli("provider", "show", "ac1", "--format", "json"))["auth_status"] == "Valid"
    out = json.loads(cli("refresh", "ac1", "--format", "json"))
    assert out[0]["ok"] and out[0]["collections"]["vms"]["created"] == 15
    again = json.loads(cli("refresh", "ac1", "--format", "json"))
    assert again[0]["rows_written"] == 0
    inv = cli("inventory", "ac1", "vms", "--limit", "3")
    flavor_names = {f["name"] for f in sim.data.flavors}
    assert any(name in inv for name in flavor_names)  # references shown by name
    assert "deleted provider 'ac1'" in cli("provider", "delete", "ac1", "--yes")
    assert "no providers" in cli("provider", "list")


def test_secret_is_encrypted_in_the_database_file(cli, sim):
    add(cli, sim)
    raw = cli.db.read_bytes()
    wal = Path(str(cli.db) + "-wal")
    raw += wal.read_bytes() if wal.exists() else b""
    assert SECRET.encode() not in raw
    assert b"v2:{" in raw


def test_secret_on_the_command_line_is_refused(cli, sim):
    out = cli(
        "provider",
        "add",
        str(AWESOME),
        "--name",
        "x",
        "--region",
        "us-east-1",
        "--set",
        f"authentications.default.password={SECRET}x",
        code=2,
    )
    assert "is a secret" in out


def test_wrong_region_and_missing_field(cli, sim):
    out = add(cli, sim, region="mars-1", code=2)
    assert "region 'mars-1' is not one of" in out
    out = cli(
        "provider",
        "add",
        str(AWESOME),
        "--name",
        "y",
        "--region",
        "us-east-1",
        "--secret-env",
        "authentications.default.password=AC_SECRET",
        code=2,
    )
    assert "missing required field(s): authentications.default.userid" in out


def test_invalid_credentials_and_unreachable_have_distinct_codes(cli, sim, monkeypatch):
    monkeypatch.setenv("AC_SECRET", "wrong-one")
    add(cli, sim, name="bad")
    out = cli("provider", "verify", "bad", code=3)
    assert "invalid" in out and "wrong-one" not in out
    assert (
        json.loads(cli("provider", "show", "bad", "--format", "json"))["auth_status"] == "Invalid"
    )
    monkeypatch.setenv("AC_SECRET", SECRET)
    cli(
        "provider",
        "add",
        str(AWESOME),
        "--name",
        "down",
        "--region",
        "us-east-1",
        "--set",
        "endpoints.default.url=http://127.0.0.1:9/v1",
        "--set",
        "authentications.default.userid=AKIA-SIM",
        "--secret-env",
        "authentications.default.password=AC_SECRET",
    )
    out = cli("provider", "verify", "down", code=4)
    assert "unreachable" in out and "127.0.0.1:9" in out
    out = cli("refresh", "down", "--quiet", code=4)
    assert "FAILED" in out


def test_class_level_verify_with_manageiq_argument_hash(cli, sim, tmp_path):
    args = {
        "type": "ManageIQ::Providers::AwesomeCloud::CloudManager",
        "zone_id": 1,
        "provider_region": "us-east-1",
        "endpoints": {"default": {"url": sim.url}},
        "authentications": {"default": {"userid": sim.options.access_key, "password": SECRET}},
    }
    path = tmp_path / "args.json"
    path.write_text(json.dumps(args))
    assert "valid" in cli("verify", str(AWESOME), "--args", str(path))
    args["authentications"]["default"]["password"] = "nope-nope"
    path.write_text(json.dumps(args))
    out = cli("verify", str(AWESOME), "--args", str(path), code=3)
    assert "invalid" in out


def test_class_level_verify_accepts_encrypted_password(cli, sim, tmp_path, monkeypatch):
    from miqspec.store.credentials import KeyRing

    ring = KeyRing.load()
    args = {
        "provider_region": "us-east-1",
        "endpoints": {"default": {"url": sim.url}},
        "authentications": {
            "default": {"userid": sim.options.access_key, "password": ring.encrypt(SECRET)}
        },
    }
    path = tmp_path / "args.json"
    path.write_text(json.dumps(args))
    assert "valid" in cli("verify", str(AWESOME), "--args", str(path))


def test_form_json_is_shaped_for_the_manageiq_ui(cli):
    form = json.loads(cli("form", str(AWESOME)))
    region, subform = form["fields"]
    assert region == {
        "component": "select",
        "id": "provider_region",
        "name": "provider_region",
        "label": "Region",
        "isRequired": True,
        "validate": [{"type": "required"}],
        "options": [
            {"label": "<Choose>", "value": ""},
            {"label": "US East 1", "value": "us-east-1"},
        ],
    }
    validate = subform["fields"][0]
    assert validate["component"] == "validate-provider-credentials"
    assert validate["validationDependencies"] == ["type", "zone_id", "provider_region"]
    names = [f["name"] for f in validate["fields"]]
    assert names == [
        "endpoints.default.url",
        "authentications.default.userid",
        "authentications.default.password",
    ]
    assert validate["fields"][2]["type"] == "password"
    assert "options_from" not in json.dumps(form)


def test_regions(cli):
    assert "us-east-1.awesome.cloud" in cli("regions", str(AWESOME))


def test_dry_run_writes_nothing(cli, sim):
    add(cli, sim)
    out = cli("refresh", "ac1", "--dry-run")
    assert "Dry run" in out and "nothing was written" in out
    counts = json.loads(cli("inventory", "ac1", "--format", "json"))
    assert counts["vms"] == 0


def test_unknown_provider_is_not_found(cli):
    out = cli("refresh", "nope", code=10)  # no database yet: read commands do not create one
    assert "no database at" in out and not cli.db.exists()
    assert "created database" in cli("db")
    out = cli("refresh", "nope", code=10)
    assert "no provider named 'nope'" in out


def test_keys_rotate_keeps_credentials_usable(cli, sim):
    add(cli, sim)
    assert "re-encrypted 1" in cli("keys", "rotate")
    assert "ac1: valid" in cli("provider", "verify", "ac1")


def test_provider_added_by_shipped_name_refers_to_it_by_name(cli, sim, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no file called awesome_cloud here
    assert "added provider 'byname'" in add(cli, sim, name="byname", spec="awesome_cloud")
    assert "awesome_cloud (shipped with miqspec)" in cli("provider", "show", "byname")
    show = json.loads(cli("provider", "show", "byname", "--format", "json"))
    assert show["spec_path"] == "shipped:awesome_cloud"
    assert "byname: valid" in cli("provider", "verify", "byname")
    assert json.loads(cli("refresh", "byname", "--format", "json"))[0]["ok"]


def test_provider_added_from_a_file_keeps_its_path(cli, sim, tmp_path):
    copy = tmp_path / "specs" / "my_cloud.yaml"
    copy.parent.mkdir()
    copy.write_text(AWESOME.read_text())
    add(cli, sim, name="byfile", spec=str(copy))
    assert f"{copy.resolve()} (file)" in cli("provider", "show", "byfile")
    show = json.loads(cli("provider", "show", "byfile", "--format", "json"))
    assert show["spec_path"] == str(copy.resolve())


def test_spec_commands_take_a_shipped_name(cli, sim, tmp_path):
    assert json.loads(cli("form", "awesome_cloud")) == json.loads(cli("form", str(AWESOME)))
    assert cli("regions", "awesome_cloud") == cli("regions", str(AWESOME))
    assert cli("validate", "awesome_cloud", str(AWESOME)) == "2 spec(s) valid\n"
    args = tmp_path / "args.json"
    args.write_text(json.dumps(sim_args(sim)))
    assert "awesome_cloud: valid" in cli("verify", "awesome_cloud", "--args", str(args))


def test_an_existing_file_wins_over_a_shipped_name(cli, sim, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    text = AWESOME.read_text()
    assert "us-east-1.awesome.cloud" in text
    Path("awesome_cloud").write_text(text.replace("us-east-1.awesome.cloud", "local.example"))
    assert "local.example" in cli("regions", "awesome_cloud")
    add(cli, sim, name="local", spec="awesome_cloud")
    assert f"{(tmp_path / 'awesome_cloud').resolve()} (file)" in cli("provider", "show", "local")


def test_neither_a_file_nor_a_shipped_name_cannot_be_read(cli, sim, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert "no_such_spec:1:1: cannot read" in cli("form", "no_such_spec", code=1)
    assert "cannot read" in cli("regions", "no_such_spec", code=1)
    assert "cannot read" in add(cli, sim, spec="no_such_spec", code=1)
    assert "no_such_spec: no such file" in cli("validate", "no_such_spec", code=2)
