"""Reconnect turned off, ``delete: archive`` and ``archive_on_change`` (issue 16, points 8 and
24), on SQLite and PostgreSQL, through the plain and the fast save paths alike."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from types import SimpleNamespace
from typing import Any

import pytest
import sqlalchemy as sa

from miqspec.parse.objects import ParsedInventory
from miqspec.persist.persister import PersistReport, persist
from miqspec.spec.catalogue import load_catalogue
from miqspec.store.listing import collection_rows
from miqspec.store.tables import build_metadata

from ..persist_support import build, private_schema, vm

CAT = load_catalogue().with_models(
    {
        "quota_items": {
            "table": "quota_items",
            "manager": "cloud",
            "manager_ref": ["ems_ref"],
            "delete": "archive",
            "archive_on_change": True,
            "timestamps": ["created_on", "updated_on"],
            "columns": {"ems_ref": "string", "quota_value": "integer"},
        }
    }
)
NO_RECONNECT = CAT.with_policies({"vms": {"reconnect": False}})
MD = build_metadata(CAT)
EMS = 1
OWNERS = {name: EMS for name in CAT.collections}
T = [datetime(2024, 5, d, 12) for d in (1, 2, 3, 4)]


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[sa.Engine]:
    tables = ["vms", "quota_items"]
    if request.param == "sqlite":
        eng = sa.create_engine(f"sqlite:///{tmp_path / 'a.db'}")
        MD.create_all(eng, tables=[MD.tables[t] for t in tables])
        yield eng
        eng.dispose()
    else:
        with private_schema(MD, "miqspec_arch", tables) as eng:
            yield eng


def save(
    engine: sa.Engine, inv: ParsedInventory, now: datetime, fast: bool, catalogue: Any = CAT
) -> PersistReport:
    with engine.begin() as conn:
        return persist(conn, MD, catalogue, inv, OWNERS, now=now, fast=fast, digests=fast)


def item(ref: str, value: int) -> tuple[str, tuple[Any, ...], dict[str, Any]]:
    return ("quota_items", (ref,), {"ems_ref": ref, "quota_value": value})


def rows(engine: sa.Engine, sql: str) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(sql)).all()]


@pytest.mark.parametrize("fast", [False, True], ids=["plain", "fast"])
def test_archive_on_change_and_on_delete(engine, fast):
    quota = "select ems_ref, quota_value, deleted_on is not null from quota_items order by id"
    save(engine, build(item("a", 1), item("b", 2), quota_items=True), T[0], fast)
    again = save(engine, build(item("a", 1), item("b", 2), quota_items=True), T[1], fast)
    assert again.rows_written == 0
    changed = save(engine, build(item("a", 1), item("b", 5), quota_items=True), T[2], fast)
    rep = changed.collections["quota_items"]
    assert (rep.created, rep.updated, rep.unchanged, rep.archived) == (0, 1, 1, 0)
    assert rows(engine, quota) == [("a", 1, False), ("b", 2, True), ("b", 5, False)]
    gone = save(engine, build(item("b", 5), quota_items=True), T[3], fast)
    assert gone.collections["quota_items"].archived == 1
    assert rows(engine, quota) == [("a", 1, True), ("b", 2, True), ("b", 5, False)]
    back = save(engine, build(item("a", 1), item("b", 5), quota_items=True), T[3], fast)
    assert back.collections["quota_items"].created == 1  # an archived row stays archived
    assert rows(engine, quota)[-1] == ("a", 1, False)


@pytest.mark.parametrize("fast", [False, True], ids=["plain", "fast"])
def test_reconnect_turned_off(engine, fast):
    vms = "select ems_ref, ems_id from vms order by id"
    save(engine, build(vm("i-1"), vm("i-2"), vms=True), T[0], fast, NO_RECONNECT)
    save(engine, build(vm("i-1"), vms=True), T[1], fast, NO_RECONNECT)
    assert rows(engine, vms) == [("i-1", EMS), ("i-2", None)]
    back = save(engine, build(vm("i-1"), vm("i-2"), vms=True), T[2], fast, NO_RECONNECT)
    rep = back.collections["vms"]
    assert (rep.created, rep.reconnected) == (1, 0)
    assert rows(engine, vms) == [("i-1", EMS), ("i-2", None), ("i-2", EMS)]
    # the default (ManageIQ's custom_reconnect_block) takes the disconnected row back
    save(engine, build(vm("i-1"), vms=True), T[3], fast)
    again = save(engine, build(vm("i-1"), vm("i-2"), vms=True), T[3], fast)
    assert again.collections["vms"].reconnected == 1


def test_inventory_lists_live_rows_and_archived_ones_apart(engine):
    save(engine, build(item("a", 1), item("b", 2), quota_items=True), T[0], False)
    save(engine, build(item("b", 3), quota_items=True), T[1], False)
    spec: Any = SimpleNamespace(catalogue=CAT)
    live = collection_rows(engine, MD, spec, "quota_items", OWNERS)
    gone = collection_rows(engine, MD, spec, "quota_items", OWNERS, archived="ManageIQ::")
    assert [(r["ems_ref"], r["quota_value"]) for r in live] == [("b", 3)]
    assert sorted((r["ems_ref"], r["quota_value"]) for r in gone) == [("a", 1), ("b", 2)]
