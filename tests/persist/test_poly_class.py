"""A polymorphic reference whose type column holds the target's own class (``type_value:
class``, issue 16 point 21), found in this refresh or in the database, on SQLite and
PostgreSQL, through the plain and fast save paths alike."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
import sqlalchemy as sa

from miqspec.errors import SpecError
from miqspec.parse.objects import LazyRef
from miqspec.persist.persister import persist
from miqspec.spec.catalogue import load_catalogue
from miqspec.store.tables import build_metadata

from ..persist_support import VM_TYPE, build, private_schema, vm

NODES = {
    "table": "awesome_nodes",
    "manager": "cloud",
    "manager_ref": ["ems_ref"],
    "columns": {"ems_ref": "string"},
    "references": {
        "lives_on": {
            "collection": ["vms", "miq_templates"],
            "type_column": "lives_on_type",
            "type_value": "class",
        },
        "base_on": {"collection": ["vms", "miq_templates"], "type_column": "base_on_type"},
    },
}
CAT = load_catalogue().with_models({"awesome_nodes": NODES})
MD = build_metadata(CAT)
OWNERS = {name: 1 for name in CAT.collections}
NOW = datetime(2024, 5, 1, 12)


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[sa.Engine]:
    tables = ["vms", "awesome_nodes"]
    if request.param == "sqlite":
        eng = sa.create_engine(f"sqlite:///{tmp_path / 'p.db'}")
        MD.create_all(eng, tables=[MD.tables[t] for t in tables])
        yield eng
        eng.dispose()
    else:
        with private_schema(MD, "miqspec_poly", tables) as eng:
            yield eng


def node(ref: str, vm_ref: str) -> tuple[str, tuple[Any, ...], dict[str, Any]]:
    target = LazyRef("vms", (vm_ref,))
    return ("awesome_nodes", (ref,), {"ems_ref": ref, "lives_on": target, "base_on": target})


@pytest.mark.parametrize("fast", [False, True], ids=["plain", "fast"])
def test_type_column_holds_the_targets_class(engine, fast):
    with engine.begin() as conn:  # the vm in this refresh
        persist(conn, MD, CAT, build(vm("i-1"), node("n-1", "i-1")), OWNERS, now=NOW, fast=fast)
    with engine.begin() as conn:  # the vm found in the database
        inv = build(node("n-1", "i-1"), node("n-2", "i-1"))
        persist(conn, MD, CAT, inv, OWNERS, now=NOW, fast=fast)
    with engine.connect() as conn:
        got = conn.execute(
            sa.text("select ems_ref, lives_on_type, base_on_type from awesome_nodes order by id")
        ).all()
    assert [tuple(r) for r in got] == [
        ("n-1", VM_TYPE, "VmOrTemplate"),
        ("n-2", VM_TYPE, "VmOrTemplate"),
    ]


def test_class_types_are_refused_on_identity_and_parent_links():
    bad = {**NODES, "manager_ref": ["lives_on"]}
    with pytest.raises(SpecError, match="type_value class"):
        build_metadata(load_catalogue().with_models({"awesome_nodes": bad}))
