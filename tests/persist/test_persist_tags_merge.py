"""Find-or-build merging and provider tags, saved: ``merge: true`` sources give the rows a
plain save gives (the fast paths held to the plain path: merged collections never carry
records), and labels become ManageIQ tags through the stored mappings (categories and
entries in ``classifications``, ``/managed/...`` names in ``tags``, ``taggings`` on the rows),
idempotently, a label gone taking its tagging with it, other taggings left alone; on SQLite
and PostgreSQL."""

from __future__ import annotations

import textwrap
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from miqspec.collect.runner import CallResult, CollectResult
from miqspec.parse import carry_plans
from miqspec.parse.parser import parse
from miqspec.persist import CLASSIFICATIONS, TAGGINGS, TAGS
from miqspec.persist.persister import PersistReport, persist
from miqspec.spec.load import load_spec
from miqspec.spec.model import Spec
from miqspec.store import add_tag_mapping, build_metadata

from .test_persist_paths import another_database, counts, dump

T = [datetime(2024, 6, d, 12) for d in range(1, 10)]

SPEC = """\
version: 1
provider: {name: test_cloud, title: Test Cloud, manager_type: cloud}
connection: {services: {api: {base_url: "https://api.test"}}}
calls: {get_vms: {path: /vms}, get_details: {path: /details}, get_flavors: {path: /flavors}}
collections:
  flavors:
    from: get_flavors
    attributes: {ems_ref: id, name: name, memory: mem}
  vms:
    tags: {from: labels}
    sources:
      - from: get_vms
        attributes:
          {ems_ref: id, name: name, raw_power_state: state, flavor: {lazy: flavors, ref: flavor}}
      - from: get_details
        merge: true
        attributes: {ems_ref: vm, name: label, raw_power_state: power, description: notes}
"""


def spec(tmp_path: Path) -> Spec:
    path = tmp_path / "spec.yaml"
    path.write_text(textwrap.dedent(SPEC))
    return load_spec(str(path))


def collected(step: dict[str, Any]) -> CollectResult:
    out = CollectResult()
    for name in ("get_vms", "get_details", "get_flavors"):
        out.calls[name] = CallResult(name, list(step.get(name, [])))
    return out


def vm(i: int, **extra: Any) -> dict[str, Any]:
    return {"id": f"v{i}", "name": f"vm{i}", "state": "on", "flavor": "f1", **extra}


FLAVORS = [{"id": "f1", "name": "small", "mem": 1}]
HISTORY: list[dict[str, Any]] = [
    {
        "get_flavors": FLAVORS,
        "get_vms": [vm(1, labels={"env": "Prod"}), vm(2, labels={"env": "dev", "tier": "web"})],
        "get_details": [{"vm": "v1", "power": "off", "notes": "n1"}, {"vm": "v3", "label": "x"}],
    },
    {  # the same again: nothing written
        "get_flavors": FLAVORS,
        "get_vms": [vm(1, labels={"env": "Prod"}), vm(2, labels={"env": "dev", "tier": "web"})],
        "get_details": [{"vm": "v1", "power": "off", "notes": "n1"}, {"vm": "v3", "label": "x"}],
    },
    {  # v2 loses its env label, v1 changes value, v3's details change, v4 is new
        "get_flavors": FLAVORS,
        "get_vms": [vm(1, labels={"env": "test"}), vm(2, labels={"tier": "web"}), vm(4)],
        "get_details": [{"vm": "v1", "notes": "n2"}, {"vm": "v3", "label": "y", "power": "on"}],
    },
]


def save(eng: sa.Engine, sp: Spec, step: dict[str, Any], now: datetime, fast: bool) -> Any:
    inv = parse(sp, collected(step))
    md = build_metadata(sp.catalogue)
    owners = {name: 1 for name in sp.catalogue.collections}
    with eng.begin() as conn:
        report: PersistReport = persist(conn, md, sp.catalogue, inv, owners, now=now, fast=fast)
    return report


def tagged(eng: sa.Engine) -> set[tuple[str, str]]:
    """(vm name, tag name) of every tagging on a vm row."""
    vms = sa.table("vms", sa.column("id"), sa.column("name"))
    query = (
        sa.select(vms.c.name, TAGS.c.name)
        .join(TAGGINGS, TAGGINGS.c.taggable_id == vms.c.id)
        .join(TAGS, TAGS.c.id == TAGGINGS.c.tag_id)
        .where(TAGGINGS.c.taggable_type == "VmOrTemplate")
    )
    with eng.connect() as conn:
        return {(r[0], r[1]) for r in conn.execute(query)}


@pytest.fixture
def twin(engine: sa.Engine, tmp_path: Path) -> Any:
    with another_database(engine, tmp_path) as plain:
        for eng in (engine, plain):
            with eng.begin() as conn:
                conn.execute(
                    sa.text("insert into ext_management_systems (id, name) values (1, 'x')")
                )
        yield engine, plain


def test_merged_sources_save_as_the_plain_path_does(twin: Any, tmp_path: Path) -> None:
    fast_db, plain_db = twin
    sp = spec(tmp_path)
    assert "vms" not in carry_plans(sp)  # several sources (and tags): every record parsed
    md = build_metadata(sp.catalogue)
    for i, step in enumerate(HISTORY):
        fast = save(fast_db, sp, step, T[i], True)
        plain = save(plain_db, sp, step, T[i], False)
        assert counts(fast) == counts(plain), i
        assert fast.rows_written == plain.rows_written, i
        assert dump(fast_db, md, {"vms", "flavors"}) == dump(plain_db, md, {"vms", "flavors"}), i
        if i == 1:
            assert fast.rows_written == 0 == plain.rows_written
    with fast_db.connect() as conn:
        rows = conn.execute(
            sa.text("select ems_ref, name, raw_power_state, description from vms order by ems_ref")
        ).all()
    # v1: power from the first source kept (null in details), notes merged; v3 built by details
    assert [tuple(r) for r in rows] == [
        ("v1", "vm1", "on", "n2"),
        ("v2", "vm2", "on", None),
        ("v3", "y", "on", None),
        ("v4", "vm4", "on", None),
    ]


def test_labels_become_tags_through_the_mappings(engine: sa.Engine, tmp_path: Path) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text("insert into ext_management_systems (id, name) values (1, 'x')"))
    add_tag_mapping(engine, "env", "environment", resource_type="Vm")
    add_tag_mapping(engine, "tier", "tier", label_value="web", entry="frontend")
    add_tag_mapping(engine, "owner", "owner")  # no vm has it: its category is controlled
    sp = spec(tmp_path)
    first = save(engine, sp, HISTORY[0], T[0], True)
    assert first.tags == {"added": 3, "removed": 0, "entries": 2}
    want = {
        ("vm1", "/managed/environment/prod"),
        ("vm2", "/managed/environment/dev"),
        ("vm2", "/managed/tier/frontend"),
    }
    assert tagged(engine) == want
    with engine.connect() as conn:
        entries = dict(
            conn.execute(
                sa.select(TAGS.c.name, CLASSIFICATIONS.c.description)
                .join(CLASSIFICATIONS, CLASSIFICATIONS.c.tag_id == TAGS.c.id)
                .where(CLASSIFICATIONS.c.parent_id.is_not(None))
            ).all()
        )
        vm1 = conn.execute(sa.text("select id from vms where ems_ref = 'v1'")).scalar_one()
        hand = conn.execute(
            sa.insert(TAGS).values(name="/managed/department/it")
        ).inserted_primary_key
        assert hand is not None
        conn.execute(  # a tag assigned by hand, in a category no mapping controls
            sa.insert(TAGGINGS).values(
                taggable_id=vm1, tag_id=hand[0], taggable_type="VmOrTemplate"
            )
        )
        conn.commit()
    assert entries == {
        "/managed/environment/prod": "Prod",
        "/managed/environment/dev": "dev",
        "/managed/tier/frontend": "web",
    }
    again = save(engine, sp, HISTORY[1], T[1], False)
    assert again.tags == {"added": 0, "removed": 0, "entries": 0}
    third = save(engine, sp, HISTORY[2], T[2], True)
    assert third.tags == {"added": 1, "removed": 2, "entries": 1}
    assert tagged(engine) == {
        ("vm1", "/managed/environment/test"),
        ("vm1", "/managed/department/it"),
        ("vm2", "/managed/tier/frontend"),
    }


def test_without_mappings_labels_tag_nothing(engine: sa.Engine, tmp_path: Path) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text("insert into ext_management_systems (id, name) values (1, 'x')"))
    report = save(engine, spec(tmp_path), HISTORY[0], T[0], True)
    assert report.tags == {"added": 0, "removed": 0, "entries": 0}
    assert tagged(engine) == set()


def test_a_deleted_row_takes_its_taggings_and_a_dry_run_writes_none(
    engine: sa.Engine, tmp_path: Path
) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text("insert into ext_management_systems (id, name) values (1, 'x')"))
    add_tag_mapping(engine, "size", "size")
    flavors = "    attributes: {ems_ref: id, name: name, memory: mem}"
    sp = load_spec_text(tmp_path, SPEC.replace(flavors, "    tags: {from: labels}\n" + flavors))
    two = [{"id": "f1", "labels": {"size": "s"}}, {"id": "f2", "labels": {"size": "l"}}]
    save(engine, sp, {"get_flavors": two}, T[0], True)
    assert flavor_tags(engine) == {("f1", "/managed/size/s"), ("f2", "/managed/size/l")}
    inv = parse(sp, collected({"get_flavors": two[:1]}))
    md = build_metadata(sp.catalogue)
    owners = {name: 1 for name in sp.catalogue.collections}
    with engine.begin() as conn:
        dry = persist(conn, md, sp.catalogue, inv, owners, now=T[1], dry_run=True)
    # a dry run deletes no row: f2's tagging is not counted (rows it would delete are kept)
    assert dry.tags == {"added": 0, "removed": 0, "entries": 0}
    assert len(flavor_tags(engine)) == 2
    gone = save(engine, sp, {"get_flavors": two[:1]}, T[1], True)
    assert gone.tags == {"added": 0, "removed": 1, "entries": 0}
    assert flavor_tags(engine) == {("f1", "/managed/size/s")}


def load_spec_text(tmp_path: Path, text: str) -> Spec:
    path = tmp_path / "spec2.yaml"
    path.write_text(textwrap.dedent(text))
    return load_spec(str(path))


def flavor_tags(eng: sa.Engine) -> set[tuple[str, str]]:
    query = sa.text(
        "select g.taggable_id, t.name from taggings g join tags t on t.id = g.tag_id"
        " where g.taggable_type = 'Flavor'"
    )
    with eng.connect() as conn:
        rows = conn.execute(query).all()
        refs = dict(conn.execute(sa.text("select id, ems_ref from flavors")).all())
    return {(refs.get(i, f"gone {i}"), name) for i, name in rows}
