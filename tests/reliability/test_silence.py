"""Nothing is lost in silence (issue 15): broken bodies are API errors, mass removals are
refused, dropped records and all-null attributes are warned about, type errors name the spec.

A small spec ("orbit": flavors and vms) refreshed from a real HTTP server on 127.0.0.1 whose
answers each test sets, into real SQLite and PostgreSQL (``db_url``); the CLI runs as a real
process where its options, exit codes and output are the point.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from miqspec import api
from miqspec.collect.runner import collect
from miqspec.connect.session import ProviderSession
from miqspec.errors import ApiError
from miqspec.spec.load import load_spec

from ..connect.test_http import Answer, ScriptServer, Seen
from .test_locks import cli_env, run_cli

NAME = "o"
SPEC = """\
version: 1
provider: {name: orbit, title: Orbit, manager_type: cloud}
form:
  fields:
    - {component: text-field, name: endpoints.default.url, label: URL}
connection:
  services: {api: {base_url: "{{ endpoints.default.url }}"}}
  retry: {attempts: 1}
auth: {type: none}
calls:
  get_flavors: {path: /flavors, records: items}
  get_vms: {path: /vms, records: items}
  get_gone: {path: /gone, records: items, skip_on: [404]}
  get_motd: {path: /motd, format: text}
collections:
  flavors:
    from: get_flavors
    attributes: {ems_ref: id, name: name, cpu_total_cores: cores}
  vms:
    from: get_vms
    attributes:
      ems_ref: id
      name: name
      flavor: {lazy: flavors, ref: flavor}
"""


class Api:
    """The HTTP server: ``bodies[path]`` is what GET path answers (an ``Answer`` or a body)."""

    def __init__(self) -> None:
        self.bodies: dict[str, Any] = {}
        self.server = ScriptServer(self.answer)

    @property
    def url(self) -> str:
        return self.server.url

    def answer(self, req: Seen, n: int) -> Answer:
        got = self.bodies.get(req.path.split("?")[0], Answer(404, b""))
        return got if isinstance(got, Answer) else Answer(body=got)

    def inventory(self, vms: int, flavors: int = 3) -> None:
        self.bodies["/flavors"] = {
            "items": [{"id": f"f{i}", "name": f"small{i}", "cores": i + 1} for i in range(flavors)]
        }
        self.bodies["/vms"] = {
            "items": [
                {"id": f"v{i}", "name": f"vm{i}", "flavor": f"f{i % max(flavors, 1)}"}
                for i in range(vms)
            ]
        }


@pytest.fixture
def orbit(tmp_path: Path) -> Iterator[Api]:
    served = Api()
    with served.server:
        yield served


@pytest.fixture
def spec_file(tmp_path: Path) -> Path:
    path = tmp_path / "orbit.yaml"
    path.write_text(SPEC)
    return path


@pytest.fixture
def db(db_url: str, tmp_path: Path, orbit: Api, spec_file: Path) -> Iterator[api.Database]:
    database = api.open_database(db_url, key_file=tmp_path / "key" / "v2_key")
    api.add_provider(
        database, api.load_spec(spec_file), NAME, {"endpoints": {"default": {"url": orbit.url}}}
    )
    yield database
    database.engine.dispose()


def connected(db: api.Database, collection: str = "vms") -> int:
    return api.inventory_counts(db, NAME)[collection]


# -- bodies of the wrong shape ----------------------------------------------------------------


def collect_one(spec_file: Path, orbit: Api, call: str) -> list[Any]:
    spec = load_spec(str(spec_file))
    session = ProviderSession(spec, {"endpoints": {"default": {"url": orbit.url}}})
    try:
        return collect(session, [call]).calls[call].records
    finally:
        session.close()


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"", "the response body is empty"),
        ({}, "records path 'items' is not in the response body (it is an empty object)"),
        (
            {"item": [{"id": "v1"}]},
            "records path 'items' is not in the response body (its keys: item)",
        ),
        ({"items": "v1,v2"}, "records path 'items' gives a str ('v1,v2'), not a list of records"),
        ({"items": [1, 2]}, "the records at 'items' must be objects (got a int ('1'))"),
        ([{"id": "v1"}], "records path 'items' is not in the response body (it is a list)"),
    ],
)
def test_a_body_of_the_wrong_shape_is_an_api_error(
    orbit: Api, spec_file: Path, body: Any, says: str
) -> None:
    orbit.bodies["/vms"] = body
    with pytest.raises(ApiError) as err:
        collect_one(spec_file, orbit, "get_vms")
    text = str(err.value)
    assert text.startswith(f"get_vms: GET {orbit.url}/vms: ") and text.endswith(says), text
    assert err.value.exit_code == 5 and "\n" not in text


@pytest.mark.parametrize("body", [{"items": []}, {"items": None}])
def test_an_empty_or_null_list_is_no_records(orbit: Api, spec_file: Path, body: Any) -> None:
    orbit.bodies["/vms"] = body
    assert collect_one(spec_file, orbit, "get_vms") == []


def test_skip_on_and_text_calls_still_work(orbit: Api, spec_file: Path) -> None:
    orbit.bodies["/motd"] = Answer(body=b"hello")
    assert collect_one(spec_file, orbit, "get_motd") == ["hello"]
    assert collect_one(spec_file, orbit, "get_gone") == []  # 404 with an empty body: skipped


def test_a_broken_body_leaves_the_inventory_and_records_the_error(
    db: api.Database, orbit: Api
) -> None:
    orbit.inventory(vms=4)
    assert api.refresh(db, NAME).ok
    orbit.bodies["/vms"] = {"item": []}
    result = api.refresh(db, NAME)
    assert not result.ok and result.exit_code == 5
    assert "records path 'items' is not in the response body (its keys: item)" in str(result.error)
    assert connected(db) == 4
    assert api.provider_info(db, NAME).last_refresh_error == result.error


# -- the mass-disappearance guard -------------------------------------------------------------


def test_a_mass_removal_is_refused_and_writes_nothing(db: api.Database, orbit: Api) -> None:
    orbit.inventory(vms=20, flavors=3)
    assert api.refresh(db, NAME).ok
    orbit.inventory(vms=5, flavors=4)  # 15 of 20 vms gone; a flavor added
    result = api.refresh(db, NAME)
    assert not result.ok and result.exit_code == 5, result.error
    error = str(result.error)
    assert "vms: would disconnect 15 of 20 stored row(s) (75%, more than 50%)" in error
    assert "--allow-mass-delete" in error
    assert connected(db) == 20 and connected(db, "flavors") == 3  # nothing written
    assert api.provider_info(db, NAME).last_refresh_error == error

    dry = api.refresh(db, NAME, dry_run=True)
    assert dry.ok and any("vms: would disconnect 15 of 20" in w for w in dry.warnings)
    assert connected(db) == 20

    assert api.refresh(db, NAME, mass_delete_share=0.8).ok  # 75% is within 80%
    assert connected(db) == 5 and connected(db, "flavors") == 4
    assert api.provider_info(db, NAME).last_refresh_error is None


def test_emptying_a_collection_is_refused_whatever_its_size(db: api.Database, orbit: Api) -> None:
    orbit.inventory(vms=2, flavors=2)
    assert api.refresh(db, NAME).ok
    orbit.inventory(vms=2, flavors=0)  # the vms' flavor references now resolve to nothing
    result = api.refresh(db, NAME)
    assert not result.ok and result.exit_code == 5
    assert "flavors: would remove all 2 stored row(s), leaving none" in str(result.error)
    assert connected(db, "flavors") == 2
    assert api.refresh(db, NAME, allow_mass_delete=True).ok
    assert connected(db, "flavors") == 0


def test_small_removals_pass_under_the_floor(db: api.Database, orbit: Api) -> None:
    orbit.inventory(vms=9)
    assert api.refresh(db, NAME).ok
    orbit.inventory(vms=1)  # 8 of 9 go: fewer than 10, and not all
    assert api.refresh(db, NAME).ok
    assert connected(db) == 1


def test_cli_options_and_environment(
    db_url: str, db: api.Database, orbit: Api, tmp_path: Path
) -> None:
    orbit.inventory(vms=20)
    env = cli_env(tmp_path)
    assert api.refresh(db, NAME).ok
    orbit.inventory(vms=4)
    base = ["refresh", NAME, "--database", db_url, "--quiet"]
    refused = run_cli(env, *base)
    assert refused.returncode == 5, refused.stderr
    assert "FAILED: mass removal refused" in refused.stdout
    dry = run_cli(env, *base, "--dry-run", "--format", "json")
    assert dry.returncode == 0, dry.stderr
    (summary,) = json.loads(dry.stdout)
    assert any(
        w.startswith("mass removal: vms: would disconnect 16 of 20") for w in summary["warnings"]
    )
    bad = run_cli(env, *base, "--mass-delete-share", "1.5")
    assert bad.returncode == 2, bad.stderr
    passed = run_cli({**env, "MIQSPEC_MASS_DELETE_SHARE": "0.9"}, *base)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert connected(db) == 4
    orbit.inventory(vms=0)
    forced = run_cli(env, *base, "--allow-mass-delete")
    assert forced.returncode == 0, forced.stdout + forced.stderr
    assert connected(db) == 0


# -- warnings: dropped records, attributes null everywhere --------------------------------------

SLOPPY = SPEC.replace("      name: name\n", "      name: server_name\n").replace(
    "    from: get_vms\n", "    from: get_vms\n    where: \"state != 'deleted'\"\n"
)


def location_of(path: Path, collection: str, attribute: str) -> str:
    """file:line:col of ``collection``'s ``attribute`` rule, as the loaded spec has it."""
    mapping = load_spec(str(path)).collections[collection]
    found = [a for s in mapping.sources for a in s.attributes if a.name == attribute]
    return str(found[0].location)


def test_dropped_records_and_all_null_attributes_are_warned_about(
    db_url: str, tmp_path: Path, orbit: Api
) -> None:
    path = tmp_path / "sloppy.yaml"
    path.write_text(SLOPPY)
    db = api.open_database(db_url, key_file=tmp_path / "key" / "v2_key")
    api.add_provider(db, api.load_spec(path), NAME, {"endpoints": {"default": {"url": orbit.url}}})
    orbit.inventory(vms=0)
    vms = [
        {"id": "v1", "name": "a", "state": "on", "flavor": "f0"},
        {"id": "v1", "name": "b", "state": "on", "flavor": "f1"},  # another v1: the first wins
        {"id": "v1", "name": "a", "state": "on", "flavor": "f0"},  # the same object: no drop
        {"id": None, "name": "c", "state": "on"},  # no manager_ref
        {"id": "v2", "name": "d", "state": "deleted"},  # filtered out by where: not a drop
        {"id": "v3", "name": "e", "state": "on"},
    ]
    orbit.bodies["/vms"] = {"items": vms}
    result = api.refresh(db, NAME)
    assert result.ok, result.error
    kept = 2
    assert connected(db) == kept
    where = location_of(path, "vms", "name")
    assert (
        f"vms.name: null on all {kept} object(s) ({where}: does the API have what it reads?)"
        in (result.warnings)
    )
    assert (
        "vms: 2 record(s) dropped (1 manager_ref built before with other values (duplicate), "
        "1 manager_ref null)" in result.warnings
    )
    assert not any(w.startswith("flavors") for w in result.warnings)  # every flavor attribute set
    db.engine.dispose()


def test_warnings_in_the_text_and_json_summaries(db_url: str, tmp_path: Path, orbit: Api) -> None:
    path = tmp_path / "sloppy.yaml"
    path.write_text(SLOPPY)
    env = cli_env(tmp_path)
    with api.open_database(db_url, key_file=tmp_path / "key" / "v2_key") as db:
        api.add_provider(
            db, api.load_spec(path), NAME, {"endpoints": {"default": {"url": orbit.url}}}
        )
    orbit.inventory(vms=3)
    base = ["refresh", NAME, "--database", db_url, "--quiet"]
    text = run_cli(env, *base, "--dry-run")
    assert text.returncode == 0, text.stderr
    assert "warning: vms.name: null on all 3 object(s)" in text.stdout
    done = run_cli(env, *base, "--format", "json")
    assert done.returncode == 0, done.stderr
    (summary,) = json.loads(done.stdout)
    assert any(w.startswith("vms.name: null on all 3 object(s)") for w in summary["warnings"])


# -- type errors -------------------------------------------------------------------------------


def test_a_type_error_names_the_spec_location_the_column_and_its_type(
    db: api.Database, orbit: Api, spec_file: Path
) -> None:
    orbit.inventory(vms=1, flavors=1)
    orbit.bodies["/flavors"] = {"items": [{"id": "f0", "name": "small", "cores": "s1.small"}]}
    result = api.refresh(db, NAME)
    assert not result.ok and result.exit_code == 6
    error = str(result.error)
    where = location_of(spec_file, "flavors", "cpu_total_cores")
    assert error.startswith(f"{where}: flavors[f0].cpu_total_cores: cannot store str value "), error
    assert "'s1.small' in column flavors.cpu_total_cores (INTEGER)" in error


HARDWARE = (
    SPEC.replace("  get_motd:", "  get_hardwares: {path: /hardwares, records: items}\n  get_motd:")
    + """\
  hardwares:
    from: get_hardwares
    attributes:
      vm_or_template: {lazy: vms, ref: vm}
      cpu_total_cores: cores
"""
)


def test_objects_whose_manager_ref_reference_resolves_to_nothing_are_warned_about(
    db_url: str, tmp_path: Path, orbit: Api
) -> None:
    path = tmp_path / "hardware.yaml"
    path.write_text(HARDWARE)
    db = api.open_database(db_url, key_file=tmp_path / "key" / "v2_key")
    api.add_provider(db, api.load_spec(path), NAME, {"endpoints": {"default": {"url": orbit.url}}})
    orbit.inventory(vms=2)
    known = [{"vm": "v0", "cores": 2}, {"vm": "v1", "cores": 4}]
    unknown = [{"vm": "nowhere", "cores": 8}]
    orbit.bodies["/hardwares"] = {"items": known + unknown}
    result = api.refresh(db, NAME)
    assert result.ok, result.error
    assert connected(db, "hardwares") == len(known)
    assert (
        f"hardwares: {len(unknown)} object(s) dropped (a manager_ref reference resolves to nothing)"
        in result.warnings
    ), result.warnings
    db.engine.dispose()
