"""Generated row builders (persist_build) against ``RowPlan.build_one``: the same rows with
their columns in the same order, the same unresolved and skipped counts, the same error, for
any mix of values, references, shapes, defaults and STI types."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from miqspec.errors import MappingError
from miqspec.parse.objects import InventoryObject, LazyRef
from miqspec.persist.build import SLOW, compile_builder

from ..persist_support import VM_TYPE, build, flavor, vm, vm_plan

FLAVORS = [LazyRef("flavors", ("f1",)), LazyRef("flavors", ("f2",)), LazyRef("flavors", ("no",))]
VALUES: dict[str, Any] = {  # attribute -> values an object may hold ("missing": left out)
    "flavor": st.sampled_from([*FLAVORS, None, 12, "missing"]),  # 12: a plain id
    "availability_zone": st.sampled_from([LazyRef("availability_zones", ("z1",)), "missing"]),
    "raw_power_state": st.sampled_from(["running", "stopped", "odd", None, 3, "missing"]),
    "memory_reserve": st.sampled_from([5, "7", None, "missing"]),
    "cpu_limit": st.sampled_from([2, "x", "missing"]),  # "x" cannot be stored
    "type": st.sampled_from([VM_TYPE, None, "missing"]),
    "boot_time": st.sampled_from([datetime(2024, 1, 1), "2024-02-03T04:05:06Z", "missing"]),
    "ems_id": st.sampled_from([7, "missing"]),  # over the plan's owner column
    "template": st.sampled_from([True, "missing"]),  # over the plan's scope column
    "extra_attribute": st.sampled_from([1, "missing", "missing", "missing"]),  # no column
}


def outcome(plan: Any, objs: list[InventoryObject], generated: bool) -> tuple[Any, ...]:
    """Each object's row (as item lists) and the plan's counts, or the first error."""
    try:
        rows = [plan.build(o) if generated else plan.build_one(o) for o in objs]
    except MappingError as exc:
        return ("error", str(exc))
    shown = [None if r is None else list(r.items()) for r in rows]
    return ("rows", shown, plan.unresolved, plan.skipped)


def check(objs: list[tuple[str, tuple[Any, ...], dict[str, Any]]], sti: str | None) -> None:
    inv = build(*objs)
    vms = list(inv.objects["vms"].values())
    one = outcome(vm_plan(inv, sti_type=sti), vms, generated=False)
    assert outcome(vm_plan(inv, sti_type=sti), vms, generated=True) == one


@st.composite
def fleets(draw: Any) -> list[tuple[str, tuple[Any, ...], dict[str, Any]]]:
    n = draw(st.integers(1, 10))
    same = draw(st.booleans())  # every object one shape, or shapes of their own
    shared = {a: draw(v) for a, v in VALUES.items()}
    out = [flavor("f1"), flavor("f2")]
    for i in range(n):
        picked = shared if same else {a: draw(v) for a, v in VALUES.items()}
        out.append(vm(f"vm-{i}", **{a: v for a, v in picked.items() if v != "missing"}))
    return out


@settings(max_examples=300, deadline=None)
@given(fleets(), st.sampled_from([None, "ManageIQ::Providers::X::Vm"]))
def test_generated_builders_build_what_build_one_builds(objs: list[Any], sti: str | None) -> None:
    check(objs, sti)


@pytest.mark.parametrize(
    "changes",
    [
        {},  # plain values and resolvable references
        {"vm-1": {"flavor": FLAVORS[2]}},  # an unresolved reference: counted per object
        {"vm-1": {"raw_power_state": None}},  # build_one drops the column from that row
        {"vm-1": {"cpu_limit": "x"}},  # an error: build_one's own
        {"vm-2": {"extra_attribute": 1}},  # an attribute without a column
    ],
)
def test_cases(changes: dict[str, dict[str, Any]]) -> None:
    objs = [flavor("f1"), flavor("f2")]
    for i in range(4):
        data = {"flavor": FLAVORS[i % 2], "memory_reserve": i}
        data.update(changes.get(f"vm-{i}", {}))
        objs.append(vm(f"vm-{i}", **data))
    check(objs, None)


def test_a_plain_object_takes_the_builder_and_a_shared_reference_resolves_once() -> None:
    objs = [flavor("f1")] + [vm(f"vm-{i}", flavor=FLAVORS[2], memory_reserve=i) for i in range(5)]
    inv = build(*objs)
    vms = list(inv.objects["vms"].values())
    plan = vm_plan(inv)
    fn = compile_builder(plan, tuple(vms[0].data))
    assert fn is not None
    rows = [fn(o) for o in vms]
    assert SLOW not in rows and rows == [vm_plan(inv).build_one(o) for o in vms]
    assert plan.unresolved == 5 and len(plan._memo) == 1
    odd = vm("vm-odd", flavor=FLAVORS[0], memory_reserve="7")  # a string for an integer
    assert fn(InventoryObject(*odd)) is SLOW and plan.unresolved == 5  # nothing resolved
