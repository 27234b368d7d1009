"""parse + persist of nested lazies in composite refs and computed secondary refs, on real
SQLite and PostgreSQL (specs built from YAML, records handed over as collected)."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from miqspec.collect.runner import CallResult, CollectResult
from miqspec.parse.parser import parse
from miqspec.persist.persister import PersistReport, persist
from miqspec.spec.catalogue import load_catalogue
from miqspec.spec.load import load_spec
from miqspec.spec.model import Spec
from miqspec.store.tables import build_metadata

from ..persist_support import private_schema

CAT = load_catalogue()
MD = build_metadata(CAT)
EMS = 1
OWNERS = {name: EMS for name in CAT.collections}
NOW = datetime(2024, 5, 1, 12)
TABLES = ["configuration_scripts", "configuration_script_sources", "orchestration_stacks",
          "orchestration_stack_resources", "cloud_networks", "vms"]  # fmt: skip


@pytest.fixture(scope="module")
def pg_engine() -> Iterator[sa.Engine]:
    """The tables in a private PostgreSQL schema, dropped after the module."""
    with private_schema(MD, "miqspec_x", TABLES) as engine:
        yield engine


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sa.Engine]:
    if request.param == "sqlite":
        eng = sa.create_engine(f"sqlite:///{tmp_path / 'x.db'}")
        MD.create_all(eng, tables=[MD.tables[t] for t in TABLES])
        yield eng
        eng.dispose()
        return
    eng = request.getfixturevalue("pg_engine")
    yield eng
    with eng.begin() as conn:
        for table in TABLES:
            conn.execute(MD.tables[table].delete())


def spec_of(tmp_path: Path, header: str, body: str) -> Spec:
    path = tmp_path / "spec.yaml"
    path.write_text(textwrap.dedent(header) + textwrap.dedent(body))
    return load_spec(str(path))


def collected(**calls: Any) -> CollectResult:
    out = CollectResult()
    for name, value in calls.items():
        records, parents = value if isinstance(value, tuple) else (value, None)
        out.calls[name] = CallResult(name, list(records), parents)
    return out


def save(eng: sa.Engine, spec: Spec, data: CollectResult) -> PersistReport:
    with eng.begin() as conn:
        return persist(conn, MD, CAT, parse(spec, data), OWNERS, now=NOW)


def rows(eng: sa.Engine, table: str, key: str, *cols: str) -> dict[Any, dict[str, Any]]:
    t = MD.tables[table]
    with eng.connect() as conn:
        result = conn.execute(sa.select(*(t.c[c] for c in ("id", key, *cols))))
        return {r._mapping[key]: dict(r._mapping) for r in result}


AWX = """\
    version: 1
    provider: {name: awx, title: AWX, manager_type: automation}
    connection: {services: {api: {base_url: "https://awx.test/api/v1"}}}
    calls:
      get_templates: {path: /job_templates/}
      get_projects: {path: /projects/}
      get_playbooks: {path: "/projects/{{ parent.id }}/playbooks/", for_each: {call: get_projects}}
"""
SCRIPTS = """\
      configuration_scripts:
        from: get_templates
        attributes:
          manager_ref: to_string(id)
          name: name
          type: {value: ConfigurationScript}
          parent:
            lazy: configuration_script_payloads
            ref:
              configuration_script_source: {lazy: configuration_script_sources,
                                            ref: "project && to_string(project)"}
              manager_ref: playbook
"""
PAYLOADS = """\
      configuration_script_payloads:
        from: get_playbooks
        attributes:
          configuration_script_source: {lazy: configuration_script_sources,
                                        ref: to_string($parent.id)}
          manager_ref: "@"
          name: "@"
"""
SOURCES = """\
      configuration_script_sources:
        from: get_projects
        attributes: {manager_ref: to_string(id), name: name}
"""
AWX_COLLECTIONS = "    collections:\n" + SCRIPTS + PAYLOADS + SOURCES
PROJECTS = [{"id": 505, "name": "hello_repo"}, {"id": 506, "name": "other_repo"}]
PLAYBOOKS = (["hello.yml", "bye.yml", "hello.yml"], [PROJECTS[0], PROJECTS[0], PROJECTS[1]])
TEMPLATES = [
    {"id": 1, "name": "hello", "project": 505, "playbook": "hello.yml"},
    {"id": 2, "name": "other", "project": 506, "playbook": "hello.yml"},
    {"id": 3, "name": "lost project", "project": 999, "playbook": "hello.yml"},
    {"id": 4, "name": "no project", "project": None, "playbook": "hello.yml"},
]


def test_nested_lazy_in_a_composite_ref_finds_the_payload(
    engine: sa.Engine, tmp_path: Path
) -> None:
    spec = spec_of(tmp_path, AWX, AWX_COLLECTIONS)
    data = collected(get_projects=PROJECTS, get_playbooks=PLAYBOOKS, get_templates=TEMPLATES)
    report = save(engine, spec, data)
    order = report.order
    assert order.index("configuration_script_sources") < order.index("configuration_scripts")
    assert order.index("configuration_script_payloads") < order.index("configuration_scripts")
    table = rows(engine, "configuration_scripts", "name", "manager_ref", "parent_id", "type",
                 "configuration_script_source_id")  # fmt: skip
    sources = rows(engine, "configuration_script_sources", "manager_ref")
    payload = {(r["configuration_script_source_id"], r["manager_ref"]): r["id"]
               for r in rows(engine, "configuration_scripts", "id", "manager_ref",
                             "configuration_script_source_id").values()
               if r["configuration_script_source_id"] is not None}  # fmt: skip
    assert table["hello"]["parent_id"] == payload[(sources["505"]["id"], "hello.yml")]
    assert table["other"]["parent_id"] == payload[(sources["506"]["id"], "hello.yml")]
    assert table["lost project"]["parent_id"] is None  # the inner lazy finds nothing
    assert table["no project"]["parent_id"] is None
    assert table["hello"]["type"] == "ManageIQ::Providers::Awx::AutomationManager::" \
        "ConfigurationScript"  # fmt: skip
    assert report.collections["configuration_scripts"].unresolved == 1
    assert save(engine, spec, data).rows_written == 0  # a second refresh changes nothing


def test_nested_lazy_resolves_from_the_database_when_its_targets_were_not_refreshed(
    engine: sa.Engine, tmp_path: Path
) -> None:
    spec = spec_of(tmp_path, AWX, AWX_COLLECTIONS)
    save(engine, spec, collected(get_projects=PROJECTS, get_playbooks=PLAYBOOKS,
                                 get_templates=TEMPLATES[:1]))  # fmt: skip
    only_templates = spec_of(tmp_path, AWX, "    collections:\n" + SCRIPTS)
    moved = [{**TEMPLATES[0], "playbook": "bye.yml"}]
    save(engine, only_templates, collected(get_templates=moved))
    table = rows(engine, "configuration_scripts", "name", "parent_id")
    assert table["hello"]["parent_id"] == payload_id(engine, "bye.yml")
    # payloads not refreshed, sources refreshed: the inner lazy's target is saved first
    both = spec_of(tmp_path, AWX, "    collections:\n" + SCRIPTS + SOURCES)
    report = save(engine, both, collected(get_templates=TEMPLATES[:1], get_projects=PROJECTS))
    order = report.order
    assert order.index("configuration_script_sources") < order.index("configuration_scripts")
    table = rows(engine, "configuration_scripts", "name", "parent_id")
    assert table["hello"]["parent_id"] == payload_id(engine, "hello.yml")


def payload_id(eng: sa.Engine, playbook: str) -> int:
    found = rows(eng, "configuration_scripts", "id", "manager_ref").values()
    return next(r["id"] for r in found if r["manager_ref"] == playbook)


AZURE = """\
    version: 1
    provider: {name: azure, title: Azure, manager_type: cloud, child_managers: [network]}
    connection: {services: {arm: {base_url: "https://management.test"}}}
    calls:
      get_deployments: {path: /deployments}
      get_operations: {path: "/ops/{{ parent.id }}", for_each: {call: get_deployments}}
      get_vnets: {path: /vnets}
      get_vms: {path: /vms}
    collections:
      orchestration_stacks:
        from: get_deployments
        attributes:
          ems_ref: id
          name: name
          parent: {lazy: orchestration_stacks_resources, ref: lower(id), by: by_target_ci,
                   key: stack}
      orchestration_stacks_resources:
        from: get_operations
        secondary_refs: {by_target_ci: "lower(ems_ref)"}
        attributes:
          stack: {lazy: orchestration_stacks, ref: $parent.id}
          ems_ref: target
          name: target
      cloud_networks:
        from: get_vnets
        attributes:
          ems_ref: id
          name: id
          orchestration_stack: {lazy: orchestration_stacks_resources, ref: lower(id),
                                by: by_target_ci, key: stack}
          description: {lazy: orchestration_stacks_resources, ref: lower(id), by: by_target_ci,
                        key: name, default: none}
      vms:
        from: get_vms
        attributes:
          ems_ref: id
          name: id
          orchestration_stack: {lazy: orchestration_stacks_resources, ref: lower(id),
                                by: by_target_ci, key: stack}
"""
DEPLOYMENTS = [{"id": "d1", "name": "top"}, {"id": "d2", "name": "nested"}]
OPERATIONS = (
    [{"target": "D2"}, {"target": "VNET1"}, {"target": "/vm/VM1"}, {"target": "vnet1"}],
    [DEPLOYMENTS[0], DEPLOYMENTS[0], DEPLOYMENTS[1], DEPLOYMENTS[1]],
)


def test_computed_secondary_refs_with_a_transitive_key(engine: sa.Engine, tmp_path: Path) -> None:
    spec = spec_of(tmp_path, AZURE, "")
    data = collected(
        get_deployments=DEPLOYMENTS,
        get_operations=OPERATIONS,
        get_vnets=[{"id": "Vnet1"}, {"id": "vnet-alone"}],
        get_vms=[{"id": "/VM/vm1"}],
    )
    report = save(engine, spec, data)
    assert report.deferred == {"orchestration_stacks": ["parent"]}  # it closes a cycle
    stacks = rows(engine, "orchestration_stacks", "ems_ref", "ancestry")
    assert stacks["d2"]["ancestry"] == str(stacks["d1"]["id"])
    assert stacks["d1"]["ancestry"] is None
    nets = rows(engine, "cloud_networks", "ems_ref", "orchestration_stack_id", "description")
    assert nets["Vnet1"]["orchestration_stack_id"] == stacks["d1"]["id"]  # first built wins
    assert nets["Vnet1"]["description"] == "VNET1"  # a plain attribute of the found object
    assert nets["vnet-alone"]["orchestration_stack_id"] is None
    assert nets["vnet-alone"]["description"] == "none"
    vms = rows(engine, "vms", "ems_ref", "orchestration_stack_id")
    assert vms["/VM/vm1"]["orchestration_stack_id"] == stacks["d2"]["id"]
    assert report.collections["cloud_networks"].unresolved == 1
    assert save(engine, spec, data).rows_written == 0
