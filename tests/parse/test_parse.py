"""parse: mappings turn collected records into inventory objects (specs built from YAML)."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from miqspec.collect.runner import CallResult, CollectResult
from miqspec.errors import MappingError
from miqspec.parse.objects import InventoryObject, LazyRef, ParsedInventory
from miqspec.parse.parser import parse
from miqspec.parse.source import SourceParser
from miqspec.spec.load import load_spec
from miqspec.spec.model import Spec

HEADER = """\
version: 1
provider: {name: test_cloud, title: Test Cloud, manager_type: cloud,
           child_managers: [network], settings: {images: [img-a, img-b], wanted: eastus}}
regions: [{name: eastus, description: East US}]
connection: {services: {api: {base_url: "https://api.test"}}}
"""


def spec_of(tmp_path: Path, body: str, header: str = HEADER) -> Spec:
    path = tmp_path / "spec.yaml"
    path.write_text(header + textwrap.dedent(body))
    return load_spec(str(path))


def collected(**calls: Any) -> CollectResult:
    """``name=[records]``, or ``name=(records, parents)``, or ``name=CallResult``."""
    out = CollectResult()
    for name, value in calls.items():
        if isinstance(value, CallResult):
            out.calls[name] = value
        elif isinstance(value, tuple):
            out.calls[name] = CallResult(name, list(value[0]), list(value[1]))
        else:
            out.calls[name] = CallResult(name, list(value))
    return out


def data_of(inv: ParsedInventory, collection: str) -> list[dict[str, Any]]:
    return [o.data for o in inv.objects[collection].values()]


LB = {
    "id": "lb1",
    "rules": [{"pool": "p1"}],
    "pools": [
        {"id": "p1", "members": [{"id": "m1"}, {"id": "m2"}]},
        {"id": "p2", "members": [{"id": "m3"}]},
    ],
    "probes": [{"id": "h1", "rules": ["r1"]}],
}


def test_nested_each_levels_give_parent_and_ancestors(tmp_path: Path) -> None:
    spec = spec_of(
        tmp_path,
        """
        calls: {get_lbs: {path: /lbs}}
        collections:
          load_balancer_pool_member_pools:
            from: get_lbs
            each:
              - "pools[?contains($item.rules[].pool, id)]"
              - members
            attributes:
              load_balancer_pool: {lazy: load_balancer_pools, ref: $parent.id}
              load_balancer_pool_member: {lazy: load_balancer_pool_members, ref: id}
          load_balancer_pool_members:
            from: get_lbs
            each: [pools, members]
            where: "$ancestors[1].id == 'lb1' && $index >= `0`"
            attributes:
              ems_ref: "join('/', [$ancestors[1].id, $parent.id, id])"
    """,
    )
    inv = parse(spec, collected(get_lbs=[LB]))
    pairs = [
        (d["load_balancer_pool"].ref, d["load_balancer_pool_member"].ref)
        for d in data_of(inv, "load_balancer_pool_member_pools")
    ]
    assert pairs == [(("p1",), ("m1",)), (("p1",), ("m2",))]  # p2 has no rule: filtered by $item
    refs = [d["ems_ref"] for d in data_of(inv, "load_balancer_pool_members")]
    assert refs == ["lb1/p1/m1", "lb1/p1/m2", "lb1/p2/m3"]


def test_three_levels_see_the_chain_while_computing_and_at_the_end(tmp_path: Path) -> None:
    spec = spec_of(
        tmp_path,
        """
        calls: {get_lbs: {path: /lbs}}
        collections:
          load_balancer_pool_members:
            from: get_lbs
            each:
              - probes
              - rules
              - "[{rule: @, probe: $ancestors[0].id, lb: $ancestors[1].id, n: length($ancestors)}]"
            attributes:
              ems_ref: "join('|', [lb, probe, rule, to_string(n), $parent, $ancestors[1].id,
                         $ancestors[2].id, to_string(length($ancestors))])"
    """,
    )
    inv = parse(spec, collected(get_lbs=[LB]))
    assert [d["ems_ref"] for d in data_of(inv, "load_balancer_pool_members")] == [
        "lb1|h1|r1|2|r1|h1|lb1|3"
    ]


def test_single_each_keeps_the_record_as_parent(tmp_path: Path) -> None:
    spec = spec_of(
        tmp_path,
        """
        calls: {get_lbs: {path: /lbs}}
        collections:
          load_balancer_pools:
            from: get_lbs
            each: pools
            where: "contains($parent.rules[].pool, id)"
            attributes:
              ems_ref: "concat($parent.id, '/', id, '/', to_string($index))"
    """,
    )
    inv = parse(spec, collected(get_lbs=[LB, {"id": "lb2", "pools": None}]))
    assert [d["ems_ref"] for d in data_of(inv, "load_balancer_pools")] == ["lb1/p1/0"]


def _fan_out_spec(tmp_path: Path) -> Spec:
    return spec_of(
        tmp_path,
        """
        calls:
          get_accounts: {path: /accounts}
          get_containers: {path: "/c/{{ parent.id }}", for_each: {call: get_accounts}}
          get_blobs: {path: "/b/{{ parent.id }}", for_each: {call: get_containers}}
        collections:
          vms:
            from: get_blobs
            attributes:
              ems_ref: "join('/', [$ancestors[1].id, $ancestors[0].id, id])"
              name: {template: "{{ ancestors[1].id }}-{{ parent.id }}-{{ item.id }}"}
          flavors:
            from: get_blobs
            each: parts
            attributes:
              ems_ref: "join('/', $ancestors[].id)"
              name: "to_string(length($ancestors))"
          availability_zones:
            from: get_containers
            attributes:
              ems_ref: id
              name: "to_string(length($ancestors))"
    """,
    )


def test_ancestors_continue_through_fan_out_parents(tmp_path: Path) -> None:
    spec = _fan_out_spec(tmp_path)
    accounts = [{"id": "a1"}, {"id": "a2"}]
    containers = [{"id": "c1"}, {"id": "c2"}]
    blobs = [{"id": "b1", "parts": [{"id": "x"}]}, {"id": "b2", "parts": []}]
    data = collected(
        get_accounts=accounts,
        get_containers=(containers, [accounts[0], accounts[1]]),
        get_blobs=(blobs, [containers[1], containers[0]]),
    )
    inv = parse(spec, data)
    assert [(d["ems_ref"], d["name"]) for d in data_of(inv, "vms")] == [
        ("a2/c2/b1", "a2-c2-b1"),
        ("a1/c1/b2", "a1-c1-b2"),
    ]
    assert [(d["ems_ref"], d["name"]) for d in data_of(inv, "flavors")] == [("b1/c2/a2", "3")]
    assert [d["name"] for d in data_of(inv, "availability_zones")] == ["1", "1"]


def test_ancestors_prefer_the_collectors_chain_when_it_has_one(tmp_path: Path) -> None:
    spec = _fan_out_spec(tmp_path)
    blobs = CallResult(
        "get_blobs", [{"id": "b1", "parts": []}], [{"id": "c9"}], [[{"id": "c9"}, {"id": "a9"}]]
    )
    inv = parse(spec, collected(get_accounts=[], get_containers=([], []), get_blobs=blobs))
    assert [d["ems_ref"] for d in data_of(inv, "vms")] == ["a9/c9/b1"]


def test_composite_ref_with_a_nested_lazy(tmp_path: Path) -> None:
    spec = spec_of(
        tmp_path,
        """
        calls: {get_vms: {path: /vms}}
        collections:
          disks:
            from: get_vms
            each: disks
            attributes:
              hardware:
                lazy: hardwares
                ref: {vm_or_template: {lazy: vms, ref: $parent.vm_id}}
              device_name: name
    """,
    )
    vms = [{"vm_id": 7, "disks": [{"name": "sda"}]}, {"vm_id": None, "disks": [{"name": "sdb"}]}]
    inv = parse(spec, collected(get_vms=vms))
    objs = list(inv.objects["disks"].values())
    inner = LazyRef("vms", ("7",))
    assert objs[0].ref == (LazyRef("hardwares", (inner,)), "sda")
    # the inner lazy has nothing to point at: the whole reference is null, the disk is skipped
    assert len(objs) == 1


def test_find_by_over_calls_and_yaml_parse_in_mappings(tmp_path: Path) -> None:
    spec = spec_of(
        tmp_path,
        """
        calls: {get_vms: {path: /vms}, get_sizes: {path: /sizes}}
        collections:
          vms:
            from: get_vms
            where: "find_by($calls.get_sizes, 'name', size)"
            attributes:
              ems_ref: id
              name: "to_string(find_by_ignore_case($calls.get_sizes, 'name', size).cores)"
              description: "yaml_parse(extra).label"
    """,
    )
    sizes = [{"name": f"S{i}", "cores": i} for i in range(40)]
    vms = [
        {"id": "v1", "size": "S3", "extra": "---\nlabel: web"},
        {"id": "v2", "size": "nope", "extra": ""},
    ]
    inv = parse(spec, collected(get_vms=vms, get_sizes=sizes))
    assert data_of(inv, "vms") == [
        {
            "ems_ref": "v1",
            "name": "3",
            "description": "web",
            "type": "ManageIQ::Providers::TestCloud::CloudManager::Vm",
        }
    ]


def test_computed_secondary_refs_index_the_first_object(tmp_path: Path) -> None:
    spec = spec_of(
        tmp_path,
        """
        calls: {get_ops: {path: /ops}}
        collections:
          orchestration_stacks_resources:
            from: get_ops
            secondary_refs: {by_target_ci: "lower(ems_ref)", by_pair: "[name, ems_ref]"}
            attributes:
              stack: {lazy: orchestration_stacks, ref: stack}
              ems_ref: target
              name: name
          cloud_networks:
            from: get_ops
            attributes:
              ems_ref: id
              orchestration_stack:
                lazy: orchestration_stacks_resources
                ref: lower(target)
                by: by_target_ci
                key: stack
    """,
    )
    ops = [
        {"id": "o1", "stack": "s1", "target": "VNET/A", "name": "x"},
        {"id": "o2", "stack": "s2", "target": "vnet/a", "name": None},
    ]
    inv = parse(spec, collected(get_ops=ops))
    found = inv.find_secondary("orchestration_stacks_resources", "by_target_ci", ("vnet/a",))
    assert found is not None and found.data["name"] == "x"  # first built wins
    assert inv.find_secondary("orchestration_stacks_resources", "by_pair", ("x", "VNET/A"))
    assert not inv.secondary["orchestration_stacks_resources"]["by_pair"].get((None, "vnet/a"))
    nets = data_of(inv, "cloud_networks")
    assert nets[0]["orchestration_stack"] == LazyRef(
        "orchestration_stacks_resources", ("vnet/a",), "stack", None, "by_target_ci"
    )


def test_items_sources_run_once_without_a_call(tmp_path: Path) -> None:
    spec = spec_of(
        tmp_path,
        """
        calls: {get_vms: {path: /vms}}
        collections:
          availability_zones:
            items: "[{id: 'default', name: $region.description}]"
            attributes: {ems_ref: id, name: name}
          flavors:
            sources:
              - items: "$settings.images"
                attributes: {ems_ref: "@", name: "upper(@)"}
              - items: "$calls.get_vms[].size"
                each: "[@, concat(@, '-x')]"
                attributes: {ems_ref: "@", name: "concat($parent, ':', @)"}
    """,
    )
    ctx = {
        "region": {"name": "eastus", "description": "East US"},
        "settings": {"images": ["img-a", "img-b"]},
    }
    vms = CallResult("get_vms", [{"size": "s1"}], complete=False)
    inv = parse(spec, collected(get_vms=vms), context=ctx)
    assert data_of(inv, "availability_zones")[0]["name"] == "East US"
    assert [d["name"] for d in data_of(inv, "flavors")] == ["IMG-A", "IMG-B", "s1:s1", "s1:s1-x"]
    assert inv.complete == {"availability_zones": True, "flavors": False}
    assert spec.collections["flavors"].sources == ()  # only sources that read a call
    assert spec.collections["flavors"].calls == ("get_vms",)


def test_switch_cases_shared_attributes_and_sti_shorthand(tmp_path: Path) -> None:
    spec = spec_of(
        tmp_path,
        """
        calls: {get_vms: {path: /vms}, get_images: {path: /images}}
        collections:
          vms:
            attributes:
              name: name
              type: {value: Vm}
            sources:
              - from: get_vms
                attributes:
                  ems_ref: id
                  description:
                    switch: "kind == 'ssh' && vault && 'vault' || kind"
                    cases:
                      vault: "concat('vault:', vault)"
                      ssh: "'plain ssh'"
                      "true": "'a boolean'"
                      "5": "'a number'"
                    default: "concat('other ', to_string(kind))"
              - from: get_images
                attributes:
                  ems_ref: id
                  name: "upper(name)"
                  type: {value: "ManageIQ::Providers::Other::Template"}
    """,
    )
    vms = [
        {"id": "1", "name": "a", "kind": "ssh", "vault": "v"},
        {"id": "2", "name": "b", "kind": "ssh"},
        {"id": "3", "name": "c", "kind": True},
        {"id": "4", "name": "d", "kind": 5},
        {"id": "5", "name": "e", "kind": None},
        {"id": "6", "name": "f", "kind": "aws"},
    ]
    inv = parse(spec, collected(get_vms=vms, get_images=[{"id": "i1", "name": "img"}]))
    got = {d["ems_ref"]: (d["name"], d.get("description"), d["type"]) for d in data_of(inv, "vms")}
    vm = "ManageIQ::Providers::TestCloud::CloudManager::Vm"
    assert got == {
        "1": ("a", "vault:v", vm),
        "2": ("b", "plain ssh", vm),
        "3": ("c", "a boolean", vm),
        "4": ("d", "a number", vm),
        "5": ("e", "other null", vm),
        "6": ("f", "other aws", vm),
        "i1": ("IMG", None, "ManageIQ::Providers::Other::Template"),
    }


def test_sti_shorthand_uses_the_collections_manager(tmp_path: Path) -> None:
    spec = spec_of(
        tmp_path,
        """
        calls: {get_nets: {path: /nets}}
        collections:
          cloud_networks:
            from: get_nets
            attributes:
              ems_ref: id
              type: {expr: kind, map: {private: PrivateNetwork}}
    """,
    )
    inv = parse(
        spec, collected(get_nets=[{"id": "n1", "kind": "private"}, {"id": "n2", "kind": "A::B"}])
    )
    assert [d["type"] for d in data_of(inv, "cloud_networks")] == [
        "ManageIQ::Providers::TestCloud::NetworkManager::PrivateNetwork",
        "A::B",
    ]


def test_evaluation_failures_name_the_spec_location(tmp_path: Path) -> None:
    spec = spec_of(
        tmp_path,
        """
        calls: {get_vms: {path: /vms}}
        collections:
          vms:
            from: get_vms
            each: [disks, "[length(@)]"]
            attributes: {ems_ref: "to_string(@)"}
          flavors:
            from: get_vms
            where: "truncate_bytes(name, size)"
            attributes: {ems_ref: name}
    """,
    )
    inv = parse(spec, collected(get_vms=[{"disks": ["abc"], "name": "n", "size": 1}]))
    assert [d["ems_ref"] for d in data_of(inv, "vms")] == ["3"]
    with pytest.raises(
        MappingError,
        match=r"spec\.yaml:\d+:\d+: collections\.vms\.each\[1\]: "
        r"ExpressionEvaluationError: .*length\(\) expected",
    ):
        parse(spec, collected(get_vms=[{"disks": [5]}]))
    with pytest.raises(MappingError, match=r"collections\.flavors\.where: .*byte count"):
        parse(spec, collected(get_vms=[{"name": "x", "size": -1}]))


def test_plain_mappings_take_the_plain_path(tmp_path: Path) -> None:
    """Sources without the new features build no scope, no ancestor chain, no index."""
    spec = spec_of(
        tmp_path,
        """
        calls: {get_vms: {path: /vms}}
        collections:
          vms:
            from: get_vms
            attributes: {ems_ref: id, name: name, uid_ems: id, location: zone}
          hardwares:
            from: get_vms
            attributes:
              vm_or_template: {lazy: vms, ref: id}
              cpu_total_cores: cores
    """,
    )
    for name, mapping in spec.collections.items():
        coll = spec.catalogue.collections[name]
        parser = SourceParser(spec, coll, mapping, mapping.sources[0])
        assert not parser.needs_scope and not parser.needs_ancestors and not parser.secondary
    vms = [{"id": f"vm-{i}", "name": f"n{i}", "zone": "z", "cores": 2} for i in range(20_000)]
    inv = parse(spec, collected(get_vms=vms))
    assert inv.count("vms") == inv.count("hardwares") == 20_000
    assert inv.secondary == {}
    assert isinstance(next(iter(inv.objects["vms"].values())), InventoryObject)
