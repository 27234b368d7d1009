"""Record carry end to end (persist_carry): a refresh that leaves unchanged records unparsed
leaves the database exactly as a refresh that parses and compares everything, on SQLite and
PostgreSQL, through any history of upstream changes."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from miqspec.collect.runner import CallResult, CollectResult
from miqspec.parse.carry import Carry, carry_plans
from miqspec.parse.parser import parse
from miqspec.persist.digest import DIGEST_TABLE, UNSIGNED, unpack
from miqspec.persist.maps import (
    MAPS_TABLE,
    load_maps,
    pack_pages,
    pack_records,
    unpack_pages,
    unpack_records,
)
from miqspec.persist.persister import PersistReport, persist
from miqspec.pipeline import RefreshResult, refresh_provider
from miqspec.simulator import Simulator
from miqspec.spec.load import load_spec
from miqspec.store.providers import ProviderStore
from miqspec.store.tables import build_metadata

from ..conftest import AWESOME, sim_args
from ..persist_support import columns_after_migrating

TABLES = {
    "vms": "ems_ref, name, type, template, location, raw_power_state, power_state, "
    "previous_state, flavor_id, availability_zone_id, ems_id",
    "flavors": "ems_ref, name, cpu_total_cores, memory, ems_id",
    "availability_zones": "ems_ref, name, ems_id",
}


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(instances=60, flavors=5, images=6, page_size=9) as s:
        yield s


def add(engine: sa.Engine, keyring: Any, sim: Simulator, name: str, spec: Path = AWESOME) -> None:
    ProviderStore(engine).add(load_spec(str(spec)), name, sim_args(sim), keyring)


def dump(engine: sa.Engine, name: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every inventory row of provider ``name``, references by the target's ems_ref."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    with engine.connect() as conn:
        ems = conn.execute(
            sa.text("select id from ext_management_systems where name = :n"), {"n": name}
        ).scalar()
        for table, cols in TABLES.items():
            rows = conn.execute(
                sa.text(f"select id, {cols} from {table} where ems_id = :e or ems_id is null"),
                {"e": ems},
            ).all()
            out[table] = sorted(tuple(r) for r in rows)
    return out


def refresh(engine: sa.Engine, keyring: Any, name: str, **kw: Any) -> RefreshResult:
    result = refresh_provider(engine, name, keyring, **kw)
    assert result.ok, result.error
    return result


def carried(result: RefreshResult, collection: str = "vms") -> int:
    assert result.report is not None
    return result.report.collections[collection].carried


class Pair:
    """Two providers of the same simulator in two databases: ``carry`` refreshes as usual,
    ``full`` with ``full_compare`` (every record parsed, every row compared)."""

    def __init__(self, engine: sa.Engine, other: sa.Engine, keyring: Any, sim: Simulator):
        self.engine, self.other, self.keyring = engine, other, keyring
        add(engine, keyring, sim, "carry")
        add(other, keyring, sim, "full")

    def refresh(self) -> RefreshResult:
        result = refresh(self.engine, self.keyring, "carry")
        refresh(self.other, self.keyring, "full", full_compare=True)
        got, want = dump(self.engine, "carry"), dump(self.other, "full")
        assert got == want
        return result


@pytest.fixture
def other(engine: sa.Engine, tmp_path: Path) -> Iterator[sa.Engine]:
    """A second, fresh SQLite database for the full-compare side (its own row ids)."""
    from miqspec.store.database import open_database, upgrade

    eng = open_database(f"sqlite:///{tmp_path / 'full.db'}")
    upgrade(eng)
    yield eng
    eng.dispose()


def test_an_unchanged_refresh_parses_no_record(engine, keyring, sim) -> None:
    add(engine, keyring, sim, "ac")
    first = refresh(engine, keyring, "ac")
    assert carried(first) == 0
    again = refresh(engine, keyring, "ac")
    assert again.report is not None and again.report.rows_written == 0
    assert {n: c.carried for n, c in again.report.collections.items()} == {
        "availability_zones": 3,
        "flavors": 5,
        "miq_templates": 6,
        "vms": 60,
    }
    assert again.counts["vms"] == 60
    assert again.collected is not None
    call = again.collected.calls["get_instances"]  # a digest per page and its record count
    assert call.page_digests is not None and len(call.page_digests) == call.pages
    assert sum(n for _, n in call.page_digests) == 60


def test_histories_end_as_a_full_compare_ends(engine, other, keyring, sim) -> None:
    pair = Pair(engine, other, keyring, sim)
    pair.refresh()
    assert carried(pair.refresh()) == 60
    changes = sim.mutate(change=4, remove=3, add=5)
    result = pair.refresh()
    assert carried(result) == 60 - 4 - 3
    assert result.report is not None
    vms = result.report.collections["vms"]
    assert (vms.created, vms.updated, vms.disconnected) == (5, 4, 3)
    sim.mutate(remove_flavors=1)  # a reference target goes: vms parse in full, flavor_id NULL
    result = pair.refresh()
    assert carried(result) == 0 and carried(result, "flavors") == 4
    assert carried(pair.refresh()) == 60 - 3 + 5
    sim.mutate(change=2, add=1, remove=1)
    pair.refresh()
    assert changes["removed"]  # the disconnected rows stayed disconnected throughout


def test_a_row_deleted_behind_miqspecs_back_is_made_again(engine, keyring, sim) -> None:
    add(engine, keyring, sim, "ac")
    refresh(engine, keyring, "ac")
    before = dump(engine, "ac")
    with engine.begin() as conn:
        gone = conn.execute(sa.text("select min(id) from vms where template = false")).scalar()
        conn.execute(sa.text("delete from vms where id = :i"), {"i": gone})
    result = refresh(engine, keyring, "ac")
    assert carried(result) == 0  # a carried row is missing: the collection is parsed in full
    assert result.report is not None and result.report.collections["vms"].created == 1
    after = dump(engine, "ac")
    assert sorted(r[1:] for r in after["vms"]) == sorted(r[1:] for r in before["vms"])
    assert gone not in [r[0] for r in after["vms"]]
    assert carried(refresh(engine, keyring, "ac")) == 60


def test_an_edited_spec_parses_everything_once(engine, keyring, sim, tmp_path: Path) -> None:
    spec = tmp_path / "awesome_cloud.yaml"
    shutil.copy(AWESOME, spec)
    add(engine, keyring, sim, "ac", spec)
    refresh(engine, keyring, "ac")
    spec.write_text(spec.read_text().replace("title: Awesome Cloud", "title: Awesome Cloud 2"))
    assert carried(refresh(engine, keyring, "ac")) == 0
    assert carried(refresh(engine, keyring, "ac")) == 60


def test_dry_run_and_full_compare_keep_or_renew_the_maps(engine, keyring, sim) -> None:
    add(engine, keyring, sim, "ac")
    refresh(engine, keyring, "ac")

    def maps() -> list[tuple[Any, ...]]:
        with engine.connect() as conn:
            query = f"select collection, kind, fingerprint, data from {MAPS_TABLE}"
            return sorted((r[0], r[1], r[2], bytes(r[3])) for r in conn.execute(sa.text(query)))

    stored = maps()
    names = sorted(TABLES | {"miq_templates": ""})
    assert [m[:2] for m in stored] == [(n, k) for n in names for k in ("pages", "records")]
    sim.mutate(change=5)
    dry = refresh(engine, keyring, "ac", dry_run=True)
    assert carried(dry) == 55 and maps() == stored  # a dry run carries, and writes nothing
    full = refresh(engine, keyring, "ac", full_compare=True)
    assert carried(full) == 0 and maps() != stored
    assert carried(refresh(engine, keyring, "ac")) == 60


CASES = {  # collection: its table, its records' other fields
    "flavors": ("flavors", {"n_cpus": 1, "ram": 1}),  # a lazy points at it
    "miq_templates": ("vms", {}),  # nothing points at it: its keys are not read
}


def _round(engine: sa.Engine, name: str, records: list[dict[str, Any]]) -> PersistReport:
    """Parse and persist one collection's records the way a refresh does (maps loaded, then
    stored)."""
    spec = load_spec(str(AWESOME))
    plan = carry_plans(spec)[name]
    plans = {name: plan}
    owners = {n: 1 for n in spec.catalogue.collections}
    md = build_metadata(spec.catalogue)
    with engine.connect() as conn:
        stored, pages = load_maps(conn, md, plans, owners)
    calls = {plan.call: CallResult(plan.call, records)}
    inv = parse(spec, CollectResult(calls=calls), carry=Carry(plans, stored, pages))
    inv.objects = {name: inv.objects[name]}
    inv.complete = {name: True}
    with engine.begin() as conn:
        return persist(conn, md, spec.catalogue, inv, owners, now=datetime(2024, 5, 1))


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_parsed_record_claiming_a_carried_row_parses_all(engine, name: str) -> None:
    """Duplicate ids in an API: the first record of an id wins, carried or not."""
    table, extra = CASES[name]
    assert carry_plans(load_spec(str(AWESOME)))[name].referenced is (name == "flavors")
    with engine.begin() as conn:
        conn.execute(sa.text("insert into ext_management_systems (id, name) values (1, 'x')"))
    a, b = ({"id": "f1", "name": "a", **extra}, {"id": "f2", "name": "b", **extra})
    assert _round(engine, name, [a, b]).collections[name].created == 2
    assert _round(engine, name, [a, b]).collections[name].carried == 2
    dup = {**b, "name": "b-first"}  # a new record with f2's id, ahead of f2's own
    report = _round(engine, name, [a, dup, b]).collections[name]
    assert (report.carried, report.updated) == (0, 1)
    with engine.connect() as conn:
        names = conn.execute(sa.text(f"select ems_ref, name from {table} order by ems_ref"))
        assert [tuple(r) for r in names] == [("f1", "a"), ("f2", "b-first")]
    # f2's own record, parsed every time (a duplicate is never mapped), claims the carried
    # row again: parsed in full, nothing written
    report = _round(engine, name, [a, dup, b]).collections[name]
    assert (report.carried, report.updated, report.unchanged) == (0, 0, 2)
    # a new record beside the carried ones: found new by its key, inserted
    report = _round(engine, name, [a, dup, b, {**a, "id": "f3"}]).collections[name]
    assert (report.created, report.unchanged) == (1, 2)
    report = _round(engine, name, [a, dup, b, {**a, "id": "f3"}]).collections[name]
    assert (report.carried, report.created) == (0, 0)  # b claims again
    report = _round(engine, name, [a, dup, {**a, "id": "f3"}]).collections[name]
    assert (report.carried, report.created, report.updated) == (3, 0, 0)


@given(st.dictionaries(st.integers(0, 2**64 - 1), st.integers(1, 2**62), max_size=40))
def test_packed_record_maps_read_back(mapping: dict[int, int]) -> None:
    assert unpack_records(pack_records(mapping)) == mapping


@given(st.dictionaries(st.integers(0, 2**64 - 1), st.lists(st.integers(0, 2**64 - 1), max_size=5)))
def test_packed_page_maps_read_back(pages: dict[int, list[int]]) -> None:
    assert unpack_pages(pack_pages(list(pages.items()))) == pages


def test_damaged_maps_read_as_none() -> None:
    good = pack_pages([(1, [2, 3])])
    for data in (None, b"", b"x" * 7, good[:-8], good + b"\0" * 8):
        assert unpack_pages(data) == {}
    assert unpack_records(pack_records({1: 2})[:-8]) == {}
    assert unpack_records(b"\1" * 9) == {}


def test_the_migration_adds_the_table_to_older_databases(tmp_path: Path) -> None:
    cols = columns_after_migrating(tmp_path / "m.db", MAPS_TABLE, "0002")
    assert cols == {"id", "ems_id", "collection", "kind", "fingerprint", "data"}


def test_a_change_in_a_field_the_mapping_ignores_parses_nothing(engine) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text("insert into ext_management_systems (id, name) values (1, 'x')"))
    a = {"id": "f1", "name": "a", "n_cpus": 1, "ram": 1, "updated_at": "t1"}
    b = {"id": "f2", "name": "b", "n_cpus": 2, "ram": 2, "updated_at": "t1"}
    _round(engine, "flavors", [a, b])
    report = _round(engine, "flavors", [{**a, "updated_at": "t2"}, {**b, "name": "c"}])
    flavors = report.collections["flavors"]
    assert (flavors.carried, flavors.updated, flavors.unchanged) == (1, 1, 1)


STEPS = st.lists(
    st.tuples(st.integers(0, 6), st.integers(0, 6), st.integers(0, 6), st.integers(0, 1)),
    min_size=1,
    max_size=3,
)


@settings(
    max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=STEPS)
def test_random_histories_end_as_a_full_compare_ends(
    keyring: Any, tmp_path_factory: pytest.TempPathFactory, steps: list[tuple[int, ...]]
) -> None:
    """Random changes at the API (instances added, changed, removed; flavors removed), each
    followed by a refresh with record carry and one with a full compare: same database."""
    from miqspec.store.database import open_database, upgrade

    where = tmp_path_factory.mktemp("histories")
    engines = [open_database(f"sqlite:///{where / n}.db") for n in ("carry", "full")]
    try:
        for eng in engines:
            upgrade(eng)
        with Simulator(instances=30, flavors=4, images=3, page_size=7) as sim:
            pair = Pair(engines[0], engines[1], keyring, sim)
            pair.refresh()
            for add_, change, remove, remove_flavors in steps:
                sim.mutate(add=add_, change=change, remove=remove, remove_flavors=remove_flavors)
                pair.refresh()
            assert carried(pair.refresh()) > 0  # nothing changed since: records are carried
    finally:
        for eng in engines:
            eng.dispose()


def test_a_first_save_of_carried_records_signs_nothing_and_later_compares(engine, keyring, sim):
    """Rows of carried records saved into an empty scope get ``UNSIGNED`` digests; when the
    collection is parsed in full later, those rows are compared (written only where they
    differ) and get real digests."""
    add(engine, keyring, sim, "ac")
    refresh(engine, keyring, "ac")

    def digests() -> dict[str, dict[int, int]]:
        with engine.connect() as conn:
            rows = conn.execute(sa.text(f"select collection, digests from {DIGEST_TABLE}"))
            return {name: unpack(text) for name, text in rows}

    first = digests()
    assert set(first["vms"].values()) == {UNSIGNED} and len(first["vms"]) == 60
    assert set(first["flavors"].values()) == {UNSIGNED}
    assert carried(refresh(engine, keyring, "ac")) == 60
    assert digests() == first  # carried rows keep what they had
    sim.mutate(remove_flavors=1)
    result = refresh(engine, keyring, "ac")
    assert result.report is not None and carried(result) == 0
    vms = result.report.collections["vms"]
    with engine.connect() as conn:
        nulled = conn.execute(
            sa.text("select count(*) from vms where template = false and flavor_id is null")
        ).scalar()
    assert vms.updated == nulled > 0 and vms.unchanged == 60 - nulled
    assert UNSIGNED not in digests()["vms"].values()
    assert carried(refresh(engine, keyring, "ac")) == 60


def test_a_scope_column_changed_behind_miqspecs_back_waits_for_a_full_compare(
    engine, keyring, sim
) -> None:
    """The rows in scope of a carrying collection are read from the owner index (vms and
    miq_templates share one read): a row moved to the other scope outside miqspec is, like
    any value changed there, left as it is until its record changes or --full-compare."""
    add(engine, keyring, sim, "ac")
    refresh(engine, keyring, "ac")
    with engine.begin() as conn:
        moved = conn.execute(sa.text("select min(id) from vms where template = false")).scalar()
        conn.execute(sa.text("update vms set template = true where id = :i"), {"i": moved})
    again = refresh(engine, keyring, "ac")
    assert again.report is not None and again.report.rows_written == 0
    assert carried(again) == 60 and carried(again, "miq_templates") == 6
    full = refresh(engine, keyring, "ac", full_compare=True)
    assert full.report is not None
    assert full.report.collections["vms"].created == 1  # made again in its own scope
    with engine.connect() as conn:
        vms = conn.execute(sa.text("select count(*) from vms where template = false")).scalar()
        left = conn.execute(sa.text("select ems_id from vms where id = :i"), {"i": moved}).all()
    assert vms == 60 and left in ([], [(None,)])  # the moved row swept (or disconnected)
    assert carried(refresh(engine, keyring, "ac")) == 60


def test_parsed_rows_are_the_saved_objects_rows() -> None:
    """``_parsed_rows``: a digest per parsed record whose object has a row, looked up by the
    object's in-memory key (a one-string ref is its own key; others go through mem_key)."""
    from miqspec.persist.carry import _parsed_rows
    from miqspec.persist.values import mem_key

    ids = {("a",): 1, ("b",): 2, mem_key(("c", 3)): 3}
    plain = [(10, ("a",)), (11, ("zz",)), (12, ("b",))]
    assert list(_parsed_rows(ids, plain)) == [(10, 1), (12, 2)]
    mixed = [*plain, (13, ("c", 3))]
    assert list(_parsed_rows(ids, mixed)) == [(10, 1), (12, 2), (13, 3)]
    assert list(_parsed_rows(ids, [])) == []
