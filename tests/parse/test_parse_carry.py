"""Record carry, the parse side (parse_carry): which collections qualify, record digests, and
which records a stored map lets parse leave alone."""

from __future__ import annotations

import datetime
import shutil
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from miqspec.collect.runner import CallResult, CollectResult
from miqspec.parse.carry import Carry, carry_plans, page_digests, record_digests, split
from miqspec.parse.parser import parse
from miqspec.spec.load import load_spec

from ..conftest import AWESOME

SPECS = AWESOME.parent

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


def test_awesome_cloud_carries_every_collection() -> None:
    plans = carry_plans(load_spec(str(AWESOME)))
    assert sorted(plans) == ["availability_zones", "flavors", "miq_templates", "vms"]
    assert plans["vms"].call == "get_instances"
    assert set(plans["vms"].refs) == {
        ("flavor", "flavors"),
        ("availability_zone", "availability_zones"),
    }


def test_collections_whose_records_are_not_enough_do_not_qualify() -> None:
    plans = carry_plans(load_spec(str(SPECS / "awx.yaml")))
    # counterpart finds a vm `by` a secondary ref; configuration_scripts has two sources
    assert "configured_systems" not in plans
    assert "configuration_scripts" not in plans
    assert "ext_management_system" not in plans  # the provider's own row: always built
    assert "credentials" in plans


def test_an_edited_spec_changes_the_fingerprint(tmp_path: Path) -> None:
    copy = tmp_path / "awesome_cloud.yaml"
    shutil.copy(AWESOME, copy)
    before = carry_plans(load_spec(str(copy)))
    spec = load_spec(str(copy))
    copy.write_text(copy.read_text().replace("      memory: ram\n", "      memory: ram\n\n"))
    assert carry_plans(load_spec(str(copy))) == before  # a blank line: the same document
    copy.write_text(copy.read_text().replace("title: Awesome Cloud", "title: Awesome Cloud 2"))
    assert carry_plans(spec) == before  # the model loaded before the edit keeps its own
    after = carry_plans(load_spec(str(copy)))
    assert all(before[n].fingerprint != after[n].fingerprint for n in before)
    assert carry_plans(load_spec(str(copy))) == after  # and is stable


@given(st.lists(JSON, max_size=8))
def test_equal_records_have_equal_digests(records: list[Any]) -> None:
    digests = record_digests(records)
    assert digests == record_digests([_copy(r) for r in records])
    for a, da in zip(records, digests, strict=True):
        for b, db in zip(records, digests, strict=True):
            if da == db:
                assert _same(a, b)


def test_records_differing_anywhere_differ() -> None:
    base = {"id": "i-1", "name": "a", "tags": [{"k": "v"}], "n": 1}
    variants = [
        {**base, "name": "b"},
        {**base, "tags": [{"k": "w"}]},
        {**base, "n": 1.0},
        {**base, "n": True},
        {"name": "a", "id": "i-1", "tags": [{"k": "v"}], "n": 1},  # key order
    ]
    digests = record_digests([base, *variants])
    assert len(set(digests)) == len(digests)


def test_a_record_marshal_cannot_write_has_no_digest() -> None:
    odd = {"when": datetime.date(2024, 1, 1)}
    digests = record_digests([{"a": 1}, odd])
    assert digests[0] == record_digests([{"a": 1}])[0] and digests[1] is None


def test_split_carries_what_the_map_knows_and_keeps_order() -> None:
    records = [{"id": i} for i in range(6)]
    digests: list[int | None] = [10, 11, 12, 10, None, 13]
    pairs, rest = split(records, digests, {10: 7, 12: 9})
    assert pairs == [(10, 7), (12, 9)]  # each row once
    assert rest == [(records[1], 11), (records[4], None), (records[5], 13)]
    assert split(records, digests, {}) == ([], list(zip(records, digests, strict=True)))


def test_parse_builds_only_the_records_the_map_does_not_hold() -> None:
    spec = load_spec(str(AWESOME))
    flavors = [{"id": f"f{i}", "name": f"n{i}", "n_cpus": 1, "ram": 1024} for i in range(4)]
    collected = CollectResult(
        calls={"get_instance_types": CallResult("get_instance_types", flavors)}
    )
    plans = carry_plans(spec)
    digests = record_digests(flavors, plans["flavors"].fields)
    stored = {digests[0]: 101, digests[2]: 103}
    inv = parse(spec, collected, carry=Carry(plans, {"flavors": stored}))
    carried = inv.carried["flavors"]
    assert carried.pairs == [(digests[0], 101), (digests[2], 103)]
    assert sorted(inv.objects["flavors"]) == [("f1",), ("f3",)]
    assert carried.parsed == [(digests[1], ("f1",)), (digests[3], ("f3",))]
    assert inv.count("flavors") == 4
    carried.expand()  # every record after all, in order
    assert list(inv.objects["flavors"]) == [("f0",), ("f1",), ("f2",), ("f3",)]
    assert carried.pairs == [] and [d for d, _ in carried.parsed] == digests
    plain = parse(spec, collected)
    assert inv.objects["flavors"] == plain.objects["flavors"]


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def _same(a: Any, b: Any) -> bool:
    """Equal with types and key order (what a record digest tells)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float):
        return repr(a) == repr(b)
    return bool(a == b)


def test_page_digests_reuse_what_a_known_page_had() -> None:
    records = [{"id": i} for i in range(5)]
    pages = [(101, 2), (102, 2), (103, 1)]
    plain = record_digests(records)
    digests, fresh, changed = page_digests(records, pages, {101: [7, 8], 103: [9, 9]})
    # a known page gives its stored digests as they are; the others are taken; a stored
    # page with another record count is not trusted
    assert digests == [7, 8, *plain[2:]]
    assert fresh == [(101, [7, 8]), (102, plain[2:4]), (103, plain[4:])]
    assert changed
    again = page_digests(records, pages, dict(fresh))
    assert again == (digests, fresh, False)
    assert page_digests(records, None, dict(fresh)) == (plain, [], True)
    assert page_digests(records, pages[:2], dict(fresh)) == (plain, [], True)  # not covering


def test_digests_cover_the_fields_a_mapping_reads() -> None:
    plans = carry_plans(load_spec(str(AWESOME)))
    fields = plans["vms"].fields
    assert fields == ("availability_zone", "flavor", "id", "name", "power_state")
    vm = {"id": "i-1", "name": "a", "flavor": "f", "power_state": "on", "availability_zone": "z"}
    same = [
        {**vm, "created_at": "2026-11-29T00:00:00Z"},  # a field the mapping does not read
        {k: vm[k] for k in reversed(vm)},  # another key order
    ]
    digests = record_digests([vm, *same], fields)
    assert len(set(digests)) == 1
    other = record_digests([{**vm, "name": "b"}, {**vm, "availability_zone": None}], fields)
    assert digests[0] not in other and len(set(other)) == 2
    missing = {k: v for k, v in vm.items() if k != "availability_zone"}
    assert record_digests([missing], fields) == record_digests(
        [{**vm, "availability_zone": None}], fields
    )
    # a record that is not an object: whole records for the lot
    assert record_digests([vm, ["x"]], fields) == record_digests([vm, ["x"]])


def test_expressions_over_named_fields_digest_those_fields() -> None:
    plans = carry_plans(load_spec(str(SPECS / "awx.yaml")))
    fields = plans["credentials"].fields  # id_ref(id), switch cases such as {token: token}
    assert fields is not None and {"id", "kind", "username"} <= set(fields)
    # a projection or @ may read any part of the record: whole records (test_parse_arithmetic)
