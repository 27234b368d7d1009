"""persist_bulk: driver-level reads and inserts give what SQLAlchemy would, on real SQLite and
PostgreSQL (COPY with awkward text, NULLs, booleans, dates, decimals, JSON and arrays)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from miqspec.persist.bulk import (
    BULK_ROWS,
    MULTI_ROWS,
    bind_tuples,
    constant_columns,
    fetch,
    insert_sqlite,
    sqlite_bulk,
    sqlite_cache,
    sqlite_literal,
)
from miqspec.persist.pgcopy import insert_copy
from miqspec.store.column_types import DecimalType, JsonText, StringArray

from ..persist_support import private_schema

MD = sa.MetaData()
THINGS = sa.Table(
    "things",
    MD,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
    sa.Column("name", sa.String),
    sa.Column("note", sa.Text),
    sa.Column("count", sa.Integer),
    sa.Column("big", sa.BigInteger),
    sa.Column("ratio", sa.Float),
    sa.Column("exact", DecimalType),
    sa.Column("flag", sa.Boolean),
    sa.Column("seen", sa.DateTime),
    sa.Column("day", sa.Date),
    sa.Column("doc", JsonText),
)
TAGS = sa.Table(
    "tags",
    MD,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
    sa.Column("names", StringArray),
)
NOW = datetime(2024, 5, 1, 12, 30, 15, 123456)
ROWS: list[dict[str, Any]] = [
    {
        "name": "plain",
        "note": "tab\there",
        "count": 1,
        "big": 2**40,
        "ratio": 0.1,
        "exact": Decimal("12.345"),
        "flag": True,
        "seen": NOW,
        "day": date(2024, 5, 1),
        "doc": {"a": [1, 2]},
    },
    {
        "name": "back\\slash",
        "note": "new\nline\r\nend",
        "count": -5,
        "big": None,
        "ratio": 1e-300,
        "exact": Decimal("1E+2"),
        "flag": False,
        "seen": None,
        "day": None,
        "doc": None,
    },
    {
        "name": "",
        "note": None,
        "count": 0,
        "big": 0,
        "ratio": float("inf"),
        "exact": None,
        "flag": None,
        "seen": datetime(2024, 1, 1),
        "day": date(1999, 12, 31),
        "doc": ["x"],
    },
    {
        "name": "ünïcødé ✓ \\N",
        "note": "\\t not a tab",
        "count": 7,
        "big": -1,
        "ratio": -0.0,
        "exact": Decimal("-0.5"),
        "flag": True,
        "seen": NOW,
        "day": date(2024, 2, 29),
        "doc": {"k": "v\tw"},
    },
]


@contextmanager
def connection(backend: str, tmp_path: Path) -> Iterator[sa.Connection]:
    """A connection inside a transaction on a fresh database of ``backend``."""
    if backend == "sqlite":
        engine = sa.create_engine(f"sqlite:///{tmp_path / 'bulk.db'}")
        MD.create_all(engine)
        with engine.connect() as c, c.begin():
            yield c
        engine.dispose()
        return
    with private_schema(MD, "miqspec_b") as engine, engine.connect() as c, c.begin():
        yield c


@pytest.fixture(params=["sqlite", "postgresql"])
def conn(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sa.Connection]:
    with connection(request.param, tmp_path) as c:
        yield c


@pytest.fixture
def pg_conn(tmp_path: Path) -> Iterator[sa.Connection]:
    with connection("postgresql", tmp_path) as c:
        yield c


def stored(conn: sa.Connection, table: sa.Table) -> list[dict[str, Any]]:
    return [dict(r._mapping) for r in conn.execute(sa.select(table).order_by(table.c.id))]


def insert(
    conn: sa.Connection,
    table: sa.Table,
    rows: list[dict[str, Any]],
    extra: dict[str, Any] | None = None,
) -> list[int] | None:
    cols = [c for c in rows[0] if c not in (extra or {})] + list(extra or {})
    if conn.dialect.name == "sqlite":
        return insert_sqlite(conn, table, cols, rows, extra)
    return insert_copy(conn, table, cols, rows, extra)


def test_inserted_rows_read_back_as_sqlalchemy_wrote_them(conn: sa.Connection) -> None:
    ids = insert(conn, THINGS, ROWS)
    assert ids is not None and ids == sorted(ids) and len(set(ids)) == len(ROWS)
    got = stored(conn, THINGS)
    assert [r["id"] for r in got] == ids
    for want, row in zip(ROWS, got, strict=True):
        assert {k: row[k] for k in want} == want
    # the same rows through SQLAlchemy's own executemany compare equal
    conn.execute(THINGS.insert(), ROWS)
    again = stored(conn, THINGS)[len(ROWS) :]
    assert [{k: r[k] for k in ROWS[0]} for r in again] == [{k: r[k] for k in ROWS[0]} for r in got]


def test_extra_columns_are_one_value_for_every_row(conn: sa.Connection) -> None:
    rows = [{"name": f"r{i}", "seen": NOW} for i in range(3)]
    later = datetime(2025, 1, 1, tzinfo=UTC).replace(tzinfo=None)
    ids = insert(conn, THINGS, rows, {"seen": later, "flag": True})
    assert ids is not None
    assert [(r["name"], r["seen"], r["flag"]) for r in stored(conn, THINGS)] == [
        (f"r{i}", later, True) for i in range(3)
    ]


@pytest.mark.parametrize("which", range(len(ROWS)))
def test_columns_with_one_value_are_stored_as_bound_ones(conn: sa.Connection, which: int) -> None:
    """Rows sharing every value but their name: on SQLite those columns go into the statement
    as literals (``constant_columns``); the rows read back, and store the same SQLite storage
    classes, as rows bound one by one."""
    base = {**ROWS[which], "note": "O'Brien's \"quote\"", "big": 2**63 - 1}
    rows = [{**base, "name": f"n{i}"} for i in range(3)]
    nul = conn.dialect.name == "sqlite"  # PostgreSQL text holds no NUL at all
    rows += [{**base, "name": "nul\x00inside" if nul else "last"}]  # varies: bound
    insert(conn, THINGS, rows, {"count": 42})
    conn.execute(THINGS.insert(), [{**r, "count": 42} for r in rows])
    got = stored(conn, THINGS)
    cols = [c for c in ROWS[0] if c != "count"]
    assert [{k: r[k] for k in cols} for r in got[:4]] == [{k: r[k] for k in cols} for r in got[4:]]
    assert {r["count"] for r in got} == {42}
    if conn.dialect.name == "sqlite":
        order = [c for c in rows[0] if c != "count"] + ["count"]
        fixed = constant_columns(conn, THINGS, order, rows, {"count": 42})
        assert {"note", "big", "count"} <= set(fixed) and "name" not in fixed
        kinds = ", ".join(f"typeof({c})" for c in ROWS[0])
        classes = conn.exec_driver_sql(f"SELECT {kinds} FROM things ORDER BY id").all()
        assert classes[:4] == classes[4:]


@pytest.mark.parametrize("vary", [("name",), ("name", "note", "count", "big", "ratio", "seen"), ()])
def test_many_rows_go_in_statements_of_many_rows_in_order(
    tmp_path: Path, vary: tuple[str, ...]
) -> None:
    """More rows than one statement holds, and a remainder: ids in row order, values and
    SQLite storage classes as rows bound one by one; ``vary`` are the columns whose value
    differs per row (bound), the others are literals (none bound at all for ``()``)."""
    n = MULTI_ROWS * 2 + 7
    rows = [
        {**ROWS[i % len(ROWS)], **{c: ROWS[0][c] for c in ROWS[0] if c not in vary}}
        for i in range(n)
    ]
    for i, row in enumerate(rows):
        row.update({c: f"{c}-{i}" for c in vary if c in ("name", "note")})
    with connection("sqlite", tmp_path) as conn:
        ids = insert(conn, THINGS, rows)
        conn.execute(THINGS.insert(), rows)
        got = stored(conn, THINGS)
        kinds = ", ".join(f"typeof({c})" for c in ROWS[0])
        classes = conn.exec_driver_sql(f"SELECT {kinds} FROM things ORDER BY id").all()
    assert ids == list(range(1, n + 1)) == [r["id"] for r in got[:n]]
    assert [{k: r[k] for k in rows[0]} for r in got[:n]] == [
        {k: r[k] for k in rows[0]} for r in got[n:]
    ]
    assert classes[:n] == classes[n:]


def test_sqlite_literals_only_where_they_store_what_binding_does() -> None:
    assert [sqlite_literal(v) for v in (None, True, False, -(2**63), "a'b", "ü")] == [
        "NULL",
        "1",
        "0",
        str(-(2**63)),
        "'a''b'",
        "'ü'",
    ]
    for value in (2**63, 0.5, "nul\x00", "\ud800", b"bytes", Decimal("1")):
        assert sqlite_literal(value) is None


def test_fetch_applies_the_types_result_processing(conn: sa.Connection) -> None:
    conn.execute(THINGS.insert(), ROWS)
    cols = [THINGS.c.id, THINGS.c.flag, THINGS.c.seen, THINGS.c.day, THINGS.c.doc, THINGS.c.exact]
    got = fetch(conn, sa.select(*cols).order_by(THINGS.c.id), cols)
    want = [tuple(r) for r in conn.execute(sa.select(*cols).order_by(THINGS.c.id))]
    assert got == want and all(type(r) is tuple for r in got)
    assert fetch(conn, sa.select(*cols).where(THINGS.c.id < 0), cols) == []


def test_copy_declines_values_without_a_text_form(pg_conn: sa.Connection) -> None:
    assert insert_copy(pg_conn, TAGS, ["names"], [{"names": ["a", "b"]}]) is None  # an array
    assert stored(pg_conn, TAGS) == []  # nothing sent, nothing taken from the sequence
    assert pg_conn.execute(sa.text("SELECT is_called FROM tags_id_seq")).scalar() is False


def test_bind_tuples_convert_each_column_once_per_value(conn: sa.Connection) -> None:
    rows = [{"name": "a", "seen": NOW, "doc": {"x": 1}}, {"name": "b", "seen": NOW, "doc": None}]
    got = bind_tuples(conn, THINGS, ["name", "seen", "doc"], rows)
    assert [g[0] for g in got] == ["a", "b"] and got[1][2] is None
    plain = bind_tuples(conn, THINGS, ["name", "count"], [{"name": "a", "count": 1}], {"count": 2})
    assert plain == [("a", 2)]


def test_sqlite_cache_is_restored(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'c.db'}")
    with engine.connect() as c:
        before = c.exec_driver_sql("PRAGMA cache_size").scalar()
        with sqlite_cache(c):
            assert c.exec_driver_sql("PRAGMA cache_size").scalar() == -65536
        assert c.exec_driver_sql("PRAGMA cache_size").scalar() == before
    engine.dispose()


def _indexed(tmp_path: Path) -> tuple[sa.Engine, sa.Table]:
    md = sa.MetaData()
    table = sa.Table(
        "items",
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("ems_ref", sa.String, index=True),
        sa.Column("kind", sa.String, index=True),
        sa.Column("uid", sa.String, unique=True),
    )
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'bulk.db'}")
    md.create_all(engine)
    return engine, table


def _index_ddl(conn: sa.Connection) -> list[tuple[str, str]]:
    return sorted(
        conn.exec_driver_sql(
            "SELECT name, coalesce(sql, '') FROM sqlite_master WHERE type = 'index'"
        ).all()
    )


def _rows(n: int) -> list[dict[str, Any]]:
    return [{"ems_ref": f"r-{i:06d}", "kind": f"k{i % 7}", "uid": f"u-{i}"} for i in range(n)]


def test_bulk_insert_rebuilds_the_same_indexes_and_they_answer(tmp_path: Path) -> None:
    engine, table = _indexed(tmp_path)
    rows = _rows(BULK_ROWS)
    with engine.begin() as c:
        before = _index_ddl(c)
        dropped: list[tuple[str, str]] = []
        with sqlite_bulk(c, table, len(rows)):
            dropped = _index_ddl(c)
            insert_sqlite(c, table, ["ems_ref", "kind", "uid"], rows)
        assert _index_ddl(c) == before
    # the plain indexes were gone while rows went in; the unique one (a constraint) stayed
    assert {n for n, _ in before} - {n for n, _ in dropped} == {"ix_items_ems_ref", "ix_items_kind"}
    with engine.connect() as c:
        assert c.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
        plan = " ".join(
            str(r[-1])
            for r in c.exec_driver_sql(
                "EXPLAIN QUERY PLAN SELECT id FROM items WHERE ems_ref = 'r-000042'"
            )
        )
        assert "ix_items_ems_ref" in plan
        got = c.exec_driver_sql("SELECT id FROM items WHERE ems_ref = 'r-000042'").all()
        assert got == [(43,)]
    engine.dispose()


def test_bulk_insert_into_a_larger_table_keeps_its_indexes(tmp_path: Path) -> None:
    engine, table = _indexed(tmp_path)
    with engine.begin() as c:
        insert_sqlite(c, table, ["ems_ref", "kind", "uid"], _rows(BULK_ROWS + 1))
        before = _index_ddl(c)
        with sqlite_bulk(c, table, BULK_ROWS):  # fewer new rows than held: indexes stay
            assert _index_ddl(c) == before
        with sqlite_bulk(c, table, BULK_ROWS - 1):
            assert _index_ddl(c) == before
    engine.dispose()


def test_a_failed_bulk_insert_rolls_the_indexes_back(tmp_path: Path) -> None:
    engine, table = _indexed(tmp_path)
    with engine.connect() as c:
        before = _index_ddl(c)
    rows = [*_rows(BULK_ROWS), {"ems_ref": "dup", "kind": "k", "uid": "u-0"}]  # uid not unique
    with (
        pytest.raises(sa.exc.IntegrityError),
        engine.begin() as c,
        sqlite_bulk(c, table, len(rows)),
    ):
        insert_sqlite(c, table, ["ems_ref", "kind", "uid"], rows)
    with engine.connect() as c:
        assert _index_ddl(c) == before
        assert c.exec_driver_sql("SELECT count(*) FROM items").scalar() == 0
    engine.dispose()
