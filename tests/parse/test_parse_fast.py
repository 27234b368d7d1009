"""parse_fast: the generated per-source function gives what the rules give one by one."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from miqspec.errors import MappingError
from miqspec.parse.fast import compile_data
from miqspec.parse.objects import LazyRef
from miqspec.parse.rules import compile_rule
from miqspec.parse.source import SourceParser
from miqspec.spec.load import load_spec
from miqspec.spec.model import Spec

SPEC = """\
version: 1
provider: {name: test_cloud, title: Test Cloud, manager_type: cloud,
           settings: {wanted: eastus}}
regions: [{name: eastus, description: East US}]
connection: {services: {api: {base_url: "https://api.test"}}}
calls: {get_vms: {path: /vms}}
collections:
  flavors:
    from: get_vms
    attributes: {ems_ref: flavor, name: flavor}
  vms:
    from: get_vms
    attributes:
      ems_ref: id
      uid_ems: "@"
      name: {expr: name, default: unnamed}
      location: placement.zone
      vendor: {value: test}
      template: false
      raw_power_state: {expr: state, map: {up: running, down: stopped}, default: unknown}
      description: {expr: image, match: [{regex: "(?i)windows", value: windows}], default: linux}
      tools_status: "to_string(id)"
      hostname: {template: "host.{{ region.name }}"}
      flavor: {lazy: flavors, ref: flavor}
      availability_zone: {lazy: availability_zones, ref: placement.zone}
      cloud_tenant: {lazy: cloud_tenants, ref: "$settings.wanted"}
"""
RECORDS: list[Any] = [
    {
        "id": "1",
        "name": "a",
        "placement": {"zone": "z"},
        "state": "up",
        "image": "Windows 11",
        "flavor": "f1",
    },
    {"id": "2", "state": "sideways", "placement": None, "flavor": 7},
    {"id": 3, "name": None, "placement": "flat", "image": None, "flavor": None},
    {},
]


@pytest.fixture
def spec(tmp_path: Path) -> Spec:
    path = tmp_path / "spec.yaml"
    path.write_text(textwrap.dedent(SPEC))
    return load_spec(str(path))


def one_by_one(spec: Spec, record: Any, scope: dict[str, Any]) -> dict[str, Any]:
    source = spec.collections["vms"].sources[0]
    return {a.name: compile_rule(a, spec)(record, scope) for a in source.attributes}


def test_the_generated_function_gives_what_the_rules_give(spec: Spec) -> None:
    source = spec.collections["vms"].sources[0]
    rules = [compile_rule(a, spec) for a in source.attributes]
    fast = compile_data(spec, source.attributes, rules, "test")
    scope = {"region": {"name": "eastus"}, "settings": {"wanted": "t1"}, "provider": {}}
    for record in RECORDS:
        got = fast(record, scope)
        assert got == one_by_one(spec, record, scope)
        assert list(got or {}) == [a.name for a in source.attributes]  # same order
    assert fast(["not", "an", "object"], scope) is None  # the parser runs the rules then
    assert fast("text", scope) is None


def test_equal_references_are_one_object(spec: Spec) -> None:
    coll, mapping = spec.catalogue.collections["vms"], spec.collections["vms"]
    parser = SourceParser(spec, coll, mapping, mapping.sources[0])
    scope = {"region": {"name": "eastus"}, "settings": {"wanted": "t1"}, "provider": {}}
    a = parser.fast({"id": "1", "flavor": "f1"}, scope)
    b = parser.fast({"id": "2", "flavor": "f1"}, scope)
    c = parser.fast({"id": "3", "flavor": 7}, scope)
    assert a is not None and b is not None and c is not None
    assert a["flavor"] is b["flavor"] and a["flavor"] == LazyRef("flavors", ("f1",))
    assert c["flavor"] == LazyRef("flavors", ("7",))
    assert a["cloud_tenant"] is c["cloud_tenant"]


def test_a_failing_attribute_is_named(spec: Spec, tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(textwrap.dedent(SPEC).replace('"to_string(id)"', "\"join('-', [`5`])\""))
    bad = load_spec(str(path))
    coll, mapping = bad.catalogue.collections["vms"], bad.collections["vms"]
    parser = SourceParser(bad, coll, mapping, mapping.sources[0])
    with pytest.raises(MappingError, match=r"bad\.yaml:\d+:\d+: collections\.vms\.tools_status"):
        parser.data({"id": "1"}, {"region": {}, "settings": {}, "provider": {}})


def test_a_lazy_over_a_list_value_takes_the_rules(spec: Spec) -> None:
    """An unhashable value where a string is looked up inline: the rules give the attributes."""
    coll, mapping = spec.catalogue.collections["vms"], spec.collections["vms"]
    parser = SourceParser(spec, coll, mapping, mapping.sources[0])
    scope = {"region": {"name": "eastus"}, "settings": {"wanted": "t1"}, "provider": {}}
    record = {"id": "9", "flavor": ["f", 1]}
    with pytest.raises(TypeError):
        parser.fast(record, scope)
    assert parser.data(record, scope) == one_by_one(spec, record, scope)
    by_int = parser.fast({"id": "1", "flavor": 7}, scope)
    by_str = parser.fast({"id": "2", "flavor": "7"}, scope)
    assert by_int is not None and by_str is not None and by_int["flavor"] is by_str["flavor"]


def test_digested_builds_what_one_builds(spec: Spec) -> None:
    """``SourceParser.digested`` (the carry loop) against ``one`` record by record: the same
    objects, refs, first-wins and skipped records, and the same (digest, ref) pairs."""
    from miqspec.parse.objects import ParsedInventory

    coll, mapping = spec.catalogue.collections["vms"], spec.collections["vms"]
    scope = {"region": {"name": "eastus"}, "settings": {"wanted": "t1"}, "provider": {}}
    records: list[Any] = [
        *RECORDS,
        {"id": "1", "name": "again"},  # a ref built before: the first object wins
        {"id": None, "name": "no ref"},  # no manager_ref: skipped
        {"id": 12, "name": "an integer id"},  # a ref that is not a string: ``one``
        ["not", "an", "object"],
        {"id": "list", "flavor": ["f", 1]},  # the generated call fails: the rules
    ]
    todo = [(r, None if i == 2 else 100 + i) for i, r in enumerate(records)]
    by_one, pairs = ParsedInventory(), []
    parser = SourceParser(spec, coll, mapping, mapping.sources[0])
    for record, digest in todo:
        obj = parser.one(record, scope, by_one)
        if obj is not None and digest is not None:
            pairs.append((digest, obj.ref))
    fresh = SourceParser(spec, coll, mapping, mapping.sources[0])
    again = ParsedInventory()
    assert fresh.digested(todo, scope, again) == pairs
    assert (100 + 5, ("1",)) not in pairs and (100 + 6, ("",)) not in pairs
    assert {k: v.data for k, v in again.objects["vms"].items()} == {
        k: v.data for k, v in by_one.objects["vms"].items()
    }
    assert list(again.objects["vms"]) == list(by_one.objects["vms"])
