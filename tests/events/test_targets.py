"""Targets and the plan of a targeted refresh (no I/O)."""

from __future__ import annotations

import pytest

from miqspec.errors import UsageError
from miqspec.events import Target, group_targets, parse_target, plan_targeted
from miqspec.spec.load import load_spec

from ..conftest import AWESOME


def test_parse_target_keeps_colons_in_the_ref() -> None:
    assert parse_target("vms:i-1") == Target("vms", "i-1")
    assert parse_target("vms:a:b/c") == Target("vms", "a:b/c")
    for bad in ("vms", ":x", "vms:", ""):
        with pytest.raises(UsageError, match="COLLECTION:MANAGER_REF"):
            parse_target(bad)


def test_group_targets_merges_duplicates_in_order() -> None:
    targets = [Target("vms", "b"), Target("vms", "a"), Target("vms", "b"), Target("flavors", "f")]
    assert group_targets(targets) == {"vms": ["b", "a"], "flavors": ["f"]}


def test_plan_replaces_the_list_call_and_scopes_the_collections() -> None:
    spec = load_spec(str(AWESOME))
    plan = plan_targeted(spec, [Target("vms", "x"), Target("vms", "y")])
    assert plan.refs == {"vms": ["x", "y"]}
    assert plan.replaced == {"vms": "get_instances"}
    assert plan.scope == ("vms",)
    assert plan.complete == {"vms": True}
    assert plan.roots["vms"] == ("get_instances",)
    call = plan.spec.calls["get_instances"]
    assert call.name == "get_instances"
    assert call.path.render({"target": {"ems_ref": "x"}}) == "/instances/x"
    assert 404 in call.skip_on
    assert list(plan.spec.collections) == ["vms"]
    assert spec.calls["get_instances"].path.render({}) == "/instances"  # the spec is unchanged


def test_plan_refuses_collections_without_a_target_rule() -> None:
    spec = load_spec(str(AWESOME))
    with pytest.raises(
        UsageError, match=r"'availability_zones' has no target rule.*only a full refresh"
    ):
        plan_targeted(spec, [Target("availability_zones", "a")])
    with pytest.raises(UsageError, match="'hosts' is not mapped"):
        plan_targeted(spec, [Target("hosts", "h")])
    with pytest.raises(UsageError, match="at least one target"):
        plan_targeted(spec, [])
