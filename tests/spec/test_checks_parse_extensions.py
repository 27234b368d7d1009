"""checks: the parse-side language extensions (each levels, $item/$ancestors, items sources,
switch/cases, shared attributes, computed secondary refs, nested lazies) as spec error cases."""

from __future__ import annotations

import copy
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from miqspec.spec.build import build_spec
from miqspec.spec.catalogue import load_catalogue
from miqspec.spec.checks import check_document
from miqspec.spec.document import load_text
from miqspec.spec.load import check_file

CATALOGUE = load_catalogue()

HEADER = """\
version: 1
provider: {name: test_cloud, title: Test Cloud, manager_type: cloud, child_managers: [network]}
connection: {services: {api: {base_url: "https://api.test"}}}
calls:
  get_vms: {path: /vms}
  get_disks: {path: "/d/{{ parent.id }}", for_each: {call: get_vms}}
collections:
"""
HEADER_LINES = HEADER.count("\n")


def findings(tmp_path: Path, collections: str) -> list[str]:
    """``line:col: path: message`` per finding, lines counted within ``collections``."""
    path = tmp_path / "spec.yaml"
    path.write_text(HEADER + textwrap.indent(textwrap.dedent(collections).lstrip("\n"), "  "))
    return [
        f"{f.location.line - HEADER_LINES}:{f.location.col}: {f.path}: {f.message}"
        for f in check_file(str(path))
    ]


VALID = [
    # nested each: $parent / $ancestors exist from level 2 on; $item is the record everywhere
    """
    load_balancer_pool_member_pools:
      from: get_vms
      each:
        - "pools[?contains($item.rules, id)]"
        - "members[?$parent.id && $ancestors[0].id]"
      where: "$ancestors[1].id && $parent.id"
      attributes:
        load_balancer_pool: {lazy: load_balancer_pools, ref: $parent.id}
        load_balancer_pool_member: {lazy: load_balancer_pool_members, ref: id}
    """,
    # fan-out: $ancestors in attributes and templates; items source with its roots
    """
    disks:
      from: get_disks
      attributes:
        hardware: {lazy: hardwares, ref: {vm_or_template: {lazy: vms, ref: "$ancestors[0].id"}}}
        device_name: {template: "{{ ancestors[0].id }}/{{ item.name }}"}
    flavors:
      items: "$calls.get_vms[?$region.name && $settings.x].size"
      attributes: {ems_ref: "@", name: "@"}
    """,
    # shared attributes, switch, computed secondary refs and lookups by them
    """
    vms:
      attributes: {name: name, type: {value: Vm}}
      secondary_refs: {by_name: "lower(name)"}
      sources:
        - from: get_vms
          attributes:
            ems_ref: id
            description:
              switch: kind
              cases: {a: "'first'", "1": "concat('one ', kind)"}
              default: "`null`"
        - items: "`[]`"
          attributes: {ems_ref: "@"}
    cloud_networks:
      from: get_vms
      attributes:
        ems_ref: id
        orchestration_stack: {lazy: orchestration_stacks_resources, ref: lower(id),
                              by: by_target, key: stack}
    orchestration_stacks_resources:
      from: get_vms
      secondary_refs: {by_target: "lower(ems_ref)"}
      attributes: {stack: {lazy: orchestration_stacks, ref: id}, ems_ref: target}
    hardwares:
      from: get_vms
      attributes:
        vm_or_template: {lazy: vms, ref: name, by: by_name}
    """,
]


@pytest.mark.parametrize("collections", VALID)
def test_valid_uses_have_no_findings(tmp_path: Path, collections: str) -> None:
    assert findings(tmp_path, collections) == []


INVALID = [
    (  # level 1 has no $parent without a fan-out; a later level has; items are strings
        """
        vms:
          from: get_vms
          each: ["pools[?$parent.x]", "members[?$parent.x]", 5]
          attributes: {ems_ref: "$ancestors[0].id"}
        """,
        [
            "3:20: collections.vms.each[0]: expression root '$parent' is not available here "
            "(no for_each call or each: above it)",
            "3:56: collections.vms.each[2]: an each: level must be a JMESPath string, got integer",
        ],
    ),
    (
        """
        vms:
          from: get_vms
          attributes: {ems_ref: "$ancestors[0].id", name: {template: "{{ ancestors }}"}}
        """,
        [
            "3:28: collections.vms.attributes.ems_ref: expression root '$ancestors' is not "
            "available here"
        ],
    ),
    (
        """
        vms:
          from: get_vms
          each: []
          attributes: {ems_ref: id}
        """,
        ["3:11: collections.vms.each: each: needs at least one level"],
    ),
    (  # items read no record and have no enclosing item
        """
        flavors:
          sources:
            - items: "[$item.x, $parent.y]"
              attributes: {ems_ref: "@"}
            - attributes: {ems_ref: "@"}
            - {from: get_vms, items: "`[]`", attributes: {ems_ref: "@"}}
        """,
        [
            "3:16: collections.flavors.sources[0].items: expression root '$item' is not "
            "available here (items: is evaluated once, on no record)",
            "3:27: collections.flavors.sources[0].items: expression root '$parent' is not "
            "available here (no for_each call or each: above it)",
            "5:9: collections.flavors.sources[1]: a source needs from: (a call) or items: (an "
            "expression)",
            "6:10: collections.flavors.sources[2].from: 'from' cannot be used together with "
            "'items'",
        ],
    ),
    (
        """
        flavors: {complete: true}
        """,
        [
            "1:3: collections.flavors: collection 'flavors' needs from: (a call), items: (an "
            "expression) or sources:"
        ],
    ),
    (  # a shared attribute must work for every source; a source must map the manager_ref
        """
        flavors:
          attributes: {name: "$parent.name", colour: x}
          sources:
            - {from: get_disks, attributes: {ems_ref: id}}
            - {from: get_vms, attributes: {cpus: cores}}
        """,
        [
            "2:25: collections.flavors.attributes.name: expression root '$parent' is not "
            "available here (no for_each call or each: above it)",
            "2:40: collections.flavors.attributes.colour: collection 'flavors' has no "
            "attribute 'colour'",
            "5:37: collections.flavors.sources[1].attributes: collection 'flavors' is "
            "identified by ['ems_ref'] but 'ems_ref' is not mapped",
            "5:38: collections.flavors.sources[1].attributes.cpus: collection 'flavors' has no "
            "attribute 'cpus'",
        ],
    ),
    (
        """
        vms:
          from: get_vms
          attributes:
            ems_ref: id
            name: {switch: kind, cases: {a: "b ="}, default: 3}
            description: {switch: kind}
        """,
        [
            "5:42: collections.vms.attributes.name.cases.a: JMESPath syntax error: Unknown "
            "token '='",
            "5:56: collections.vms.attributes.name.default: must be a string, got integer",
            "6:20: collections.vms.attributes.description.cases: missing required key 'cases'",
        ],
    ),
    (  # computed secondary refs: names, expressions, and how lookups use them
        """
        vms:
          from: get_vms
          secondary_refs: {by_uid_ems: uid_ems, by_x: "$parent.x", Bad: x}
          attributes:
            ems_ref: id
            flavor: {lazy: flavors, ref: x, by: by_size}
        flavors:
          from: get_vms
          secondary_refs: {by_size: size}
          attributes:
            ems_ref: id
            name: {lazy: vms, ref: {ems_ref: x}, by: by_x, key: name}
        """,
        [
            "3:22: collections.vms.secondary_refs.by_uid_ems: secondary ref 'by_uid_ems' of "
            "'vms' is defined by the catalogue; choose another name",
            "3:50: collections.vms.secondary_refs.by_x: expression root '$parent' is not "
            "available here (no for_each call or each: above it)",
            "3:62: collections.vms.secondary_refs.Bad: name 'Bad' does not match the pattern "
            "^[a-z][a-z0-9_]*$",
            "12:30: collections.flavors.attributes.name.ref: 'by_x' is a computed secondary "
            "ref: give one ref: expression, not a mapping",
        ],
    ),
    (
        """
        hardwares:
          from: get_vms
          attributes:
            vm_or_template: {lazy: vms, ref: x, by: by_nothing}
        """,
        [
            "4:47: collections.hardwares.attributes.vm_or_template.by: collection 'vms' has no "
            "secondary ref 'by_nothing' (known: by_uid_ems)"
        ],
    ),
    (  # nested lazies: checked as attributes of the target; found by manager_ref only
        """
        disks:
          from: get_vms
          attributes:
            device_name: name
            hardware:
              lazy: hardwares
              ref: {vm_or_template: {lazy: vmz, ref: "a b"}}
        flavors:
          from: get_vms
          attributes:
            ems_ref: id
            name:
              lazy: disks
              key: device_name
              ref:
                hardware: {lazy: hardwares, ref: x, by: by_uid_ems}
        """,
        [
            "7:38: collections.disks.attributes.hardware.ref.vm_or_template.lazy: lazy "
            "reference to unknown collection 'vmz' (did you mean 'vms'?)",
            "7:51: collections.disks.attributes.hardware.ref.vm_or_template.ref: JMESPath "
            "syntax error: unexpected token: b",
            "16:11: collections.flavors.attributes.name.ref: the manager_ref ['hardware', "
            "'device_name'] of 'disks' needs device_name in ref:",
            "16:47: collections.flavors.attributes.name.ref.hardware.by: a lazy inside a "
            "composite ref finds its object by manager_ref; by: is not allowed here",
            "16:51: collections.flavors.attributes.name.ref.hardware.by: collection "
            "'hardwares' has no secondary ref 'by_uid_ems' (known: none)",
        ],
    ),
    (
        """
        vms:
          from: get_vms
          attributes:
            ems_ref: id
            name: {expr: name, match: [{regex: "[a-", value: x}]}
        """,
        [
            "5:42: collections.vms.attributes.name.match[0].regex: bad regular expression: "
            "unterminated character set at position 0"
        ],
    ),
    (  # $calls.<name> must name a call: the refresh collects the calls a mapping reads
        """
        vms:
          from: get_vms
          attributes: {ems_ref: id, name: "$calls.get_vmz[0].name"}
        """,
        [
            "3:37: collections.vms.attributes.name: unknown call 'get_vmz' in $calls.get_vmz "
            "(did you mean 'get_vms'?)"
        ],
    ),
]


@pytest.mark.parametrize(("collections", "expected"), INVALID)
def test_invalid_uses_are_reported_with_their_position(
    tmp_path: Path, collections: str, expected: list[str]
) -> None:
    assert findings(tmp_path, collections) == expected


# -- property: mutated mappings never crash the validator, and valid ones build ----------------

SEEDS = [yaml.safe_load(HEADER + textwrap.indent(textwrap.dedent(c).lstrip("\n"), "  "))
         for c in VALID]  # fmt: skip
SCALARS = [
    None,
    0,
    True,
    "",
    "x",
    "$parent.x",
    "$ancestors[9]",
    "$item",
    "[?",
    [],
    {},
    ["a"],
    {"lazy": "vms"},
    {"switch": "a"},
    {"lazy": "vms", "ref": {"x": {"lazy": 1}}},
]


def _paths(node: Any, path: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    out = [path]
    if isinstance(node, dict):
        for key, value in node.items():
            out += _paths(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            out += _paths(value, (*path, index))
    return out


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_mutated_mappings_never_crash(data: st.DataObject) -> None:
    doc = copy.deepcopy(data.draw(st.sampled_from(SEEDS)))
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(_paths(doc["collections"], ("collections",))[1:]))
        parent = doc
        for part in path[:-1]:
            parent = parent[part]
        op = data.draw(st.sampled_from(["delete", "retype", "wrap"]))
        if op == "delete":
            del parent[path[-1]]
        elif op == "retype":
            parent[path[-1]] = copy.deepcopy(data.draw(st.sampled_from(SCALARS)))
        else:
            parent[path[-1]] = [parent[path[-1]]]
        if not doc["collections"]:
            break
    loaded = load_text(yaml.safe_dump(doc, sort_keys=False), "mutated.yaml")
    findings = check_document(loaded, CATALOGUE)
    assert all(f.location.line >= 1 and "\n" not in f.message for f in findings)
    if not findings:
        build_spec(loaded, CATALOGUE)
