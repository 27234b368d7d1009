"""Lookups by a composite secondary ref (issue 16, point 20): found whatever form the values
were written in (in this refresh and in the database), ``key:`` of a row found in the
database, and a lookup with the wrong number of values failing loudly; on SQLite and
PostgreSQL, through the plain and fast save paths alike."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
import sqlalchemy as sa

from miqspec.errors import MappingError
from miqspec.parse.objects import LazyRef, ParsedInventory
from miqspec.persist.persister import persist
from miqspec.spec.catalogue import load_catalogue
from miqspec.store.tables import build_metadata

from ..persist_support import build, private_schema

MODELS = {
    "awesome_slots": {
        "table": "awesome_slots",
        "manager": "cloud",
        "manager_ref": ["ems_ref"],
        "columns": {"ems_ref": "string", "name": "string", "slot": "integer", "since": "datetime"},
        "secondary_refs": {"by_slot": ["slot", "since"]},
    },
    "awesome_cards": {
        "table": "awesome_cards",
        "manager": "cloud",
        "manager_ref": ["ems_ref"],
        "columns": {"ems_ref": "string", "slot_name": "string"},
        "references": {"slot": {"collection": "awesome_slots"}},
    },
}
CAT = load_catalogue().with_models(MODELS)
MD = build_metadata(CAT)
OWNERS = {name: 1 for name in CAT.collections}
NOW = datetime(2024, 5, 1, 12)


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[sa.Engine]:
    tables = list(MODELS)
    if request.param == "sqlite":
        eng = sa.create_engine(f"sqlite:///{tmp_path / 's.db'}")
        MD.create_all(eng, tables=[MD.tables[t] for t in tables])
        yield eng
        eng.dispose()
    else:
        with private_schema(MD, "miqspec_sec", tables) as eng:
            yield eng


def slot(ref: str, number: Any, since: str) -> tuple[str, tuple[Any, ...], dict[str, Any]]:
    return ("awesome_slots", (ref,), {"ems_ref": ref, "name": f"slot {ref}", "slot": number,
                                      "since": since})  # fmt: skip


def card(ref: str, *values: Any) -> tuple[str, tuple[Any, ...], dict[str, Any]]:
    find = LazyRef("awesome_slots", tuple(values), secondary="by_slot")
    name = LazyRef("awesome_slots", tuple(values), secondary="by_slot", key="name")
    return ("awesome_cards", (ref,), {"ems_ref": ref, "slot": find, "slot_name": name})


def save(engine: sa.Engine, inv: ParsedInventory, fast: bool) -> Any:
    with engine.begin() as conn:
        return persist(conn, MD, CAT, inv, OWNERS, now=NOW, fast=fast, digests=fast)


def cards(engine: sa.Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        sql = (
            "select c.ems_ref, s.ems_ref, c.slot_name from awesome_cards c "
            "left join awesome_slots s on s.id = c.slot_id order by c.ems_ref"
        )
        return [tuple(r) for r in conn.execute(sa.text(sql)).all()]


@pytest.mark.parametrize("fast", [False, True], ids=["plain", "fast"])
def test_composite_secondary_lookups_in_any_form(engine, fast):
    slots = [slot("s-1", 5, "2024-05-01T12:00:00Z"), slot("s-2", "6", "2024-05-02T00:00:00Z")]
    first = build(
        *slots,
        card("c-1", "5", "2024-05-01T12:00:00+00:00"),  # a string and another time form
        card("c-2", 6, "2024-05-02T02:00:00+02:00"),
    )
    assert save(engine, first, fast).collections["awesome_cards"].unresolved == 0
    expected = [("c-1", "s-1", "slot s-1"), ("c-2", "s-2", "slot s-2")]
    assert cards(engine) == expected
    # the slots are not part of this refresh: found in the database, key: read from the row
    later = build(
        card("c-1", 5.0, "2024-05-01T14:00:00+02:00"),
        card("c-2", "6", "2024-05-02T00:00:00Z"),
        card("c-3", 7, "2024-05-02T00:00:00Z"),  # no such slot: unresolved, counted
    )
    report = save(engine, later, fast)
    assert report.collections["awesome_cards"].unresolved == 1  # the reference (not key:)
    assert cards(engine) == [*expected, ("c-3", None, None)]


def test_a_lookup_with_the_wrong_number_of_values_fails_loudly(engine):
    with pytest.raises(MappingError, match=r"by 'by_slot' takes 2 value\(s\) \(slot, since\)"):
        save(engine, build(slot("s-1", 5, "2024-05-01T12:00:00Z"), card("c-1", "5")), False)
