"""Arithmetic in mappings keeps the record-carry fast path: the collection still qualifies, its
record digests still cover only the fields it reads, and records the stored map knows are
carried unparsed."""

from __future__ import annotations

from pathlib import Path

import pytest

from miqspec.collect.runner import CallResult, CollectResult
from miqspec.errors import MappingError
from miqspec.parse.carry import Carry, carry_plans, record_digests
from miqspec.parse.parser import parse
from miqspec.spec.expressions import compile_expression
from miqspec.spec.load import load_spec

from ..conftest import AWESOME

FLAVORS = """  flavors:
    from: get_instance_types
    target: {call: get_instance_type}
    attributes:
      ems_ref: id
      name: name
      cpu_total_cores: n_cpus
      memory: ram
"""
ARITHMETIC = """  flavors:
    from: get_instance_types
    target: {call: get_instance_type}
    attributes:
      ems_ref: id
      name: "let $n = lower(name) in $n"
      cpu_total_cores: "n_cpus * 2 - 1"
      memory: "round(ram / 1024 * 1024 * 1024)"
"""


def _spec(tmp_path: Path, flavors: str) -> Path:
    text = AWESOME.read_text(encoding="utf-8")
    assert FLAVORS in text
    path = tmp_path / "awesome_cloud.yaml"
    path.write_text(text.replace(FLAVORS, flavors), encoding="utf-8")
    return path


def test_a_mapping_with_arithmetic_is_carried(tmp_path: Path) -> None:
    spec = load_spec(str(_spec(tmp_path, ARITHMETIC)))
    plans = carry_plans(spec)
    assert "flavors" in plans  # arithmetic reads the record alone: the collection qualifies
    assert plans["flavors"].fields == ("id", "n_cpus", "name", "ram")
    flavors = [{"id": f"f{i}", "name": f"N{i}", "n_cpus": i, "ram": 2048} for i in range(4)]
    collected = CollectResult(
        calls={"get_instance_types": CallResult("get_instance_types", flavors)}
    )
    digests = record_digests(flavors, plans["flavors"].fields)
    stored = {digests[0]: 101, digests[2]: 103}
    inv = parse(spec, collected, carry=Carry(plans, {"flavors": stored}))
    carried = inv.carried["flavors"]
    assert carried.pairs == [(digests[0], 101), (digests[2], 103)]  # the fast path was taken
    assert sorted(inv.objects["flavors"]) == [("f1",), ("f3",)]  # only these were parsed
    built = inv.objects["flavors"][("f3",)]
    assert (built.data["name"], built.data["cpu_total_cores"], built.data["memory"]) == (
        "n3",
        5,
        2 * 1024**2,
    )
    # a field the mapping does not read changes nothing; one it reads changes the digest
    again = record_digests(
        [{**flavors[0], "created": "now"}, {**flavors[0], "ram": 4096}], plans["flavors"].fields
    )
    assert again[0] == digests[0] and again[1] != digests[0]


def test_a_projection_digests_whole_records(tmp_path: Path) -> None:
    mapping = ARITHMETIC.replace('"n_cpus * 2 - 1"', '"length(@) * 2"')
    plans = carry_plans(load_spec(str(_spec(tmp_path, mapping))))
    assert "flavors" in plans and plans["flavors"].fields is None  # @ reads everything


def test_a_string_operand_at_run_time_names_the_spec_location(tmp_path: Path) -> None:
    spec = load_spec(str(_spec(tmp_path, ARITHMETIC)))
    record = {"id": "f1", "name": "x", "n_cpus": "two", "ram": 2048}
    collected = CollectResult(
        calls={"get_instance_types": CallResult("get_instance_types", [record])}
    )
    with pytest.raises(MappingError) as caught:
        parse(spec, collected)
    message = str(caught.value)
    assert caught.value.exit_code == 6
    assert "awesome_cloud.yaml:" in message and "collections.flavors.cpu_total_cores" in message
    assert "'*' needs numbers, got string * number" in message and "record id='f1'" in message


@pytest.mark.parametrize(
    ("text", "fields"),
    [
        ("tags[?key == 'Name'].value | [0]", {"tags"}),
        ("disks[*].size", {"disks"}),
        ("sum(disks[].size) / 1024", {"disks"}),
        ("labels.*", {"labels"}),
        ("let $n = name in {n: $n, s: size * 2}", {"name", "size"}),
        ("$parent.id", set()),
        ("[@, name]", None),
        ("sort_by(disks, &size)", None),
        ("[*].a", None),
    ],
)
def test_the_fields_an_expression_reads(text: str, fields: set[str] | None) -> None:
    found = compile_expression(text).fields
    assert (None if found is None else set(found)) == fields
