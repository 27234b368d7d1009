"""SQLAlchemy tables built from the catalogue: shape, checks, and real SQLite/PostgreSQL runs."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml

from miqspec.errors import SpecError
from miqspec.spec.catalogue import Catalogue, load_catalogue, parse_catalogue
from miqspec.store.column_types import DecimalType, JsonText, StringArray, column_type
from miqspec.store.tables import (
    CORE_TABLES,
    attribute_columns,
    build_metadata,
    build_tables,
    catalogue_problems,
)

from ..persist_support import private_schema

REFERENCE = Path(__file__).resolve().parents[3] / "shared" / "reference" / "manageiq-model.md"


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue()


@pytest.fixture(scope="module")
def metadata() -> sa.MetaData:
    return build_metadata()


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sa.Engine]:
    if request.param == "sqlite":
        eng = sa.create_engine(f"sqlite:///{tmp_path / 'tables.db'}")
        yield eng
        eng.dispose()
    else:
        with private_schema(None, "miqspec_t") as eng:
            yield eng


def catalogue_from(text: str) -> Catalogue:
    return parse_catalogue(yaml.safe_load(text))


def test_shipped_catalogue_is_consistent(catalogue: Catalogue) -> None:
    assert catalogue_problems(catalogue) == []


def test_every_table_exists_once(catalogue: Catalogue, metadata: sa.MetaData) -> None:
    expected = {c.table for c in catalogue.collections.values()} | set(catalogue.tables)
    expected |= {
        m.join_table for c in catalogue.collections.values() for m in c.many_to_many.values()
    }
    expected |= set(CORE_TABLES)
    assert set(metadata.tables) == expected
    tables = build_tables(catalogue)
    assert tables.collection("miq_templates") is tables["vms"]
    assert tables.owner_columns("credentials") == ("resource_id", "resource_type")
    assert "vms" in tables and len(tables) == len(metadata.tables)


def test_core_tables_have_manageiq_columns(metadata: sa.MetaData) -> None:
    for name, columns in CORE_TABLES.items():
        table = metadata.tables[name]
        assert [c for c, _kind in columns] == [c.name for c in table.c][1 : len(columns) + 1]
    ems = metadata.tables["ext_management_systems"]
    assert ems.c.name.unique and ems.c.guid.unique and metadata.tables["zones"].c.name.unique
    assert ems.c.enabled.server_default is not None
    assert isinstance(ems.c.options.type, JsonText)
    locks = metadata.tables["miqspec_refresh_locks"]
    assert [c.name for c in locks.primary_key] == ["ems_id"]
    assert locks.c.ems_id.autoincrement is False


def test_primary_keys_and_no_foreign_keys(metadata: sa.MetaData) -> None:
    for table in metadata.tables.values():
        assert not table.foreign_keys, table.name
        if table.name != "miqspec_refresh_locks":
            assert [c.name for c in table.primary_key] == ["id"], table.name
            assert isinstance(table.c.id.type, sa.BigInteger)


def test_collection_columns_owner_references_and_timestamps(
    catalogue: Catalogue, metadata: sa.MetaData
) -> None:
    tables = build_tables(catalogue)
    for coll in catalogue.collections.values():
        table = metadata.tables[coll.table]
        for col in tables.owner_columns(coll.name):
            assert col in table.c, (coll.name, col)
        if coll.sti:
            assert isinstance(table.c.type.type, sa.String)
        for col, kind in coll.columns.items():
            assert type(table.c[col].type) is type(column_type(kind)), (coll.name, col)
        for ref in coll.references.values():
            want = sa.String if ref.kind == "ancestry" else sa.BigInteger
            assert isinstance(table.c[ref.column].type, want), (coll.name, ref.name)
            if ref.type_column:
                assert isinstance(table.c[ref.type_column].type, sa.String)
        for col in coll.timestamps:
            assert isinstance(table.c[col].type, sa.DateTime)


def test_refresh_lookups_are_indexed(catalogue: Catalogue, metadata: sa.MetaData) -> None:
    tables = build_tables(catalogue)
    for coll in catalogue.collections.values():
        table = metadata.tables[coll.table]
        indexed = {tuple(c.name for c in i.columns) for i in table.indexes}
        indexed |= {(c.name,) for c in table.c if c.unique}
        owner = tables.owner_columns(coll.name)
        first = attribute_columns(coll, coll.manager_ref[0])
        if owner:
            assert owner in indexed and owner + first in indexed, coll.name
        else:
            assert any(attribute_columns(coll, a) in indexed for a in coll.manager_ref), coll.name
        for attrs in coll.secondary_refs.values():
            assert tuple(c for a in attrs for c in attribute_columns(coll, a)) in indexed


def test_names_fit_postgresql(metadata: sa.MetaData) -> None:
    names = [i.name for t in metadata.tables.values() for i in t.indexes]
    names += [c.name for t in metadata.tables.values() for c in t.constraints if c.name]
    assert all(isinstance(n, str) and len(n) <= 63 for n in names)
    assert len(names) == len(set(names))


def test_join_tables_have_unique_pairs(catalogue: Catalogue, metadata: sa.MetaData) -> None:
    for tdef in catalogue.tables.values():
        uniques = {
            tuple(c.name for c in u.columns)
            for u in metadata.tables[tdef.name].constraints
            if isinstance(u, sa.UniqueConstraint)
        }
        assert uniques == set(tdef.unique), tdef.name


def test_reference_table_columns_exist(metadata: sa.MetaData) -> None:
    """Every column the model reference lists per table (§1.3, §6.3, §7.3) is a column."""
    if not REFERENCE.exists():
        pytest.skip(f"reference not available at {REFERENCE}")
    text = REFERENCE.read_text(encoding="utf-8")
    notes = {  # backticked words in those bullets that are not columns of the table
        "flavors": {"cloud_tenant_flavors"},
        "network_ports": {"security_groups_vms"},
        "hosts": {"after_save", "before_create", "host_add_to_cluster", "host_remove_from_cluster"},
        "host_storages": {"ems_ref"},  # dropped in 2019
        "lans": {"subnets", "lan_id", "cidr", "type"},  # the subnets table, same bullet
        "guest_devices": {"hardwares", "host_id", "vm_or_template_id"},
        "snapshots": {"acts_as_tree", "after_create", "vm_snapshot_complete"},
        "configured_systems": {"name"},  # an alias of hostname
    }
    unmodelled = {"advanced_settings", "relationships"}  # outside graph refresh
    checked = 0
    for number in ("1.3", "6.3", "7.3"):
        body = re.search(rf"### {re.escape(number)}[^\n]*\n(.*?)(?=\n### )", text, re.S)
        assert body
        for table, bullet in re.findall(
            r"^- \*\*`(\w+)`\*\*(.*?)(?=^- \*\*|\Z)", body[1], re.S | re.M
        ):
            if table in unmodelled:
                continue
            words = set(re.findall(r"`([a-z][a-z0-9_]*)`", bullet)) - notes.get(table, set())
            assert sorted(w for w in words if w not in metadata.tables[table].c) == [], table
            checked += len(words)
    assert checked > 300


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            """
collections:
  a: {table: t, columns: {ems_ref: string, x: string}}
  b: {table: t, columns: {ems_ref: string, x: integer}}
""",
            "table t: column 'x' is integer in collection b but string in collection a",
        ),
        ("collections: {a: {table: t, columns: {ems_ref: varchar}}}", "unknown type 'varchar'"),
        (
            "collections: {a: {table: t, columns: {}, references: {p: {collection: nope}}}}",
            "reference p names unknown collection 'nope'",
        ),
        (
            "collections: {a: {table: t, columns: {ems_ref: text}, scope: {template: false}}}",
            "scope columns ['template'] are not columns of t",
        ),
        (
            "collections: {a: {table: t, columns: {}, manager_ref: [name]}}",
            "manager_ref attribute 'name' is neither a column nor a reference",
        ),
        (
            "collections: {a: {table: t, owner: none, columns: {ems_ref: string}}}",
            "owner none needs parent_collections",
        ),
        (
            """
collections:
  a: {table: t, columns: {ems_ref: string}}
  b: {table: u, columns: {ems_ref: string}}
  c: {table: v, columns: {ems_ref: string}, references: {d: {collection: [a, b]}}}
""",
            "reference d spans tables ['t', 'u'] without a type_column",
        ),
    ],
)
def test_inconsistent_catalogues_raise(text: str, message: str) -> None:
    with pytest.raises(SpecError, match=re.escape(message)):
        build_metadata(catalogue_from(text))


def test_spec_models_add_tables_and_join_tables(catalogue: Catalogue) -> None:
    extended = catalogue.with_models(
        {
            "widgets": {
                "table": "widgets",
                "columns": {"ems_ref": "string", "price": "decimal"},
                "many_to_many": {
                    "vms": {
                        "collection": "vms",
                        "join_table": "vms_widgets",
                        "own_column": "widget_id",
                        "other_column": "vm_id",
                    }
                },
            },
        }
    )
    md = build_metadata(extended)
    assert {"ems_id", "ems_ref", "price"} <= set(md.tables["widgets"].c.keys())
    join = md.tables["vms_widgets"]
    assert [c.name for c in join.c] == ["id", "widget_id", "vm_id"]
    assert {
        tuple(c.name for c in u.columns)
        for u in join.constraints
        if isinstance(u, sa.UniqueConstraint)
    } == {("widget_id", "vm_id")}


def sample(col: sa.Column[Any], n: int) -> Any:
    """A value of the column's type (n varies it between rows)."""
    kind = col.type
    if isinstance(kind, StringArray):
        return ["a", f"b{n}"]
    if isinstance(kind, JsonText):
        return {"k": [n, "x"], "nested": {"ok": True}}
    if isinstance(kind, DecimalType):
        return Decimal(f"{n}.125")
    if isinstance(kind, sa.Boolean):
        return n % 2 == 1
    if isinstance(kind, sa.DateTime):
        return dt.datetime(2024, 1, 2, 3, 4, n)
    if isinstance(kind, sa.Date):
        return dt.date(2024, 1, n)
    if isinstance(kind, sa.Float):
        return n + 0.5
    if isinstance(kind, sa.BigInteger):
        return 2**40 + n
    if isinstance(kind, sa.Integer):
        return n
    if isinstance(kind, sa.LargeBinary):
        return bytes([0, 255, n])
    return f"{col.name}-{n}"


def test_create_insert_and_drop_every_table(engine: sa.Engine, metadata: sa.MetaData) -> None:
    metadata.create_all(engine)
    assert set(sa.inspect(engine).get_table_names()) == set(metadata.tables)
    with engine.begin() as conn:
        for table in metadata.sorted_tables:
            rows = [
                {
                    c.name: sample(c, n)
                    for c in table.c
                    if not (c.primary_key and c.autoincrement is not False)
                }
                for n in (1, 2)
            ]
            result = conn.execute(table.insert().returning(*table.primary_key.columns), rows)
            keys = [r[0] for r in result]
            assert len(set(keys)) == 2, table.name
            got = conn.execute(sa.select(table).order_by(*table.primary_key.columns)).mappings()
            for row, want in zip(got, rows, strict=True):
                assert {k: row[k] for k in want} == want, table.name
    metadata.drop_all(engine)
    assert sa.inspect(engine).get_table_names() == []


def test_ids_autoincrement_and_enabled_defaults(engine: sa.Engine, metadata: sa.MetaData) -> None:
    ems = metadata.tables["ext_management_systems"]
    ems.create(engine)
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO ext_management_systems (name) VALUES ('raw')"))
        conn.execute(ems.insert(), [{"name": "a"}])
        rows = conn.execute(sa.select(ems.c.id, ems.c.enabled).order_by(ems.c.id)).all()
    assert [r.enabled for r in rows] == [True, True]
    assert rows[1].id == rows[0].id + 1


def test_column_types_round_trip_exactly(engine: sa.Engine) -> None:
    md = build_metadata(
        catalogue_from("""
collections:
  things:
    {table: things, columns: {ems_ref: string, price: decimal, tags: string_array, blob: json}}
""")
    )
    things = md.tables["things"]
    things.create(engine)
    value = {"price": Decimal("12345678901234.000001"), "tags": [], "blob": [1, {"a": None}]}
    with engine.begin() as conn:
        conn.execute(things.insert(), [value, {"price": None, "tags": None, "blob": None}])
        rows = conn.execute(sa.select(things).order_by(things.c.id)).mappings().all()
    assert {k: rows[0][k] for k in value} == value
    assert (rows[1]["price"], rows[1]["tags"], rows[1]["blob"]) == (None, None, None)
