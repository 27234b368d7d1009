"""``miqspec try`` and ``miqspec test`` against the simulator and a cassette it recorded."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from miqspec.cli.app import main
from miqspec.simulator import Simulator

from ..conftest import AWESOME

SECRET = "sim-secret-author"


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator(instances=6, flavors=3, images=2, secret_key=SECRET) as s:
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
        assert "Traceback" not in output
        assert SECRET not in output
        return output

    return run


def _public(sim: Simulator) -> list[str]:
    """The provider's fields but the password, as --set options."""
    return [
        "--set",
        f"endpoints.default.url={sim.url}",
        "--set",
        "provider_region=us-east-1",
        "--set",
        f"authentications.default.userid={sim.options.access_key}",
        "--secret-env",
        "authentications.default.password=AC_SECRET",
    ]


@pytest.fixture
def cassette(cli: Any, sim: Simulator, tmp_path: Path) -> Path:
    path = tmp_path / "refresh.yml"
    cli(
        "provider", "add", str(AWESOME), "--name", "ac1", "--region", "us-east-1",
        "--set", f"endpoints.default.url={sim.url}",
        "--set", f"authentications.default.userid={sim.options.access_key}",
        "--secret-env", "authentications.default.password=AC_SECRET",
    )  # fmt: skip
    cli("refresh", "ac1", "--record", str(path))
    return path


def test_try_text_shows_request_page_records_and_rows(cli: Any, sim: Simulator) -> None:
    out = cli("try", str(AWESOME), "get_instance_types", *_public(sim))
    assert "GET " in out and "/instance_types" in out and "-> 200" in out
    assert f"records: {sim.options.flavors} from 1 page(s)" in out
    assert f"flavors: {sim.options.flavors} row(s)" in out


def test_try_json_live_and_replayed_agree(cli: Any, sim: Simulator, cassette: Path) -> None:
    live = json.loads(cli("try", str(AWESOME), "get_instances", *_public(sim), "--format", "json"))
    replayed = json.loads(
        cli(
            "try",
            str(AWESOME),
            "get_instances",
            *_public(sim),
            "--replay",
            str(cassette),
            "--format",
            "json",
        )
    )
    assert live["records"] == replayed["records"] == sim.options.instances
    assert live["rows"] == replayed["rows"]
    assert replayed["rows"]["vms"]["count"] == sim.options.instances


def test_try_errors_are_one_line_with_their_code(cli: Any, sim: Simulator) -> None:
    out = cli("try", str(AWESOME), "get_flavours", *_public(sim), code=2)
    assert "no call 'get_flavours'" in out
    out = cli("try", str(AWESOME), "get_instances", "--args", "{}", code=2)
    assert "missing required field(s)" in out
    cli("try", str(AWESOME), "get_instances", "--args", "{[1]", code=2)
    out = cli("try", str(AWESOME), "get_instances", "--args", "/nonexistent/args.json", code=2)
    assert "is not a file" in out


def _expect(tmp_path: Path, sim: Simulator, counts: dict[str, int]) -> Path:
    path = tmp_path / "expected.yaml"
    data = {
        "args": {
            "provider_region": "us-east-1",
            "endpoints": {"default": {"url": sim.url}},
            "authentications": {"default": {"userid": sim.options.access_key}},
        },
        "counts": counts,
    }
    path.write_text(yaml.safe_dump(data))
    return path


def test_test_passes_and_fails_with_documented_codes(
    cli: Any, sim: Simulator, cassette: Path, tmp_path: Path
) -> None:
    secret = ["--secret-env", "authentications.default.password=AC_SECRET"]
    good = _expect(tmp_path, sim, {"vms": sim.options.instances})
    out = cli("test", str(AWESOME), "--cassette", str(cassette), "--expect", str(good), *secret)
    assert out.startswith("ok:")
    bad = _expect(tmp_path, sim, {"vms": sim.options.instances + 2, "flavors": 0})
    out = cli(
        "test", str(AWESOME), "--cassette", str(cassette), "--expect", str(bad), *secret, code=12
    )
    assert sorted(out.splitlines()) == [
        f"FAILED: flavors: expected 0 row(s), got {sim.options.flavors}",
        f"FAILED: vms: expected {sim.options.instances + 2} row(s), got {sim.options.instances}",
    ]
    out = cli(
        "test", str(AWESOME), "--cassette", str(tmp_path / "none.yml"),
        "--expect", str(good), *secret, code=10,
    )  # fmt: skip
    assert "not found" in out


def test_new_with_test_scaffolds_expectations(cli: Any, tmp_path: Path) -> None:
    spec = tmp_path / "my_cloud.yaml"
    out = cli("new", "my_cloud", "--manager-type", "cloud", "-o", str(spec), "--with-test")
    expected = tmp_path / "expected.yaml"
    assert f"wrote {expected}" in out
    data = yaml.safe_load(expected.read_text())
    assert set(data["counts"]) == set(yaml.safe_load(spec.read_text())["collections"])
    assert data["args"]["authentications"]["default"]["password"] == (
        "AUTHENTICATIONS_DEFAULT_PASSWORD"
    )
    cli("new", "my_cloud", "--manager-type", "cloud", "-o", str(tmp_path / "b.yaml"),
        "--with-test", code=2)  # fmt: skip
    assert "--with-test needs -o" in cli(
        "new", "x", "--manager-type", "cloud", "--with-test", code=2
    )


def test_scaffolded_expectations_filled_in_pass_with_the_placeholder_secret(
    cli: Any, sim: Simulator, cassette: Path, tmp_path: Path
) -> None:
    from miqspec import api

    data = yaml.safe_load(api.expectations_for(api.load_spec(AWESOME)))
    data["args"]["endpoints"]["default"]["url"] = sim.url
    data["args"]["authentications"]["default"]["userid"] = sim.options.access_key
    data["args"]["provider_region"] = "us-east-1"
    data["counts"] = {"vms": sim.options.instances, "flavors": sim.options.flavors}
    expect = tmp_path / "expected.yaml"
    expect.write_text(yaml.safe_dump(data))
    out = cli("test", str(AWESOME), "--cassette", str(cassette), "--expect", str(expect))
    assert out.startswith("ok:")


def test_try_replay_of_an_unrecorded_request_is_exit_9(
    cli: Any, sim: Simulator, cassette: Path
) -> None:
    other = sim.url.replace("127.0.0.1", "localhost")
    out = cli(
        "try", str(AWESOME), "get_instances", *_public(sim),
        "--set", f"endpoints.default.url={other}", "--replay", str(cassette), code=9,
    )  # fmt: skip
    assert len(set(out.strip().splitlines())) == 1 and "cassette" in out


def test_try_reads_args_from_a_file_and_stdin(cli: Any, sim: Simulator, tmp_path: Path) -> None:
    from ..conftest import sim_args

    args = tmp_path / "args.json"
    args.write_text(json.dumps(sim_args(sim)))
    out = json.loads(
        cli("try", str(AWESOME), "get_images", "--args", str(args), "--format", "json")
    )
    assert out["records"] == sim.options.images
    result = CliRunner().invoke(
        main,
        ["try", str(AWESOME), "get_images", "--args", "-", "--format", "json"],
        input=json.dumps(sim_args(sim)),
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["rows"] == out["rows"]
