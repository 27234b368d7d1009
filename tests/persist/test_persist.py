"""persist: ManageIQ's save semantics on real SQLite and PostgreSQL (a private schema, emptied
after each test; skipped when PostgreSQL is unreachable)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from miqspec.errors import DatabaseError, MappingError
from miqspec.parse.objects import LazyRef, ParsedInventory
from miqspec.persist.persister import PersistReport, persist
from miqspec.spec.catalogue import load_catalogue
from miqspec.store.tables import build_metadata

from ..persist_support import VM_TYPE, build, flavor, private_schema, vm

PG_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
CAT = load_catalogue()
MD = build_metadata(CAT)
TABLES = [
    "vms",
    "flavors",
    "availability_zones",
    "hardwares",
    "disks",
    "authentications",
    "key_pairs_vms",
    "cloud_tenants",
    "orchestration_stacks",
    "network_ports",
    "floating_ips",
    "configured_systems",
    "ext_management_systems",
    "cloud_tenant_flavors",
]  # the tables the tests write
EMS = 1
OWNERS = {name: EMS for name in CAT.collections}
T1, T2, T3 = datetime(2024, 5, 1, 12), datetime(2024, 5, 2, 12), datetime(2024, 5, 3, 12)
POWER = {"running": "on", "stopped": "off"}


def power_state(raw: Any) -> str:
    return POWER.get(raw, "unknown")


@pytest.fixture(scope="module")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("persist") / "template.db"
    eng = sa.create_engine(f"sqlite:///{path}")
    MD.create_all(eng)
    eng.dispose()
    return path


@pytest.fixture(scope="module")
def pg_engine() -> Iterator[sa.Engine]:
    """All tables in a fresh private PostgreSQL schema, dropped after the module."""
    with private_schema(MD, "miqspec_p") as engine:
        yield engine


def _sqlite(template: Path, tmp_path: Path) -> sa.Engine:
    shutil.copy(template, tmp_path / "persist.db")
    return sa.create_engine(f"sqlite:///{tmp_path / 'persist.db'}")


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(
    request: pytest.FixtureRequest, sqlite_template: Path, tmp_path: Path
) -> Iterator[sa.Engine]:
    if request.param == "sqlite":
        eng = _sqlite(sqlite_template, tmp_path)
        yield eng
        eng.dispose()
        return
    eng = request.getfixturevalue("pg_engine")
    yield eng
    with eng.begin() as conn:  # empty the tables for the next test
        conn.exec_driver_sql("DROP TRIGGER IF EXISTS boom ON hardwares")
        for table in TABLES:
            conn.execute(MD.tables[table].delete())


@pytest.fixture
def lite(sqlite_template: Path, tmp_path: Path) -> Iterator[sa.Engine]:
    eng = _sqlite(sqlite_template, tmp_path)
    yield eng
    eng.dispose()


def obj(collection: str, *ref: Any, **data: Any) -> tuple[str, tuple[Any, ...], dict[str, Any]]:
    return (collection, ref, data)


def save(eng: sa.Engine, inv: ParsedInventory, now: datetime = T1, **kw: Any) -> PersistReport:
    kw.setdefault("power_states", power_state)
    with eng.begin() as conn:
        return persist(conn, MD, CAT, inv, kw.pop("owners", OWNERS), now=now, **kw)


def rows(eng: sa.Engine, table: str, *cols: str) -> list[dict[str, Any]]:
    t = MD.tables[table]
    with eng.connect() as conn:
        result = conn.execute(sa.select(*(t.c[c] for c in ("id", *cols))).order_by(t.c.id))
        return [dict(r._mapping) for r in result]


def by(eng: sa.Engine, table: str, key: str, *cols: str) -> dict[Any, dict[str, Any]]:
    return {r[key]: r for r in rows(eng, table, key, *cols)}


def dump(eng: sa.Engine) -> dict[str, list[tuple[Any, ...]]]:
    with eng.connect() as conn:
        return {t: sorted(tuple(r) for r in conn.execute(sa.select(MD.tables[t]))) for t in TABLES}


def test_first_save_creates_rows_with_references_resolved(engine: sa.Engine) -> None:
    inv = build(
        flavor(1),
        flavor(2, memory="2048"),
        obj("availability_zones", "az-1", ems_ref="az-1", name="AZ 1", type="A"),
        vm(
            "vm-1",
            flavor=LazyRef("flavors", ("1",)),
            availability_zone=LazyRef("availability_zones", ("az-1",)),
        ),
        vm("vm-2", flavor=LazyRef("flavors", (2,)), raw_power_state="stopped"),
    )
    report = save(engine, inv)
    assert report.order.index("flavors") < report.order.index("vms")
    assert (report.collections["vms"].created, report.collections["flavors"].created) == (2, 2)
    assert report.rows_written == 5
    flavors = by(engine, "flavors", "ems_ref", "ems_id", "memory", "cpu_sockets")
    zones = by(engine, "availability_zones", "ems_ref")
    vms = by(
        engine,
        "vms",
        "ems_ref",
        "flavor_id",
        "availability_zone_id",
        "ems_id",
        "template",
        "power_state",
        "state_changed_on",
        "created_on",
        "updated_on",
        "type",
    )
    assert vms["vm-1"]["flavor_id"] == flavors["1"]["id"]
    assert vms["vm-2"]["flavor_id"] == flavors["2"]["id"]
    assert vms["vm-1"]["availability_zone_id"] == zones["az-1"]["id"]
    assert vms["vm-2"]["availability_zone_id"] is None
    assert flavors["2"]["memory"] == 2048 and flavors["1"]["cpu_sockets"] == 1  # default
    for row in vms.values():
        assert (row["ems_id"], row["template"], row["type"]) == (EMS, False, VM_TYPE)
        assert row["created_on"] == row["updated_on"] == row["state_changed_on"] == T1
    assert [vms[r]["power_state"] for r in ("vm-1", "vm-2")] == ["on", "off"]


def test_identical_save_writes_nothing(engine: sa.Engine) -> None:
    def inv() -> ParsedInventory:
        return build(flavor(1), vm("vm-1", flavor=LazyRef("flavors", ("1",))), vm("vm-2"))

    save(engine, inv())
    before = dump(engine)
    report = save(engine, inv(), now=T2)
    assert report.rows_written == 0
    assert report.collections["vms"].unchanged == 2
    assert report.collections["flavors"].unchanged == 1
    assert dump(engine) == before  # updated_on not bumped either


def test_values_are_normalized_so_an_unchanged_refresh_writes_nothing(engine: sa.Engine) -> None:
    def inv() -> ParsedInventory:
        return build(
            flavor(7, memory="1024", enabled="true", cpu_total_cores=2.0),
            obj(
                "availability_zones",
                "az",
                ems_ref="az",
                type="A",
                provider_services_supported=[1, "x"],
            ),
            obj(
                "network_ports",
                "p",
                ems_ref="p",
                type="P",
                extra_attributes={1: (2, 3)},
                device=LazyRef("vms", ("vm-1",)),
            ),
            vm(
                "vm-1",
                flavor=LazyRef("flavors", ("7",)),
                ems_created_on="2024-01-01T10:00:00Z",
                boot_time=datetime(2024, 1, 1, 12, tzinfo=UTC),
            ),
        )

    save(engine, inv())
    assert save(engine, inv(), now=T2).rows_written == 0
    row = by(engine, "flavors", "ems_ref", "memory", "enabled", "cpu_total_cores")["7"]
    assert (row["memory"], row["enabled"], row["cpu_total_cores"]) == (1024, True, 2)
    assert by(engine, "availability_zones", "ems_ref", "provider_services_supported")["az"][
        "provider_services_supported"
    ] == ["1", "x"]
    assert by(engine, "network_ports", "ems_ref", "extra_attributes")["p"]["extra_attributes"] == {
        "1": [2, 3]
    }
    vm_row = by(engine, "vms", "ems_ref", "ems_created_on", "boot_time")["vm-1"]
    assert (vm_row["ems_created_on"], vm_row["boot_time"]) == (
        datetime(2024, 1, 1, 10),
        datetime(2024, 1, 1, 12),
    )


def test_vanished_vm_is_disconnected_then_reconnected(engine: sa.Engine) -> None:
    save(engine, build(vm("vm-1"), vm("vm-2")))
    first = by(engine, "vms", "ems_ref")
    report = save(engine, build(vm("vm-1")), now=T2, sample_changes=5)
    assert report.collections["vms"].disconnected == 1
    assert [(c.ref, c.attribute, c.old, c.new) for c in report.changes] == [
        ("vm-2", "ems_id", EMS, None)
    ]
    cols = ("ems_id", "raw_power_state", "power_state", "previous_state", "state_changed_on")
    gone = by(engine, "vms", "ems_ref", *cols)["vm-2"]
    assert [gone[c] for c in cols] == [None, "unknown", "unknown", "running", T2]
    report = save(engine, build(vm("vm-1"), vm("vm-2")), now=T3)
    back = by(engine, "vms", "ems_ref", *cols)
    assert report.collections["vms"].reconnected == 1
    assert report.collections["vms"].created == 0
    assert back["vm-2"]["id"] == first["vm-2"]["id"]
    assert [back["vm-2"][c] for c in cols] == [EMS, "running", "on", "unknown", T3]
    assert len(back) == 2


def test_vanished_flavor_is_deleted(engine: sa.Engine) -> None:
    save(engine, build(flavor("a"), flavor("b")))
    report = save(engine, build(flavor("a")))
    assert report.collections["flavors"].deleted == 1
    assert list(by(engine, "flavors", "ems_ref")) == ["a"]


def test_incomplete_collection_deletes_nothing(engine: sa.Engine) -> None:
    save(engine, build(flavor("a"), flavor("b"), vm("vm-1"), vm("vm-2")))
    report = save(engine, build(flavor("a"), vm("vm-1"), flavors=False, vms=False))
    assert report.collections["flavors"].deleted == report.collections["vms"].disconnected == 0
    assert sorted(by(engine, "flavors", "ems_ref")) == ["a", "b"]
    assert [r["ems_id"] for r in rows(engine, "vms", "ems_id")] == [EMS, EMS]


def test_complete_collection_without_objects_empties_its_scope(engine: sa.Engine) -> None:
    save(engine, build(flavor("a")))
    save(engine, build(flavor("z")), owners={**OWNERS, "flavors": 2})  # another manager
    report = save(engine, build(flavors=True))
    assert report.collections["flavors"].deleted == 1
    assert [(r["ems_ref"], r["ems_id"]) for r in rows(engine, "flavors", "ems_ref", "ems_id")] == [
        ("z", 2)
    ]


def test_power_state_change_records_previous_state(engine: sa.Engine) -> None:
    save(engine, build(vm("vm-1")))
    report = save(engine, build(vm("vm-1", raw_power_state="stopped")), now=T2)
    cols = ("raw_power_state", "power_state", "previous_state", "state_changed_on", "updated_on")
    row = by(engine, "vms", "ems_ref", *cols)["vm-1"]
    assert [row[c] for c in cols] == ["stopped", "off", "running", T2, T2]
    assert report.collections["vms"].updated == 1
    report = save(engine, build(vm("vm-1", raw_power_state=None)), now=T3)  # nil is ignored
    assert report.rows_written == 0
    assert by(engine, "vms", "ems_ref", *cols)["vm-1"] == row


def test_lazy_key_and_default(engine: sa.Engine) -> None:
    port = LazyRef("network_ports", ("port-1",), key="device")
    inv = build(
        flavor("f", name="small"),
        vm("vm-1", description=LazyRef("flavors", ("f",), key="name")),
        vm("vm-2", description=LazyRef("flavors", ("nope",), key="name", default="n/a")),
        obj(
            "network_ports", "port-1", ems_ref="port-1", type="P", device=LazyRef("vms", ("vm-1",))
        ),
        obj(
            "floating_ips",
            "ip-1",
            ems_ref="ip-1",
            type="I",
            vm=port,
            network_port=LazyRef("network_ports", ("port-1",)),
        ),
        obj(
            "floating_ips",
            "ip-2",
            ems_ref="ip-2",
            type="I",
            vm=LazyRef("network_ports", ("port-9",), key="device", default=None),
        ),
    )
    report = save(engine, inv)
    vms = by(engine, "vms", "ems_ref", "description")
    ports = by(engine, "network_ports", "ems_ref", "device_id", "device_type")
    ips = by(engine, "floating_ips", "ems_ref", "vm_id", "network_port_id")
    assert (vms["vm-1"]["description"], vms["vm-2"]["description"]) == ("small", "n/a")
    assert (ports["port-1"]["device_id"], ports["port-1"]["device_type"]) == (
        vms["vm-1"]["id"],
        "VmOrTemplate",
    )
    assert ips["ip-1"]["vm_id"] == vms["vm-1"]["id"]
    assert ips["ip-1"]["network_port_id"] == ports["port-1"]["id"]
    assert ips["ip-2"]["vm_id"] is None
    assert report.collections["floating_ips"].unresolved == 1
    assert report.order.index("vms") < report.order.index("network_ports")
    assert report.order.index("network_ports") < report.order.index("floating_ips")


def test_lazy_into_a_collection_not_refreshed_reads_the_database(engine: sa.Engine) -> None:
    save(engine, build(flavor("a", name="large")))
    inv = build(
        vm(
            "vm-1",
            flavor=LazyRef("flavors", ("a",)),
            description=LazyRef("flavors", ("a",), key="name"),
        ),
        vm("vm-2", flavor=LazyRef("flavors", ("zz",))),
    )
    report = save(engine, inv)
    vms = by(engine, "vms", "ems_ref", "flavor_id", "description")
    flavor_id = rows(engine, "flavors")[0]["id"]
    assert (vms["vm-1"]["flavor_id"], vms["vm-1"]["description"]) == (flavor_id, "large")
    assert vms["vm-2"]["flavor_id"] is None
    assert report.collections["vms"].unresolved == 1
    assert "flavors" not in report.collections  # not refreshed: nothing deleted


def hw(vm_ref: str, *disks: str) -> list[tuple[str, tuple[Any, ...], dict[str, Any]]]:
    parent = LazyRef("vms", (vm_ref,))
    hardware = LazyRef("hardwares", (parent,))
    out = [obj("hardwares", parent, vm_or_template=parent, memory_mb=1024)]
    out += [obj("disks", hardware, d, hardware=hardware, device_name=d, size=1) for d in disks]
    return out


def test_composite_manager_ref_with_a_reference_part(engine: sa.Engine) -> None:
    inv = build(vm("vm-1"), vm("vm-2"), *hw("vm-1", "sda", "sdb"), *hw("vm-2", "sda"))
    save(engine, inv)
    assert (
        save(
            engine, build(vm("vm-1"), vm("vm-2"), *hw("vm-1", "sda", "sdb"), *hw("vm-2", "sda"))
        ).rows_written
        == 0
    )
    vms = by(engine, "vms", "ems_ref")
    hardwares = by(engine, "hardwares", "vm_or_template_id")
    assert sorted(hardwares) == sorted(v["id"] for v in vms.values())
    # vm-2 is not in this (partial) refresh: its hardware and disks stay; vm-1 lost sdb.
    report = save(engine, build(vm("vm-1"), *hw("vm-1", "sda"), vms=False))
    assert report.collections["disks"].deleted == 1
    disks = rows(engine, "disks", "hardware_id", "device_name")
    hw1, hw2 = (hardwares[vms[v]["id"]]["id"] for v in ("vm-1", "vm-2"))
    assert sorted((d["hardware_id"], d["device_name"]) for d in disks) == sorted(
        [(hw1, "sda"), (hw2, "sda")]
    )


def test_unresolved_manager_ref_part_skips_the_object(engine: sa.Engine) -> None:
    report = save(engine, build(vm("vm-1"), *hw("vm-1"), *hw("vm-404", "sda")))
    assert report.collections["hardwares"].skipped == 1
    assert report.collections["disks"].skipped == 1
    assert len(rows(engine, "hardwares")) == 1 and rows(engine, "disks") == []


def test_many_to_many_join_rows(engine: sa.Engine) -> None:
    def keys(*names: str) -> list[LazyRef]:
        return [LazyRef("auth_key_pairs", (n,)) for n in names]

    pairs = [obj("auth_key_pairs", n, name=n, type="K") for n in ("k1", "k2")]
    report = save(
        engine,
        build(*pairs, vm("vm-1", key_pairs=keys("k1", "k2")), vm("vm-2", key_pairs=keys("k1"))),
    )
    assert report.collections["vms"].links_added == 3
    ids = {r["name"]: r["id"] for r in rows(engine, "authentications", "name")}
    auth = rows(engine, "authentications", "resource_id", "resource_type")
    assert {(a["resource_id"], a["resource_type"]) for a in auth} == {(EMS, "ExtManagementSystem")}
    vms = by(engine, "vms", "ems_ref")
    # vm-1 drops k1; vm-2 does not say (its links stay untouched).
    report = save(engine, build(*pairs, vm("vm-1", key_pairs=keys("k2")), vm("vm-2")))
    assert (report.collections["vms"].links_added, report.collections["vms"].links_removed) == (
        0,
        1,
    )
    links = {
        (r["vm_id"], r["authentication_id"])
        for r in rows(engine, "key_pairs_vms", "vm_id", "authentication_id")
    }
    assert links == {(vms["vm-1"]["id"], ids["k2"]), (vms["vm-2"]["id"], ids["k1"])}
    assert (
        save(engine, build(*pairs, vm("vm-1", key_pairs=keys("k2")), vm("vm-2"))).rows_written == 0
    )


def test_self_references_are_saved_in_a_second_pass(engine: sa.Engine) -> None:
    def inv() -> ParsedInventory:
        return build(
            obj(
                "cloud_tenants",
                "t3",
                ems_ref="t3",
                name="t3",
                type="T",
                parent=LazyRef("cloud_tenants", ("t2",)),
            ),
            obj(
                "cloud_tenants",
                "t2",
                ems_ref="t2",
                name="t2",
                type="T",
                parent=LazyRef("cloud_tenants", ("t1",)),
            ),
            obj("cloud_tenants", "t1", ems_ref="t1", name="t1", type="T"),
            obj(
                "orchestration_stacks",
                "s3",
                ems_ref="s3",
                type="S",
                parent=LazyRef("orchestration_stacks", ("s2",)),
            ),
            obj(
                "orchestration_stacks",
                "s2",
                ems_ref="s2",
                type="S",
                parent=LazyRef("orchestration_stacks", ("s1",)),
            ),
            obj("orchestration_stacks", "s1", ems_ref="s1", type="S"),
        )

    report = save(engine, inv())
    assert report.deferred == {"cloud_tenants": ["parent"], "orchestration_stacks": ["parent"]}
    assert report.collections["cloud_tenants"].created == 3
    assert report.collections["cloud_tenants"].updated == 0
    tenants = by(engine, "cloud_tenants", "ems_ref", "parent_id")
    assert tenants["t3"]["parent_id"] == tenants["t2"]["id"]
    assert tenants["t2"]["parent_id"] == tenants["t1"]["id"]
    assert tenants["t1"]["parent_id"] is None
    stacks = by(engine, "orchestration_stacks", "ems_ref", "ancestry")
    s1, s2 = stacks["s1"]["id"], stacks["s2"]["id"]
    assert [stacks[s]["ancestry"] for s in ("s1", "s2", "s3")] == [None, f"{s1}", f"{s1}/{s2}"]
    assert save(engine, inv(), now=T2).rows_written == 0


def test_secondary_ref_finds_vms_of_any_manager(engine: sa.Engine) -> None:
    save(engine, build(vm("vm-7")), owners={**OWNERS, "vms": 2})  # another provider's vm
    system = obj(
        "configured_systems",
        "h1",
        manager_ref="h1",
        hostname="h1",
        type="C",
        counterpart=LazyRef("cross_link_vms", ("u-vm-7",), secondary="by_uid_ems"),
    )
    other = obj(
        "configured_systems",
        "h2",
        manager_ref="h2",
        hostname="h2",
        type="C",
        counterpart=LazyRef("cross_link_vms", ("u-none",), secondary="by_uid_ems"),
    )
    report = save(engine, build(system, other), owners={**OWNERS, "configured_systems": 3})
    found = by(
        engine,
        "configured_systems",
        "manager_ref",
        "manager_id",
        "counterpart_id",
        "counterpart_type",
    )
    vm_id = rows(engine, "vms")[0]["id"]
    assert [found["h1"][c] for c in ("manager_id", "counterpart_id", "counterpart_type")] == [
        3,
        vm_id,
        "VmOrTemplate",
    ]
    assert found["h2"]["counterpart_id"] is None
    assert report.collections["configured_systems"].unresolved == 1
    assert "cross_link_vms" not in report.collections  # read-only, never saved


def test_dry_run_writes_nothing(engine: sa.Engine) -> None:
    save(engine, build(flavor("a"), flavor("b"), vm("vm-1"), vm("vm-2")))
    before = dump(engine)
    report = save(
        engine,
        build(
            flavor("a"), vm("vm-1", name="renamed"), vm("vm-3", flavor=LazyRef("flavors", ("a",)))
        ),
        dry_run=True,
    )
    assert report.dry_run
    vms = report.collections["vms"]
    assert (vms.created, vms.updated, vms.disconnected) == (1, 1, 1)
    assert report.collections["flavors"].deleted == 1
    assert report.rows_written == 4
    assert dump(engine) == before


def test_database_error_raises_and_rollback_keeps_data(engine: sa.Engine) -> None:
    save(engine, build(vm("vm-1")))
    before = dump(engine)
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql(
                "CREATE TRIGGER boom BEFORE INSERT ON hardwares "
                "BEGIN SELECT RAISE(ABORT, 'hardware refused'); END"
            )
        else:
            conn.exec_driver_sql(
                "CREATE OR REPLACE FUNCTION boom() RETURNS trigger AS $$ BEGIN "
                "RAISE EXCEPTION 'hardware refused'; END $$ LANGUAGE plpgsql"
            )
            conn.exec_driver_sql(
                "CREATE TRIGGER boom BEFORE INSERT ON hardwares "
                "FOR EACH ROW EXECUTE FUNCTION boom()"
            )
    inv = build(vm("vm-1", name="changed"), vm("vm-2"), *hw("vm-2"))
    with engine.connect() as conn:
        tx = conn.begin()
        with pytest.raises(DatabaseError) as err:
            persist(conn, MD, CAT, inv, OWNERS, now=T2)
        tx.rollback()
    message = str(err.value)
    assert "hardwares" in message and "hardware refused" in message and "\n" not in message
    assert err.value.exit_code == 7
    assert dump(engine) == before


def test_vendor_types_fill_a_missing_sti_type(lite: sa.Engine) -> None:
    name, ref, data = vm("vm-1")
    del data["type"]
    save(lite, build((name, ref, data)), vendor_types={"vms": "X::CloudManager::Vm"})
    assert rows(lite, "vms", "type")[0]["type"] == "X::CloudManager::Vm"


def test_provider_row_is_updated_in_place(lite: sa.Engine) -> None:
    ems = MD.tables["ext_management_systems"]
    with lite.begin() as conn:
        conn.execute(ems.insert(), {"id": EMS, "name": "p", "guid": "old"})
    one = obj("ext_management_system", "g-1", guid="g-1", api_version="v2")
    report = save(lite, build(one))
    assert report.collections["ext_management_system"].updated == 1
    got = rows(lite, "ext_management_systems", "name", "guid", "api_version", "updated_on")
    assert got == [{"id": EMS, "name": "p", "guid": "g-1", "api_version": "v2", "updated_on": T1}]
    assert save(lite, build(one), now=T2).rows_written == 0


@pytest.mark.parametrize(
    ("inv", "message"),
    [
        (build(vm("vm-1", colour="red")), "attribute 'colour' has no column"),
        (build(vm("vm-1", flavor=LazyRef("nothing", ("x",)))), "unknown collection 'nothing'"),
        (build(vm("vm-1", flavor=LazyRef("vms", ("x",)))), "reference to 'vms'"),
        (build(vm("vm-1", flavor=[LazyRef("flavors", ("x",))])), "not many_to_many"),
        (build(vm("vm-1", memory_limit="lots")), "cannot store str value 'lots'"),
        (build(vm("vm-1", name=LazyRef("flavors", ("x",)))), "needs a key"),
        (build(obj("nothing", "x", name="x")), "unknown inventory collection 'nothing'"),
    ],
)
def test_data_that_cannot_be_saved_is_a_mapping_error(
    lite: sa.Engine, inv: ParsedInventory, message: str
) -> None:
    with pytest.raises(MappingError, match=message):
        save(lite, inv)
    assert rows(lite, "vms") == []


def test_vanished_host_is_disconnected_like_manageiq(lite: sa.Engine) -> None:
    cluster = obj("clusters", "c1", ems_ref="c1", name="c1", type="C")
    host = obj(
        "hosts",
        "h1",
        ems_ref="h1",
        name="h1",
        type="H",
        power_state="on",
        raw_power_state="up",
        ems_cluster=LazyRef("clusters", ("c1",)),
    )
    save(lite, build(cluster, host))
    report = save(lite, build(cluster, hosts=True), now=T2)
    assert report.collections["hosts"].disconnected == 1
    got = rows(lite, "hosts", "ems_id", "ems_cluster_id", "power_state", "raw_power_state")
    assert got == [
        {
            "id": got[0]["id"],
            "ems_id": None,
            "ems_cluster_id": None,
            "power_state": "unknown",
            "raw_power_state": "up",
        }
    ]


def test_deleting_a_parent_deletes_its_children_and_links(lite: sa.Engine) -> None:
    def inv(*groups: str) -> ParsedInventory:
        objs = [
            obj(
                "network_ports",
                "p",
                ems_ref="p",
                type="P",
                security_groups=[LazyRef("security_groups", (g,)) for g in groups],
            )
        ]
        for g in groups:
            objs.append(obj("security_groups", g, ems_ref=g, name=g, type="S"))
            objs.append(
                obj(
                    "firewall_rules",
                    LazyRef("security_groups", (g,)),
                    None,
                    "in",
                    "tcp",
                    22,
                    22,
                    "0.0.0.0/0",
                    resource=LazyRef("security_groups", (g,)),
                    source_security_group=None,
                    direction="in",
                    host_protocol="tcp",
                    port=22,
                    end_port=22,
                    source_ip_range="0.0.0.0/0",
                )
            )
        return build(*objs, firewall_rules=True)

    save(lite, inv("g1", "g2"))
    assert len(rows(lite, "firewall_rules")) == 2
    assert len(rows(lite, "network_ports_security_groups")) == 2
    report = save(lite, inv("g1"))
    assert report.collections["security_groups"].deleted == 1
    assert report.collections["firewall_rules"].deleted == 1
    group = by(lite, "security_groups", "ems_ref")["g1"]["id"]
    rules = rows(lite, "firewall_rules", "resource_id", "resource_type")
    assert [(r["resource_id"], r["resource_type"]) for r in rules] == [(group, "SecurityGroup")]
    links = rows(lite, "network_ports_security_groups", "security_group_id")
    assert [r["security_group_id"] for r in links] == [group]
    assert save(lite, inv("g1")).rows_written == 0


def test_secondary_lookups_in_a_managers_scope_lead_with_their_index(engine: sa.Engine) -> None:
    """``Lookups.secondary_rows`` of an owned, scoped collection (vms by uid_ems): the rows of this
    manager only, and on SQLite the uid_ems index leads the plan (an equality on the owner
    index used to: every lookup of 500 values read all of the manager's vms)."""
    from miqspec.persist.db import Db
    from miqspec.persist.graph import SaveGraph
    from miqspec.persist.lookups import Lookups

    save(engine, build(*(vm(f"vm-{i}") for i in range(30))))
    save(engine, build(vm("vm-x")), owners={**OWNERS, "vms": 2})  # another manager's vm
    wanted = {("u-vm-3",), ("u-vm-17",), ("u-vm-x",), ("u-none",)}
    statements: list[tuple[str, Any]] = []

    def seen(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        statements.append((statement, parameters))

    with engine.connect() as conn:
        db = Db(conn, MD, CAT, OWNERS, dry_run=False)
        lookups = Lookups(db, SaveGraph(order=[], secondary={("vms", "by_uid_ems"): wanted}))
        sa.event.listen(engine, "before_cursor_execute", seen)
        try:
            found = lookups.secondary_rows("vms", "by_uid_ems")
        finally:
            sa.event.remove(engine, "before_cursor_execute", seen)
        ids = {r["ems_ref"]: r["id"] for r in rows(engine, "vms", "ems_ref", "ems_id")}
        assert {k: v[0] for k, v in found.items()} == {
            ("u-vm-3",): ids["vm-3"],
            ("u-vm-17",): ids["vm-17"],
        }
        if engine.dialect.name == "sqlite":
            ((query, params),) = [s for s in statements if "uid_ems IN" in s[0]]
            plan = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {query}", tuple(params)).all()
            assert "ix_vms_uid_ems" in str(plan), plan
