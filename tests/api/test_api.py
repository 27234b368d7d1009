"""The public Python API: its names, its documentation (whose worked example runs here against
the simulator into SQLite), spec references by path or shipped name, and the operations."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import miqspec
from miqspec import api
from miqspec.errors import NotFoundError, SpecError
from miqspec.simulator import Simulator

from ..conftest import AWESOME, REPO, sim_args

DOC = REPO / "docs" / "python-api.md"


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(instances=12, flavors=3, images=4) as s:
        yield s


@pytest.fixture
def db(tmp_path: Path) -> Iterator[api.Database]:
    with api.open_database(f"sqlite:///{tmp_path / 'api.db'}") as opened:
        yield opened


def worked_example() -> str:
    section = DOC.read_text().split("## Worked example", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert blocks, "docs/python-api.md has no worked example"
    return "\n".join(blocks)


def test_every_public_name_resolves_and_is_documented() -> None:
    assert set(miqspec.__all__) == {"__version__", *api.__all__}
    assert len(miqspec.__all__) == len(set(miqspec.__all__))
    documented = set(re.findall(r"`([A-Za-z_][A-Za-z0-9_]*)", DOC.read_text()))
    for name in api.__all__:
        assert getattr(miqspec, name) is getattr(api, name), name
        assert name in dir(miqspec), name
        assert name in documented, f"{name} is not described in docs/python-api.md"
    with pytest.raises(AttributeError):
        miqspec.no_such_name  # noqa: B018


def test_importing_errors_does_not_load_the_api() -> None:
    code = "import sys, miqspec.errors; print('miqspec.api' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "False"


def test_worked_example_runs_against_the_simulator(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    ns: dict[str, Any] = {}
    exec(compile(worked_example(), str(DOC), "exec"), ns)  # our own docs
    sim, result, vms, info = ns["sim"], ns["result"], ns["vms"], ns["info"]
    assert (tmp_path / "inventory.db").exists()
    assert info.spec_path == "shipped:awesome_cloud"
    assert result.ok and result.report.collections["vms"].created == len(sim.data.instances)
    assert ns["counts"]["vms"] == len(sim.data.instances)
    assert ns["counts"]["flavors"] == len(sim.data.flavors)
    assert len(vms.rows) == min(5, len(sim.data.instances))
    assert {r["flavor"] for r in vms.rows} <= {f["name"] for f in sim.data.flavors}
    assert "flavor" in vms.columns
    assert sim.options.secret_key not in capsys.readouterr().out


def test_spec_reference_by_path_or_shipped_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert "awesome_cloud" in api.shipped_specs()
    by_name = api.load_spec("awesome_cloud")
    assert by_name.provider.name == api.load_spec(AWESOME).provider.name
    assert api.validate_spec("awesome_cloud") == []
    monkeypatch.chdir(tmp_path)
    text = AWESOME.read_text()
    assert "us-east-1.awesome.cloud" in text
    Path("awesome_cloud").write_text(text.replace("us-east-1.awesome.cloud", "local.example"))
    assert api.spec_path("awesome_cloud") == Path("awesome_cloud")  # an existing file wins
    assert api.load_spec("awesome_cloud").regions[0].hostname == "local.example"
    with pytest.raises(SpecError, match="cannot read"):
        api.load_spec("no_such_spec")
    assert "cannot read" in api.validate_spec("no_such_spec")[0].message


def test_provider_from_a_file_keeps_its_path(db: api.Database, tmp_path: Path) -> None:
    copy = tmp_path / "my_cloud.yaml"
    copy.write_text(AWESOME.read_text())
    args = {
        "provider_region": "us-east-1",
        "endpoints": {"default": {"url": "http://127.0.0.1:9/v1"}},
        "authentications": {"default": {"userid": "AKIA-TEST", "password": "not-used"}},
    }
    info = api.add_provider(db, api.load_spec(copy), "mine", args)
    assert info.spec_path == str(copy.resolve())
    assert info.spec_source == f"{copy.resolve()} (file)"
    shipped = api.add_provider(db, api.load_spec("awesome_cloud"), "theirs", args)
    assert shipped.spec_source == "awesome_cloud (shipped with miqspec)"
    assert [i.name for i in api.list_providers(db)] == api.provider_names(db) == ["mine", "theirs"]
    assert api.delete_provider(db, "mine") == 1 + len(info.children)
    with pytest.raises(NotFoundError):
        api.provider_info(db, "mine")


def test_verify_decrypts_encrypted_values(sim: Simulator, db: api.Database) -> None:
    spec = api.load_spec("awesome_cloud")
    args = sim_args(sim, db.keyring.encrypt(sim.options.secret_key))
    assert api.verify(spec, args).status == "Valid"  # the default key file is db's
    wrong = sim_args(sim, "wrong-secret")
    assert api.verify(spec, wrong).status == "Invalid"


def test_refresh_read_rotate_and_record_then_replay(
    sim: Simulator, db: api.Database, tmp_path: Path
) -> None:
    api.add_provider(db, api.load_spec("awesome_cloud"), "ac", sim_args(sim))
    cassette = tmp_path / "ac.yaml"
    recorded = api.refresh(db, "ac", record=cassette)
    assert recorded.ok and cassette.exists()
    assert sim.options.secret_key not in cassette.read_text()
    assert api.rotate_keys(db) == 1  # one stored secret, re-encrypted with a new key
    assert api.verify_provider(db, "ac").valid  # the rotated key file is read again
    sim.mutate(add=2)  # the cassette still holds the old answers
    replayed = api.refresh(db, "ac", replay=cassette)
    assert replayed.ok and replayed.report is not None
    assert replayed.report.rows_written == 0 and replayed.unused_interactions == 0
    dry = api.refresh(db, "ac", dry_run=True)
    assert dry.ok and dry.report.collections["vms"].created == 2
    assert api.inventory_counts(db, "ac")["vms"] == len(sim.data.instances) - 2
    with pytest.raises(NotFoundError, match="unknown collection"):
        api.read_inventory(db, "ac", "no_such_collection")
