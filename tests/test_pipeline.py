"""Refresh end to end: simulator on loopback -> SQLite and PostgreSQL, ManageIQ semantics."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from miqspec.errors import RefreshBusyError
from miqspec.pipeline import refresh_provider, verify_provider
from miqspec.simulator import Simulator
from miqspec.spec.load import load_spec
from miqspec.store.providers import ProviderStore
from miqspec.store.refresh_lock import RefreshLock

from .conftest import AWESOME, sim_args

NAME = "ac"


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(instances=40, flavors=6, images=8, page_size=7) as s:
        yield s


def add(
    engine: sa.Engine,
    keyring: Any,
    sim: Simulator,
    *,
    password: str | None = None,
    name: str = NAME,
) -> int:
    spec = load_spec(str(AWESOME))
    return ProviderStore(engine).add(spec, name, sim_args(sim, password), keyring)


def rows(engine: sa.Engine, sql: str, **params: Any) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(sa.text(sql), params).all())


def ems_row(engine: sa.Engine) -> Any:
    return rows(
        engine,
        "select last_refresh_error, last_refresh_date, "
        "last_refresh_success_date from ext_management_systems where name = :n",
        n=NAME,
    )[0]


def test_first_refresh_persists_everything_with_references(engine, keyring, sim):
    ems_id = add(engine, keyring, sim)
    result = refresh_provider(engine, NAME, keyring)
    assert result.ok, result.error
    data = sim.data
    vms = rows(
        engine,
        "select v.ems_ref, f.ems_ref, a.ems_ref, v.power_state, v.vendor, v.type "
        "from vms v left join flavors f on f.id = v.flavor_id "
        "left join availability_zones a on a.id = v.availability_zone_id "
        "where v.ems_id = :e and v.template = :f",
        e=ems_id,
        f=False,
    )
    assert len(vms) == len(data.instances)
    by_id = {i["id"]: i for i in data.instances}
    power = load_spec(str(AWESOME)).provider.power_state
    for ems_ref, flavor_ref, az_ref, power_state, vendor, typ in vms:
        inst = by_id[ems_ref]
        assert flavor_ref == inst["flavor"]
        assert az_ref == inst["availability_zone"]
        assert power_state == power(inst["power_state"])
        assert vendor == "awesome_cloud"
        assert typ == "ManageIQ::Providers::AwesomeCloud::CloudManager::Vm"
    templates = rows(
        engine, "select count(*) from vms where ems_id = :e and template = :t", e=ems_id, t=True
    )[0][0]
    assert templates == len(data.images)
    flavors = rows(
        engine, "select ems_ref, memory, cpu_total_cores from flavors where ems_id = :e", e=ems_id
    )
    assert {(f[0], f[1], f[2]) for f in flavors} == {
        (f["id"], f["ram"], f["n_cpus"]) for f in data.flavors
    }
    status = ems_row(engine)
    assert status[0] is None and status[1] is not None and status[2] is not None


def test_second_refresh_without_change_writes_nothing(engine, keyring, sim):
    add(engine, keyring, sim)
    assert refresh_provider(engine, NAME, keyring).ok
    result = refresh_provider(engine, NAME, keyring)
    assert result.ok and result.report is not None
    assert result.report.rows_written == 0
    assert all(c.created == c.updated == c.deleted == 0 for c in result.report.collections.values())


def test_removed_instance_is_disconnected_then_reconnected(engine, keyring, sim):
    ems_id = add(engine, keyring, sim)
    assert refresh_provider(engine, NAME, keyring).ok
    gone = sim.mutate(remove=2)["removed"]
    before = dict(
        rows(engine, "select ems_ref, id from vms where ems_ref in (:a, :b)", a=gone[0], b=gone[1])
    )
    result = refresh_provider(engine, NAME, keyring)
    assert result.ok and result.report.collections["vms"].disconnected == 2
    for ref in gone:
        row = rows(engine, "select ems_id, raw_power_state from vms where ems_ref = :r", r=ref)
        assert row == [(None, "unknown")]
    sim.reset()  # the instances come back
    result = refresh_provider(engine, NAME, keyring)
    assert result.ok
    after = dict(
        rows(engine, "select ems_ref, id from vms where ems_ref in (:a, :b)", a=gone[0], b=gone[1])
    )
    assert after == before
    assert (
        rows(
            engine,
            "select count(*) from vms where ems_ref = :r and ems_id = :e",
            r=gone[0],
            e=ems_id,
        )[0][0]
        == 1
    )


def test_removed_flavor_is_deleted(engine, keyring, sim):
    add(engine, keyring, sim)
    assert refresh_provider(engine, NAME, keyring).ok
    removed = sim.mutate(remove_flavors=1)["removed_flavors"]
    result = refresh_provider(engine, NAME, keyring)
    assert result.ok and result.report.collections["flavors"].deleted == 1
    assert rows(engine, "select count(*) from flavors where ems_ref = :r", r=removed[0]) == [(0,)]


def test_power_state_change_keeps_previous_state(engine, keyring, sim):
    add(engine, keyring, sim)
    assert refresh_provider(engine, NAME, keyring).ok
    changed = sim.mutate(change=1)["changed"][0]
    old = rows(
        engine, "select raw_power_state, state_changed_on from vms where ems_ref = :r", r=changed
    )[0]
    assert refresh_provider(engine, NAME, keyring).ok
    new_raw = next(i["power_state"] for i in sim.data.instances if i["id"] == changed)
    row = rows(
        engine,
        "select raw_power_state, power_state, previous_state, state_changed_on "
        "from vms where ems_ref = :r",
        r=changed,
    )[0]
    assert row[0] == new_raw != old[0]
    assert row[1] == load_spec(str(AWESOME)).provider.power_state(new_raw)
    assert row[2] == old[0]
    assert row[3] is not None and row[3] >= old[1]


@pytest.mark.parametrize(
    "fault",
    [
        {"http_429": 2, "retry_after": 0.01},
        {"http_5xx": 2},
        {"malformed_json": 1},
        {"truncated_json": 1},
        {"drop_connection": 1},
    ],
)
def test_transient_faults_are_retried_to_a_complete_refresh(engine, keyring, sim, fault):
    add(engine, keyring, sim)
    sim.set_faults(path="/instances", **fault)
    result = refresh_provider(engine, NAME, keyring)
    assert result.ok, result.error
    assert rows(
        engine, "select count(*) from vms where template = :f and ems_id is not null", f=False
    )[0][0] == len(sim.data.instances)


def _snapshot(engine: sa.Engine) -> list[Any]:
    return rows(engine, "select ems_ref, ems_id, name, raw_power_state from vms order by ems_ref")


@pytest.mark.parametrize(
    "fault",
    [
        {"endless_pages": True},
        {"fail_always_status": 500},
        {"malformed_json": 50},
    ],
)
def test_failing_refresh_leaves_inventory_unchanged(engine, keyring, sim, fault):
    add(engine, keyring, sim)
    assert refresh_provider(engine, NAME, keyring).ok
    before = _snapshot(engine)
    sim.mutate(add=3, remove=3, change=3)
    sim.set_faults(path="/instances", **fault)
    result = refresh_provider(engine, NAME, keyring)
    assert not result.ok and result.error
    assert _snapshot(engine) == before
    status = ems_row(engine)
    assert status[0] and status[1] > status[2]


def test_database_error_mid_save_rolls_back(engine, keyring, sim):
    add(engine, keyring, sim)
    assert refresh_provider(engine, NAME, keyring).ok
    before = _snapshot(engine)
    flavors_before = rows(engine, "select count(*) from flavors")
    sim.mutate(add=2, remove_flavors=1)
    with engine.begin() as conn:  # vms inserts fail; flavors were already deleted by then
        if engine.dialect.name == "sqlite":
            conn.execute(
                sa.text(
                    "CREATE TRIGGER no_vms BEFORE INSERT ON vms BEGIN "
                    "SELECT RAISE(ABORT, 'injected failure'); END"
                )
            )
        else:
            conn.execute(
                sa.text(
                    "CREATE FUNCTION no_vms() RETURNS trigger AS $$ BEGIN "
                    "RAISE EXCEPTION 'injected failure'; END $$ LANGUAGE plpgsql"
                )
            )
            conn.execute(
                sa.text(
                    "CREATE TRIGGER no_vms BEFORE INSERT ON vms "
                    "FOR EACH ROW EXECUTE FUNCTION no_vms()"
                )
            )
    result = refresh_provider(engine, NAME, keyring)
    assert not result.ok and result.exit_code == 7
    assert _snapshot(engine) == before
    assert rows(engine, "select count(*) from flavors") == flavors_before
    assert ems_row(engine)[0]


def test_wrong_credentials_stop_before_any_write(engine, keyring, sim):
    add(engine, keyring, sim, password="not-the-secret")
    result = refresh_provider(engine, NAME, keyring)
    assert not result.ok and result.exit_code == 3
    assert "invalid credentials" in (result.error or "")
    assert "not-the-secret" not in (result.error or "")
    assert rows(engine, "select count(*) from vms") == [(0,)]
    assert rows(engine, "select count(*) from flavors") == [(0,)]


def test_dry_run_writes_nothing(engine, keyring, sim):
    add(engine, keyring, sim)
    result = refresh_provider(engine, NAME, keyring, dry_run=True, sample_changes=5)
    assert result.ok and result.report is not None
    assert result.report.collections["vms"].created == len(sim.data.instances)
    assert rows(engine, "select count(*) from vms") == [(0,)]
    assert ems_row(engine)[1] is None


def test_second_concurrent_refresh_is_refused(engine, keyring, sim):
    ems_id = add(engine, keyring, sim)
    with RefreshLock(engine, ems_id, NAME), pytest.raises(RefreshBusyError):
        refresh_provider(engine, NAME, keyring)
    assert refresh_provider(engine, NAME, keyring).ok


def test_instance_verify_records_status(engine, keyring, sim):
    add(engine, keyring, sim)
    result = verify_provider(engine, NAME, keyring)
    assert result.valid and result.status == "Valid"
    row = rows(
        engine, "select status, last_valid_on from authentications where authtype = :d", d="default"
    )[0]
    assert row[0] == "Valid" and row[1] is not None
    add(engine, keyring, sim, password="wrong-secret", name="bad")
    bad = verify_provider(engine, "bad", keyring)
    assert not bad.valid and bad.status == "Invalid"


def test_full_compare_repairs_rows_edited_outside_miqspec(engine, keyring, sim):
    add(engine, keyring, sim)
    assert refresh_provider(engine, NAME, keyring).ok
    with engine.begin() as conn:
        conn.execute(sa.text("update flavors set name = 'edited by hand'"))
    digest_run = refresh_provider(engine, NAME, keyring)
    assert digest_run.ok and digest_run.report.rows_written == 0  # digests trust the rows
    full = refresh_provider(engine, NAME, keyring, full_compare=True)
    assert full.ok and full.report.collections["flavors"].updated == len(sim.data.flavors)
    names = {r[0] for r in rows(engine, "select name from flavors")}
    assert names == {f["name"] for f in sim.data.flavors}
