"""parse_fast: the generated per-source function gives what the rules give one by one."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from miqspec.errors import MappingError
from miqspec.model import Spec
from miqspec.objects import LazyRef
from miqspec.parse import SourceParser
from miqspec.parse_fast import compile_data
from miqspec.parse_rules import compile_rule
from miqspec.specs import load_spec

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
