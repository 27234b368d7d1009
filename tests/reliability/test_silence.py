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

from ..test_http import Answer, ScriptServer, Seen
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
