"""The author's kit (``miqspec.authoring``): ``try_call`` against the simulator and a cassette,
``test_spec`` replaying a recording into a temporary database against expectations."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from miqspec import api
from miqspec.authoring import MISMATCH_EXIT, RAW_LIMIT, load_expectations, try_call
from miqspec.authoring import test_spec as run_test
from miqspec.errors import NotFoundError, UsageError
from miqspec.simulator import Simulator

from .conftest import AWESOME, sim_args


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator(instances=7, flavors=3, images=2) as s:
        yield s


@pytest.fixture
def spec() -> api.Spec:
    return api.load_spec(AWESOME)


@pytest.fixture
def cassette(sim: Simulator, spec: api.Spec, tmp_path: Path) -> Path:
    """A real recording of a refresh of the simulator."""
    path = tmp_path / "refresh.yml"
    with api.open_database(f"sqlite:///{tmp_path / 'rec.db'}") as db:
        api.add_provider(db, spec, "rec", sim_args(sim))
        result = api.refresh(db, "rec", record=path)
        assert result.ok, result.error
    return path


def test_try_call_shows_first_page_records_and_rows(sim: Simulator, spec: api.Spec) -> None:
    result = try_call(spec, "get_instance_types", sim_args(sim))
    assert result.request.startswith("GET ") and "/instance_types" in result.request
    assert result.status == 200
    body = json.loads(result.raw)
    assert result.records == sim.options.flavors
    assert result.sample == body["items"][: len(result.sample)]
    assert list(result.rows) == ["flavors"]
    rows = result.rows["flavors"]
    assert rows["count"] == sim.options.flavors
    names = {item["name"] for item in body["items"]}
    assert {r["name"] for r in rows["rows"]} <= names


def test_try_call_paginates_and_shows_only_the_first_page(sim: Simulator, tmp_path: Path) -> None:
    small = tmp_path / "awesome_small_pages.yaml"
    small.write_text(AWESOME.read_text().replace("page_size: 1000", "page_size: 2", 1))
    result = try_call(api.load_spec(small), "get_instances", sim_args(sim))
    assert not result.truncated
    first = json.loads(result.raw)
    assert result.records == sim.options.instances
    assert result.pages > 1
    assert 0 < len(first["items"]) < result.records
    assert result.rows["vms"]["count"] == sim.options.instances
    assert json.dumps(result.to_dict())  # JSON-ready


def test_try_call_masks_the_secret_and_truncates(sim: Simulator, spec: api.Spec) -> None:
    secret = sim.options.secret_key
    result = try_call(spec, "get_instances", sim_args(sim))
    assert secret not in json.dumps(result.to_dict())
    assert result.truncated and len(result.raw) == RAW_LIMIT


def test_try_call_replays_a_cassette(sim: Simulator, spec: api.Spec, cassette: Path) -> None:
    live = try_call(spec, "get_images", sim_args(sim))
    replayed = try_call(spec, "get_images", sim_args(sim), replay=cassette)
    assert replayed.records == live.records
    assert replayed.rows == live.rows


def test_try_call_refuses_unknown_call_and_missing_fields(sim: Simulator, spec: api.Spec) -> None:
    with pytest.raises(UsageError, match="no call 'get_flavours'"):
        try_call(spec, "get_flavours", sim_args(sim))
    args = sim_args(sim)
    del args["authentications"]["default"]["userid"]
    with pytest.raises(UsageError, match=r"authentications\.default\.userid"):
        try_call(spec, "get_instances", args)


def _expectations(sim: Simulator, tmp_path: Path, **changes: Any) -> Path:
    truth = try_call(api.load_spec(AWESOME), "get_instance_types", sim_args(sim))
    flavor = truth.sample[0]
    data: dict[str, Any] = {
        "args": sim_args(sim),
        "counts": {"flavors": truth.records, "vms": sim.options.instances},
        "records": {"flavors": {flavor["name"]: {"ems_ref": flavor["id"]}}},
    }
    data.update(changes)
    path = tmp_path / "expected.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_test_spec_passes_on_a_faithful_recording(
    sim: Simulator, spec: api.Spec, cassette: Path, tmp_path: Path
) -> None:
    expect = load_expectations(_expectations(sim, tmp_path))
    result = run_test(spec, cassette, expect)
    assert result.passed, result.mismatches
    assert result.counts["vms"] == sim.options.instances


def test_test_spec_names_each_mismatch(
    sim: Simulator, spec: api.Spec, cassette: Path, tmp_path: Path
) -> None:
    path = _expectations(
        sim,
        tmp_path,
        counts={"vms": sim.options.instances + 1},
        records={"flavors": {"no-such": {"name": "x"}}},
    )
    result = run_test(spec, cassette, load_expectations(path))
    assert not result.passed and result.exit_code == MISMATCH_EXIT
    assert result.mismatches == [
        f"vms: expected {sim.options.instances + 1} row(s), got {sim.options.instances}",
        "flavors[no-such]: no row with that name or ems_ref",
    ]
    flavor = result.rows["flavors"][0]
    wrong = {flavor["name"]: {"ems_ref": str(flavor["ems_ref"]) + "-x", "nope": 1}}
    result = run_test(spec, cassette, {"args": sim_args(sim), "records": {"flavors": wrong}})
    assert result.mismatches == [
        f"flavors[{flavor['name']}].ems_ref: expected {flavor['ems_ref'] + '-x'!r}, "
        f"got {flavor['ems_ref']!r}",
        f"flavors[{flavor['name']}].nope: no such column",
    ]


def test_test_spec_reports_a_failed_refresh(sim: Simulator, spec: api.Spec, cassette: Path) -> None:
    args = sim_args(sim)
    args["endpoints"]["default"]["url"] = sim.url.replace("127.0.0.1", "localhost")
    result = run_test(spec, cassette, {"args": args, "counts": {"vms": 1}})
    assert not result.passed and result.exit_code == 9  # a request the cassette lacks
    assert result.error and "cassette" in result.error and not result.mismatches


def test_test_spec_refuses_bad_input(
    sim: Simulator, spec: api.Spec, cassette: Path, tmp_path: Path
) -> None:
    with pytest.raises(UsageError, match="flavours"):
        run_test(spec, cassette, {"args": sim_args(sim), "counts": {"flavours": 1}})
    with pytest.raises(NotFoundError):
        run_test(spec, tmp_path / "none.yml", {"args": sim_args(sim)})
    bad = tmp_path / "bad.yaml"
    bad.write_text("counts: {vms: many}\n")
    with pytest.raises(UsageError, match=r"counts\.vms"):
        load_expectations(bad)
    bad.write_text("count: {}\n")
    with pytest.raises(UsageError, match="unknown key"):
        load_expectations(bad)


pytest_plugins = ["pytester"]


def test_pytest_plugin_fixture_replays_and_fails_on_mismatch(
    sim: Simulator, cassette: Path, tmp_path: Path, pytester: pytest.Pytester
) -> None:
    good = _expectations(sim, tmp_path)
    bad = tmp_path / "bad.yaml"
    data = yaml.safe_load(good.read_text())
    data["counts"]["vms"] += 1
    bad.write_text(yaml.safe_dump(data))
    pytester.makepyfile(
        f"""
        def test_good(miqspec_replay):
            result = miqspec_replay({str(AWESOME)!r}, {str(cassette)!r}, expect={str(good)!r})
            assert result.counts["vms"] == {sim.options.instances}
            assert len(result.rows["vms"]) == {sim.options.instances}

        def test_bad(miqspec_replay):
            miqspec_replay({str(AWESOME)!r}, {str(cassette)!r}, expect={str(bad)!r})
        """
    )
    outcome = pytester.runpytest("-p", "no:cacheprovider")
    outcome.assert_outcomes(passed=1, failed=1)
    expected = f"vms: expected {sim.options.instances + 1} row(s), got {sim.options.instances}"
    assert any(expected in line for line in outcome.outlines)


# -- the editor schema knows the catalogue ------------------------------------------------


def _schema_errors(doc: Any) -> list[str]:
    import jsonschema

    from miqspec.spec.catalogue import load_catalogue  # the catalogue the schema is made from

    assert load_catalogue().collections
    validator = jsonschema.Draft202012Validator(api.json_schema())
    return [e.message for e in validator.iter_errors(doc)]


def test_editor_schema_flags_unknown_collections_and_attributes() -> None:
    doc = yaml.safe_load(AWESOME.read_text())
    assert _schema_errors(doc) == []
    renamed = yaml.safe_load(AWESOME.read_text())
    renamed["collections"]["flavours"] = renamed["collections"].pop("flavors")
    assert any("'flavours' is not one of" in m for m in _schema_errors(renamed))
    typo = yaml.safe_load(AWESOME.read_text())
    typo["collections"]["flavors"]["attributes"]["nme"] = "name"
    assert any("'nme' is not one of" in m for m in _schema_errors(typo))


def test_editor_schema_lets_declared_models_extend_the_names() -> None:
    doc = yaml.safe_load(AWESOME.read_text())
    doc["collections"]["widgets"] = {"from": "get_images", "attributes": {"ems_ref": "id"}}
    assert any("'widgets' is not one of" in m for m in _schema_errors(doc))
    doc["models"] = {
        "widgets": {
            "table": "widgets",
            "model_class": "Widget",
            "manager": "cloud",
            "manager_ref": ["ems_ref"],
            "columns": {"ems_ref": "string"},
        }
    }
    assert _schema_errors(doc) == []


def test_new_spec_modeline_names_the_schema_next_to_it(tmp_path: Path) -> None:
    text = api.new_spec("my_cloud", "cloud")
    first = text.splitlines()[0]
    assert first == "# yaml-language-server: $schema=spec.schema.json"
    assert "miqspec schema -o spec.schema.json" in text
    assert _schema_errors(yaml.safe_load(text)) == []


def test_try_call_runs_a_fan_out_after_its_parent(sim: Simulator, tmp_path: Path) -> None:
    text = AWESOME.read_text()
    fan_out = (
        '\ncalls:\n  get_instance_details:\n    path: "/instances/{{ parent.id }}/detail"\n'
        "    for_each: {call: get_instances}\n"
    )
    path = tmp_path / "fan_out.yaml"
    path.write_text(text.replace("\ncalls:\n", fan_out, 1))
    n = sim.options.instances
    result = try_call(api.load_spec(path), "get_instance_details", sim_args(sim), sample=n)
    assert result.records == result.pages == n  # one page per parent
    assert "/detail" in result.request  # the first page is the fan-out's, not the parent's
    first = json.loads(result.raw)
    assert first["id"] in result.request and first in result.sample  # parents run in parallel
    assert result.rows == {}  # no collection reads it
