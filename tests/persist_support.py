"""Test support shared by the persist tests: private PostgreSQL schemas and object builders."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from miqspec.parse.objects import InventoryObject, ParsedInventory

from .conftest import BACKGROUND_DROPS, PG_ADMIN_URL

VM_TYPE = "ManageIQ::Providers::Awesome::CloudManager::Vm"
Spec3 = tuple[str, tuple[Any, ...], dict[str, Any]]


@contextmanager
def private_schema(
    md: sa.MetaData | None,
    prefix: str,
    tables: Iterable[str] | None = None,
    opener: Callable[[str], sa.Engine] = sa.create_engine,
) -> Iterator[sa.Engine]:
    """An engine (made by ``opener``) on a fresh PostgreSQL schema holding ``md``'s tables
    (or ``tables``; none without ``md``), the schema dropped afterwards (in the background:
    the session's end waits for it).

    Skips the calling test (or module) with a reason when PostgreSQL cannot be reached.
    """
    admin = sa.create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    try:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    except sa.exc.OperationalError as exc:
        admin.dispose()
        pytest.skip(f"PostgreSQL not reachable at {PG_ADMIN_URL}: {type(exc.orig).__name__}")
    engine = opener(f"{PG_ADMIN_URL}?options=-csearch_path%3D{schema}")
    try:
        if md is not None:
            chosen = None if tables is None else [md.tables[t] for t in tables]
            md.create_all(engine, tables=chosen)
        yield engine
    finally:
        engine.dispose()
        admin.dispose()
        BACKGROUND_DROPS.put(f'DROP SCHEMA "{schema}" CASCADE')


def build(*objs: Spec3, **complete: bool) -> ParsedInventory:
    """A parsed inventory from (collection, ref, data) triples; ``complete`` per collection."""
    inv = ParsedInventory(complete=dict(complete))
    for collection, ref, data in objs:
        inv.build(InventoryObject(collection, ref, dict(data)))
    return inv


def vm(ref: str, **data: Any) -> Spec3:
    base = {
        "ems_ref": ref,
        "uid_ems": f"u-{ref}",
        "name": ref,
        "location": "zone-a",
        "vendor": "amazon",
        "raw_power_state": "running",
        "type": VM_TYPE,
    }
    return ("vms", (ref,), {**base, **data})


def flavor(ref: Any, **data: Any) -> Spec3:
    return ("flavors", (ref,), {"ems_ref": ref, "name": f"flavor {ref}", "type": "F", **data})


def columns_after_migrating(path: Path, table: str, revision: str) -> set[str]:
    """The columns of ``table`` in an SQLite database at ``path`` that lacked it at
    ``revision`` and was then upgraded to the head (the migration after ``revision`` made it)."""
    from miqspec.store.database import open_database, upgrade

    eng = open_database(f"sqlite:///{path}")
    try:
        upgrade(eng, revision)  # 0001 builds the core tables from today's code: drop it
        with eng.begin() as conn:
            conn.exec_driver_sql(f"DROP TABLE IF EXISTS {table}")
        upgrade(eng)
        return {c["name"] for c in sa.inspect(eng).get_columns(table)}
    finally:
        eng.dispose()


def vm_plan(inv: ParsedInventory, name: str = "vms", sti_type: str | None = None) -> Any:
    """A ``RowPlan`` of collection ``name`` (table vms, owner 1, power states running -> on,
    stopped -> off, else unknown) whose resolver knows flavors f1 (11) and f2 (12) and zone z1
    (21), and nothing in any database."""
    from miqspec.persist.rows import Resolver, RowPlan
    from miqspec.spec.catalogue import load_catalogue
    from miqspec.store.providers import build_metadata_cached

    cat = load_catalogue()
    md = build_metadata_cached()
    tables = {n: md.tables[c.table] for n, c in cat.collections.items() if c.table in md.tables}
    resolver = Resolver(cat, inv, set(inv.objects), tables, lambda n, k: None, lambda n, r: {})
    resolver.ids["flavors"] = {("f1",): 11, ("f2",): 12}
    resolver.ids["availability_zones"] = {("z1",): 21}
    power = {"running": "on", "stopped": "off"}
    return RowPlan(
        cat.collections[name],
        md.tables["vms"],
        resolver,
        owner_id=1,
        sti_type=sti_type,
        power_states=lambda raw: power.get(raw, "unknown"),
        deferred=set(),
    )
