"""The fast paths held to the plain path (persist.strategy): stored row digests, record carry,
record maps and the driver's bulk writes leave the database as ``persist(..., fast=False)``
leaves it (every record parsed, every row loaded and compared, SQLAlchemy's statements), with
the same counts, through histories of changes, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from miqspec.parse.objects import LazyRef, ParsedInventory
from miqspec.parse.parser import parse
from miqspec.persist.digest import DIGEST_TABLE
from miqspec.persist.persister import PersistReport, persist
from miqspec.pipeline import RefreshResult, refresh_provider
from miqspec.simulator import Simulator
from miqspec.spec.catalogue import load_catalogue
from miqspec.spec.load import load_spec
from miqspec.store.providers import ProviderStore
from miqspec.store.tables import build_metadata

from ..conftest import AWESOME, PG_ADMIN_URL, sim_args
from ..persist_support import build, flavor, vm

CAT = load_catalogue()
MD = build_metadata(CAT)
OWNERS = {name: 1 for name in CAT.collections}
T = [datetime(2024, 6, d, 12) for d in range(1, 20)]
POWER = {"running": "on", "stopped": "off"}


def power(raw: Any) -> str:
    return POWER.get(raw, "unknown")


@contextmanager
def another_database(engine: sa.Engine, tmp_path: Path) -> Iterator[sa.Engine]:
    """A second fresh, migrated database on ``engine``'s backend (dropped afterwards)."""
    from miqspec.store.database import open_database, upgrade

    if engine.dialect.name == "sqlite":
        eng = open_database(f"sqlite:///{tmp_path / f'{uuid.uuid4().hex[:8]}.db'}")
        upgrade(eng)
        try:
            yield eng
        finally:
            eng.dispose()
        return
    name = f"miqspec_t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    eng = open_database(PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name)
    try:
        upgrade(eng)
        yield eng
    finally:
        eng.dispose()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def dump(
    eng: sa.Engine, md: sa.MetaData, only: set[str] | None = None, stamps: bool = True
) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of ``md``'s tables (``only`` those; miqspec's bookkeeping left out; ``stamps``
    False: timestamp columns too), ids and references as stored."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    with eng.connect() as conn:
        for name, table in md.tables.items():
            if name.startswith("miqspec_") or (only is not None and name not in only):
                continue
            cols = [c for c in table.c if stamps or not isinstance(c.type, sa.DateTime)]
            rows = conn.execute(sa.select(*cols)).all()
            if rows:
                out[name] = sorted((tuple(r) for r in rows), key=repr)
    return out


def counts(report: PersistReport, carry: bool = False) -> dict[str, dict[str, int]]:
    """Per-collection counts, less ``carried`` (of ``unchanged``: the fast path's own); with
    ``carry``, less ``unresolved`` too: a record carried unparsed has no object whose
    references could be counted (its row keeps what they resolved to)."""
    left = {"carried", "unresolved"} if carry else {"carried"}
    return {
        n: {k: v for k, v in vars(c).items() if k not in left}
        for n, c in report.collections.items()
    }


# -- hand-built histories: digests, deferred attributes, links, children, disconnects ------------


def obj(collection: str, *ref: Any, **data: Any) -> tuple[str, tuple[Any, ...], dict[str, Any]]:
    return (collection, ref, data)


def inventory(step: dict[str, Any]) -> ParsedInventory:
    """The objects of one refresh: ``step`` says which vms are gone or renamed, which flavors
    exist, the tenants' parents and which collections are incomplete."""
    objs = [
        flavor(f, memory=1024 * (1 + i)) for i, f in enumerate(step.get("flavors", ["f1", "f2"]))
    ]
    objs += [obj("availability_zones", "z1", ems_ref="z1", name="z1", type="A")]
    objs += [obj("auth_key_pairs", k, name=k, type="K") for k in ("k1", "k2")]
    names, gone = step.get("names", {}), step.get("gone", set())
    for i in range(step.get("vms", 130)):
        ref = f"vm-{i}"
        if ref in gone:
            continue
        data: dict[str, Any] = {
            "name": names.get(ref, ref),
            "flavor": LazyRef("flavors", (f"f{1 + i % 2}",)),
            "availability_zone": LazyRef("availability_zones", ("z1",)),
            "raw_power_state": "stopped" if ref in step.get("stopped", ()) else "running",
        }
        if i % 10 == 0:
            data["key_pairs"] = [LazyRef("auth_key_pairs", (k,)) for k in step.get("keys", ["k1"])]
        objs.append(vm(ref, **data))
        if i < 4:  # hardware and disks: owner-less children
            parent = LazyRef("vms", (ref,))
            hardware = LazyRef("hardwares", (parent,))
            objs.append(obj("hardwares", parent, vm_or_template=parent, memory_mb=512 * (i + 1)))
            for d in step.get("disks", ["sda", "sdb"]):
                objs.append(obj("disks", hardware, d, hardware=hardware, device_name=d, size=1))
    for t, parent in step.get("tenants", {"t1": None, "t2": "t1", "t3": "t2"}).items():
        up = None if parent is None else LazyRef("cloud_tenants", (parent,))
        objs.append(obj("cloud_tenants", t, ems_ref=t, name=t, type="T", parent=up))
    for s, parent in step.get("stacks", {"s1": None, "s2": "s1", "s3": "s2"}).items():
        up = None if parent is None else LazyRef("orchestration_stacks", (parent,))
        objs.append(obj("orchestration_stacks", s, ems_ref=s, type="S", parent=up))
    inv = build(*objs)
    for name in step.get("incomplete", ()):
        inv.complete[name] = False
    return inv


HISTORY: list[dict[str, Any]] = [
    {},
    {},  # nothing changed: the fast path keeps every row by its digest
    {"names": {"vm-3": "b", "vm-40": "b"}, "stopped": {"vm-5"}, "keys": ["k1", "k2"]},
    {"names": {"vm-3": "vm-3"}, "gone": {"vm-7", "vm-2"}, "flavors": ["f1"], "disks": ["sda"]},
    {"vms": 140, "gone": {"vm-9"}, "tenants": {"t1": None, "t2": None, "t3": "t1"}},
    {"vms": 140, "incomplete": ["vms", "flavors"], "gone": {"vm-1"}, "flavors": ["f2"]},
    {"names": {"vm-3": "b"}, "stacks": {"s1": None, "s2": None, "s3": "s2"}, "keys": []},
    {"names": {"vm-3": "vm-3"}},
    {},  # nothing changed since the step before
]


@pytest.fixture
def paths(engine: sa.Engine, tmp_path: Path) -> Iterator[dict[str, sa.Engine]]:
    """Three databases of one backend: ``fast`` saves with every fast path, ``plain`` without
    any, ``mixed`` alternates (a plain save must leave nothing a later fast one trusts)."""
    with another_database(engine, tmp_path) as plain, another_database(engine, tmp_path) as mixed:
        dbs = {"fast": engine, "plain": plain, "mixed": mixed}
        for eng in dbs.values():
            with eng.begin() as conn:
                conn.execute(
                    sa.text("insert into ext_management_systems (id, name) values (1, 'x')")
                )
        yield dbs


def test_histories_save_as_the_plain_path_does(paths: dict[str, sa.Engine]) -> None:
    def save(eng: sa.Engine, step: dict[str, Any], now: datetime, fast: bool) -> PersistReport:
        with eng.begin() as conn:
            return persist(
                conn, MD, CAT, inventory(step), OWNERS, power_states=power, now=now, fast=fast
            )

    for i, step in enumerate(HISTORY):
        fast = save(paths["fast"], step, T[i], True)
        plain = save(paths["plain"], step, T[i], False)
        save(paths["mixed"], step, T[i], i % 2 == 0)
        assert counts(fast) == counts(plain), i
        assert fast.rows_written == plain.rows_written, i
        want = dump(paths["plain"], MD)
        assert dump(paths["fast"], MD) == want, i
        assert dump(paths["mixed"], MD) == want, i
    assert fast.rows_written == 0 == plain.rows_written  # the last step changed nothing
    stored = {}
    for side, eng in paths.items():  # the plain path keeps no row digests
        with eng.connect() as conn:
            stored[side] = conn.execute(sa.text(f"select count(*) from {DIGEST_TABLE}")).scalar()
    assert stored["fast"] and not stored["plain"]


def test_a_dry_run_of_the_plain_path_writes_nothing(paths: dict[str, sa.Engine]) -> None:
    eng = paths["plain"]
    with eng.begin() as conn:
        persist(conn, MD, CAT, inventory({}), OWNERS, power_states=power, now=T[0], fast=False)
    before = dump(eng, MD)
    with eng.begin() as conn:
        report = persist(
            conn, MD, CAT, inventory({"gone": {"vm-1"}}), OWNERS, now=T[1], dry_run=True, fast=False
        )
    assert report.collections["vms"].disconnected == 1 and dump(eng, MD) == before


# -- record carry: a refresh (every fast path) against parsing and saving plainly --------------


def test_refreshes_carrying_records_save_as_the_plain_path_does(
    engine: sa.Engine, keyring: Any, tmp_path: Path
) -> None:
    spec = load_spec(str(AWESOME))
    md = build_metadata(spec.catalogue)
    with (
        Simulator(instances=60, flavors=5, images=6, page_size=9) as sim,
        another_database(engine, tmp_path) as other,
    ):
        ProviderStore(engine).add(spec, "fast", sim_args(sim), keyring)
        store = ProviderStore(other)
        store.add(spec, "plain", sim_args(sim), keyring)
        with other.connect() as conn:
            query = "select id from ext_management_systems where name = 'plain'"
            ems = conn.execute(sa.text(query)).scalar_one()
        children = store.children(ems)
        owners = {n: children.get(c.manager, ems) for n, c in spec.catalogue.collections.items()}

        def plainly(result: RefreshResult) -> PersistReport:
            assert result.collected is not None
            inv = parse(spec, result.collected)
            with other.begin() as conn:
                return persist(
                    conn, md, spec.catalogue, inv, owners,
                    power_states=spec.provider.power_state, now=T[0], fast=False,
                )  # fmt: skip

        mutations: list[Callable[[], object]] = [
            lambda: None,
            lambda: None,
            lambda: sim.mutate(change=4, remove=3, add=5),
            lambda: sim.mutate(remove_flavors=1),
            lambda: None,
            lambda: sim.mutate(change=2, add=1, remove=1),
        ]
        tables = {spec.catalogue.collections[n].table for n in spec.collections}
        carried = 0
        for i, mutate in enumerate(mutations):
            mutate()
            result = refresh_provider(engine, "fast", keyring)
            assert result.ok, result.error
            assert result.report is not None
            carried += sum(c.carried for c in result.report.collections.values())
            report = plainly(result)
            assert counts(result.report, carry=True) == counts(report, carry=True), i
            got = dump(engine, md, tables, stamps=False)
            assert got == dump(other, md, tables, stamps=False), i
        assert carried > 0  # the fast side did carry records
