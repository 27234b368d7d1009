"""One source, two collections (``route:``) and lazies to ``vms_and_templates``: parse, and
persist on real SQLite and PostgreSQL.

One call lists VMs and templates together (ManageIQ's ``vms_and_templates``); a route sends
each record to ``vms`` or ``miq_templates``, and the dependents (hardwares, disks,
operating_systems, snapshots) are declared once, their lazies resolved to the collection that
built the object.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from miqspec.collect.runner import CallResult, CollectResult
from miqspec.parse.carry import carry_plans
from miqspec.parse.objects import LazyRef
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
T1, T2 = datetime(2024, 5, 1, 12), datetime(2024, 5, 1, 13)
TABLES = ["vms", "hardwares", "disks", "operating_systems", "snapshots"]

SPEC = """\
version: 1
provider: {name: demo_infra, title: Demo Infra, manager_type: infra}
connection: {services: {api: {base_url: "https://api.demo.example"}}}
calls:
  get_vms: {path: /vms}
collections:
  vms:
    from: get_vms
    where: "status != 'deleted'"
    route:
      miq_templates: is_template        # per record: a template, else a VM
    attributes:
      ems_ref: id
      name: name
      vendor: {value: redhat}
      raw_power_state: "is_template && 'never' || state"
      template: is_template
  hardwares:
    from: get_vms
    where: "status != 'deleted'"
    attributes:
      vm_or_template: {lazy: vms_and_templates, ref: id}
      cpu_total_cores: cpus
  disks:
    from: get_vms
    each: disks
    attributes:
      hardware:
        lazy: hardwares
        ref: {vm_or_template: {lazy: vms_and_templates, ref: $parent.id}}
      device_name: name
      size: size
  operating_systems:
    from: get_vms
    attributes:
      vm_or_template: {lazy: vms_and_templates, ref: id}
      product_name: os
  snapshots:
    from: get_vms
    each: snapshots
    attributes:
      vm_or_template: {lazy: vms_and_templates, ref: $parent.id}
      uid: id
      name: name
"""
RECORDS = [
    {"id": "vm-1", "name": "web", "is_template": False, "state": "up", "cpus": 2, "os": "rhel",
     "disks": [{"name": "sda", "size": 10}], "snapshots": [{"id": "s1", "name": "before"}]},
    {"id": "tpl-1", "name": "golden", "is_template": True, "state": "down", "cpus": 1,
     "os": "rhel", "disks": [{"name": "sda", "size": 5}], "snapshots": []},
    {"id": "tpl-2", "name": "old", "is_template": True, "cpus": 1, "os": "fedora",
     "disks": [], "snapshots": [{"id": "s2", "name": "base"}]},
    {"id": "vm-9", "name": "gone", "status": "deleted", "is_template": False, "disks": [],
     "snapshots": []},
]  # fmt: skip


def spec_of(tmp_path: Path, text: str = SPEC) -> Spec:
    path = tmp_path / "spec.yaml"
    path.write_text(textwrap.dedent(text))
    return load_spec(str(path))


def collected(records: list[dict[str, Any]]) -> CollectResult:
    out = CollectResult()
    out.calls["get_vms"] = CallResult("get_vms", list(records), None)
    return out


def test_each_record_lands_in_the_collection_its_route_chooses(tmp_path: Path) -> None:
    spec = spec_of(tmp_path)
    assert [s.call for s in spec.collections["miq_templates"].sources] == ["get_vms"]
    inv = parse(spec, collected(RECORDS))
    assert set(inv.objects["vms"]) == {("vm-1",)}
    assert set(inv.objects["miq_templates"]) == {("tpl-1",), ("tpl-2",)}
    assert inv.complete["vms"] and inv.complete["miq_templates"]
    hw = {o.ref[0].ref: o.ref[0].collection for o in inv.objects["hardwares"].values()}
    assert hw == {("vm-1",): "vms", ("tpl-1",): "miq_templates", ("tpl-2",): "miq_templates"}
    # a nested alias (the disk's hardware ref) is resolved and the disk re-keyed by it
    (disk,) = [o for o in inv.objects["disks"].values() if o.data["size"] == 5]
    inner = disk.ref[0].ref[0]
    assert isinstance(inner, LazyRef) and inner.collection == "miq_templates"
    assert disk.ref in inv.objects["disks"]
    # an alias ref built by neither collection points at the first (vms), like a plain lazy
    os_refs = {
        o.ref[0].ref[0]: o.ref[0].collection for o in inv.objects["operating_systems"].values()
    }
    assert os_refs["vm-9"] == "vms" and os_refs["tpl-2"] == "miq_templates"


def test_alias_collections_are_never_carried(tmp_path: Path) -> None:
    plans = carry_plans(spec_of(tmp_path))
    assert not {"vms", "miq_templates", "hardwares", "operating_systems"} & set(plans)


def test_a_failed_call_leaves_both_collections_incomplete(tmp_path: Path) -> None:
    spec = spec_of(tmp_path)
    data = collected(RECORDS)
    data.calls["get_vms"].complete = False
    inv = parse(spec, data)
    assert not inv.complete["vms"] and not inv.complete["miq_templates"]


@pytest.fixture(scope="module")
def pg_engine() -> Iterator[sa.Engine]:
    with private_schema(MD, "miqspec_route", TABLES) as engine:
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


def save(eng: sa.Engine, spec: Spec, records: list[dict[str, Any]], now: datetime) -> PersistReport:
    with eng.begin() as conn:
        return persist(conn, MD, CAT, parse(spec, collected(records)), OWNERS, now=now)


def table(eng: sa.Engine, name: str) -> list[dict[str, Any]]:
    with eng.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.select(MD.tables[name]))]


def test_vms_and_templates_persist_with_their_dependents(engine: sa.Engine, tmp_path: Path) -> None:
    spec = spec_of(tmp_path)
    save(engine, spec, RECORDS, T1)
    vms = {r["ems_ref"]: r for r in table(engine, "vms")}
    assert {k: (v["template"], v["type"]) for k, v in vms.items()} == {
        "vm-1": (False, "ManageIQ::Providers::DemoInfra::InfraManager::Vm"),
        "tpl-1": (True, "ManageIQ::Providers::DemoInfra::InfraManager::Template"),
        "tpl-2": (True, "ManageIQ::Providers::DemoInfra::InfraManager::Template"),
    }
    ids = {v["id"]: k for k, v in vms.items()}
    hardwares = {ids[h["vm_or_template_id"]]: h for h in table(engine, "hardwares")}
    assert {k: h["cpu_total_cores"] for k, h in hardwares.items()} == {
        "vm-1": 2, "tpl-1": 1, "tpl-2": 1,
    }  # fmt: skip
    disks = {(ids[next(h["vm_or_template_id"] for h in hardwares.values()
                        if h["id"] == d["hardware_id"])], d["device_name"]): d["size"]
             for d in table(engine, "disks")}  # fmt: skip
    assert disks == {("vm-1", "sda"): 10, ("tpl-1", "sda"): 5}
    oses = {
        ids[o["vm_or_template_id"]]: o["product_name"] for o in table(engine, "operating_systems")
    }
    assert oses == {"vm-1": "rhel", "tpl-1": "rhel", "tpl-2": "fedora"}  # vm-9: no vm row
    snaps = {(ids[s["vm_or_template_id"]], s["uid"]) for s in table(engine, "snapshots")}
    assert snaps == {("vm-1", "s1"), ("tpl-2", "s2")}

    # tpl-2 is gone: disconnected. vm-1 became a template: as with ManageIQ's separate vms and
    # miq_templates collections, the Vm row is disconnected and a Template row is made
    later = [dict(RECORDS[0], is_template=True), RECORDS[1]]
    save(engine, spec, later, T2)
    after = sorted((r["ems_ref"], r["template"], r["ems_id"]) for r in table(engine, "vms"))
    assert after == [
        ("tpl-1", True, EMS), ("tpl-2", True, None), ("vm-1", False, None), ("vm-1", True, EMS),
    ]  # fmt: skip
