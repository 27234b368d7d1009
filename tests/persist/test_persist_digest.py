"""Row digests (persist_digest, persist_sign): unchanged objects are kept without loading their
rows, and the database ends up exactly as a full compare leaves it, on SQLite and PostgreSQL."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from miqspec.parse.objects import LazyRef, ParsedInventory
from miqspec.persist.digest import DIGEST_TABLE, pack, unpack
from miqspec.persist.persister import PersistReport, persist
from miqspec.spec.catalogue import load_catalogue
from miqspec.store.tables import build_metadata

from ..persist_support import build, columns_after_migrating, flavor, private_schema, vm, vm_plan

CAT = load_catalogue()
MD = build_metadata(CAT)
TABLES = ["vms", "flavors", "availability_zones", "key_pairs_vms", "authentications", DIGEST_TABLE]
OWNERS = {name: 1 for name in CAT.collections}
T = [datetime(2024, 5, d, 12) for d in range(1, 20)]
POWER = {"running": "on", "stopped": "off"}


def power(raw: Any) -> str:
    return POWER.get(raw, "unknown")


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("digest") / "template.db"
    eng = sa.create_engine(f"sqlite:///{path}")
    MD.create_all(eng)
    eng.dispose()
    return path


def _sqlite(template: Path, path: Path) -> sa.Engine:
    shutil.copy(template, path)
    return sa.create_engine(f"sqlite:///{path}")


@pytest.fixture(scope="module")
def pg_schemas() -> Iterator[Callable[[], sa.Engine]]:
    """Fresh private PostgreSQL schemas with every table, dropped after the module."""
    with ExitStack() as stack:
        yield lambda: stack.enter_context(private_schema(MD, "miqspec_dg"))


@pytest.fixture(params=["sqlite", "postgresql"])
def engines(
    request: pytest.FixtureRequest, template: Path, tmp_path: Path
) -> Iterator[Callable[[], sa.Engine]]:
    """A maker of fresh, empty databases of one backend."""
    made: list[sa.Engine] = []
    if request.param == "sqlite":

        def make() -> sa.Engine:
            eng = _sqlite(template, tmp_path / f"{uuid.uuid4().hex[:8]}.db")
            made.append(eng)
            return eng

        yield make
        for eng in made:
            eng.dispose()
        return
    yield request.getfixturevalue("pg_schemas")


def zone(ref: str) -> tuple[str, tuple[Any, ...], dict[str, Any]]:
    return ("availability_zones", (ref,), {"ems_ref": ref, "name": ref, "type": "A"})


def save(eng: sa.Engine, inv: ParsedInventory, now: datetime, **kw: Any) -> PersistReport:
    kw.setdefault("power_states", power)
    with eng.begin() as conn:
        return persist(conn, MD, CAT, inv, OWNERS, now=now, **kw)


def dump(eng: sa.Engine) -> dict[str, list[tuple[Any, ...]]]:
    with eng.connect() as conn:
        return {
            t: sorted((tuple(r) for r in conn.execute(sa.select(MD.tables[t]))), key=repr)
            for t in TABLES
            if t != DIGEST_TABLE
        }


def counts(report: PersistReport) -> dict[str, Any]:
    return {n: vars(c) for n, c in report.collections.items()}


def selects_of(eng: sa.Engine, table: str, column: str) -> list[str]:
    """Statements selecting ``table.column`` while the caller runs (an event listener)."""
    seen: list[str] = []

    def listen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        text = statement.lower()
        if text.startswith("select") and f"{table}.{column}" in text:
            seen.append(statement)

    sa.event.listen(eng, "before_cursor_execute", listen)
    return seen


def fleet(
    n: int = 6, **changes: dict[str, Any]
) -> list[tuple[str, tuple[Any, ...], dict[str, Any]]]:
    objs = [flavor("f1"), flavor("f2", memory=2048), zone("z1")]
    for i in range(n):
        ref = f"vm-{i}"
        data = {
            "flavor": LazyRef("flavors", (f"f{1 + i % 2}",)),
            "availability_zone": LazyRef("availability_zones", ("z1",)),
        }
        data.update(changes.get(ref, {}))
        objs.append(vm(ref, **data))
    return objs


def test_an_unchanged_refresh_loads_no_row_and_writes_nothing(
    engines: Callable[[], sa.Engine],
) -> None:
    eng = engines()
    first = save(eng, build(*fleet()), T[0])
    assert first.digests_written == 3  # flavors, zones, vms: one digest row each
    before = dump(eng)
    loads = selects_of(eng, "vms", "name")
    report = save(eng, build(*fleet()), T[1])
    assert (report.rows_written, report.digests_written) == (0, 0)
    assert report.collections["vms"].unchanged == 6
    assert report.collections["flavors"].unchanged == 2
    assert loads == []  # no stored vm row was read in full
    assert dump(eng) == before
    loads.clear()
    changed = save(eng, build(*fleet(**{"vm-3": {"name": "renamed"}})), T[2])
    assert (changed.collections["vms"].updated, changed.collections["vms"].unchanged) == (1, 5)
    assert changed.rows_written == 1 and changed.digests_written == 1
    assert len(loads) == 1 and "vms.id IN" in loads[0]  # the changed row only, by id


def steps() -> list[tuple[list[Any], dict[str, Any]]]:
    """A refresh history: each step's objects and persist options."""
    renamed = fleet(**{"vm-1": {"name": "one"}, "vm-2": {"raw_power_state": "stopped"}})
    without_f1 = [o for o in fleet() if o[1] != ("f1",)]
    return [
        (fleet(), {}),
        (fleet(), {}),
        (renamed, {}),
        ([*renamed[:-1], vm("vm-9")], {}),  # vm-5 goes (disconnected), vm-9 comes
        (without_f1, {}),  # f1 deleted: vms pointing at it lose flavor_id
        (fleet(), {}),  # f1 back with a new id: same vm data, new flavor_id
        (fleet(), {}),  # vm-5 reconnected, vm-9 disconnected
        (fleet(), {"power_states": lambda raw: {"running": "powered on"}.get(raw, "x")}),
        (fleet(**{"vm-0": {"raw_power_state": None}}), {}),  # nil raw state is ignored
        (fleet()[:4], {"vms": False}),  # incomplete: nothing disconnected
        (fleet(), {"vendor_types": {"availability_zones": "Other"}}),
    ]


def test_digests_leave_the_database_as_a_full_compare_does(
    engines: Callable[[], sa.Engine],
) -> None:
    fast, full = engines(), engines()
    for i, (objs, options) in enumerate(steps()):
        complete = {k: v for k, v in options.items() if isinstance(v, bool)}
        kw = {k: v for k, v in options.items() if not isinstance(v, bool)}
        a = save(fast, build(*objs, **complete), T[i], **kw)
        b = save(full, build(*objs, **complete), T[i], digests=False, **kw)
        assert counts(a) == counts(b), f"step {i}"
        assert a.rows_written == b.rows_written, f"step {i}"
        assert dump(fast) == dump(full), f"step {i}"
    ids = {r[0]: r for r in dump(fast)["flavors"]}
    assert len(ids) == 2  # f1 was recreated


def test_a_recreated_reference_target_updates_the_referring_rows(
    engines: Callable[[], sa.Engine],
) -> None:
    eng = engines()
    save(eng, build(*fleet(2)), T[0])
    save(eng, build(*[o for o in fleet(2) if o[1] != ("f1",)]), T[1])
    report = save(eng, build(*fleet(2)), T[2])
    with eng.connect() as conn:
        f1 = conn.execute(sa.text("SELECT id FROM flavors WHERE ems_ref = 'f1'")).scalar()
        got = conn.execute(sa.text("SELECT flavor_id FROM vms WHERE ems_ref = 'vm-0'")).scalar()
    assert got == f1 and report.collections["vms"].updated == 1


def test_a_refresh_without_digests_stores_fresh_ones(engines: Callable[[], sa.Engine]) -> None:
    """A stale digest must never keep a row that a digest-less refresh changed."""
    eng = engines()
    save(eng, build(*fleet(3)), T[0])
    save(eng, build(*fleet(3, **{"vm-1": {"name": "x"}})), T[1], digests=False)
    report = save(eng, build(*fleet(3)), T[2])  # back to the first name
    assert report.collections["vms"].updated == 1
    with eng.connect() as conn:
        assert conn.execute(sa.text("SELECT name FROM vms WHERE ems_ref = 'vm-1'")).scalar() == (
            "vm-1"
        )


def test_damaged_or_missing_digests_mean_a_full_compare(engines: Callable[[], sa.Engine]) -> None:
    eng = engines()
    save(eng, build(*fleet(3)), T[0])
    with eng.begin() as conn:
        conn.execute(MD.tables[DIGEST_TABLE].update().values(digests="not base64 !"))
    with eng.begin() as conn:  # a row changed behind miqspec's back
        conn.execute(sa.text("UPDATE vms SET name = 'tampered' WHERE ems_ref = 'vm-2'"))
    report = save(eng, build(*fleet(3)), T[1])
    assert report.collections["vms"].updated == 1  # compared in full: repaired
    assert report.digests_written == 3
    with eng.begin() as conn:
        conn.execute(MD.tables[DIGEST_TABLE].delete())
    report = save(eng, build(*fleet(3)), T[2])
    assert report.rows_written == 0 and report.digests_written == 3


def test_a_database_without_the_digest_table_compares_everything(tmp_path: Path) -> None:
    eng = sa.create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    MD.create_all(eng, tables=[t for n, t in MD.tables.items() if n != DIGEST_TABLE])
    save(eng, build(*fleet(2)), T[0])
    report = save(eng, build(*fleet(2, **{"vm-0": {"name": "n"}})), T[1])
    assert (report.collections["vms"].updated, report.digests_written) == (1, 0)
    eng.dispose()


def test_dry_run_stores_no_digest(engines: Callable[[], sa.Engine]) -> None:
    eng = engines()
    report = save(eng, build(*fleet(2)), T[0], dry_run=True)
    assert report.digests_written == 0
    with eng.connect() as conn:
        assert (
            conn.execute(sa.select(sa.func.count()).select_from(MD.tables[DIGEST_TABLE])).scalar()
            == 0
        )


def test_signatures_by_columns_equal_the_one_by_one_ones() -> None:
    objs = fleet(
        5,
        **{
            "vm-1": {"flavor": None, "memory_reserve": 5},
            "vm-2": {"flavor": LazyRef("flavors", ("nope",)), "cpu_limit": None},
            "vm-3": {"raw_power_state": "stopped", "ems_created_on": "2024-01-01"},
        },
    )
    objs.append(vm("vm-x", key_pairs=[LazyRef("auth_key_pairs", ("k",))]))
    objs.append(vm("vm-y", boot_time=datetime(2024, 1, 1)))  # marshal cannot: repr
    inv = build(*objs)
    one = vm_plan(inv)
    vms = list(inv.objects["vms"].values())
    singles = [one.signature(o) for o in vms]
    sigs, unresolved = vm_plan(inv).signatures(vms)
    assert list(zip(sigs, unresolved, strict=True)) == singles
    assert unresolved[vms.index(inv.objects["vms"][("vm-2",)])] == 1
    assert len(set(sigs)) == len(sigs)
    # what a row does not depend on does not change the signature; what it does, does
    same = build(*fleet(5))
    again = vm_plan(same).signatures(list(same.objects["vms"].values()))[0]
    assert again[0] == sigs[0] and again[4] == sigs[4]
    other = vm_plan(same)
    other.resolver.ids["flavors"] = {("f1",): 99, ("f2",): 12}
    moved = other.signatures(list(same.objects["vms"].values()))[0]
    assert moved[0] != again[0] and moved[1] == again[1]  # vm-0 points at f1, vm-1 at f2


@given(st.dictionaries(st.integers(-(2**62), 2**62), st.integers(-(2**63), 2**63 - 1), max_size=50))
def test_packed_digests_read_back(mapping: dict[int, int]) -> None:
    assert unpack(pack(mapping)) == mapping


def test_unpacking_damage_gives_nothing() -> None:
    assert unpack(None) == unpack("") == unpack("%%%") == unpack("AAAA") == {}


CHANGES = st.lists(
    st.tuples(
        st.sampled_from([f"vm-{i}" for i in range(6)]),
        st.sampled_from(["name", "raw_power_state", "flavor", "gone", "location"]),
        st.sampled_from(["a", "b", "stopped", None]),
    ),
    max_size=6,
)


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(CHANGES, min_size=1, max_size=4))
def test_random_histories_match_a_full_compare(
    template: Path, tmp_path: Path, history: list[list[tuple[str, str, Any]]]
) -> None:
    run = uuid.uuid4().hex[:8]
    fast = _sqlite(template, tmp_path / f"fast-{run}.db")
    full = _sqlite(template, tmp_path / f"full-{run}.db")
    try:
        for i, step in enumerate([[], *history]):
            changes: dict[str, dict[str, Any]] = {}
            gone: set[str] = set()
            for ref, attr, value in step:
                if attr == "gone":
                    gone.add(ref)
                elif attr == "flavor":
                    changes.setdefault(ref, {})[attr] = (
                        None if value is None else LazyRef("flavors", (f"f{len(value)}",))
                    )
                else:
                    changes.setdefault(ref, {})[attr] = value
            objs = [o for o in fleet(**changes) if o[1][0] not in gone]
            a = save(fast, build(*objs), T[i])
            b = save(full, build(*objs), T[i], digests=False)
            assert counts(a) == counts(b)
            assert dump(fast) == dump(full)
    finally:
        fast.dispose()
        full.dispose()


def test_the_migration_adds_the_table_to_older_databases(tmp_path: Path) -> None:
    cols = columns_after_migrating(tmp_path / "m.db", DIGEST_TABLE, "0001")
    assert cols == {c.name for c in MD.tables[DIGEST_TABLE].c}
