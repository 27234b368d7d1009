"""Targeted refresh against the simulator over HTTP, on SQLite and PostgreSQL: only the
targets' rows change; a target the API says is gone is disconnected as a full refresh would;
a target that fails to collect is logged and left alone while the others go on; references
outside the targets resolve to stored rows; a full refresh afterwards is exact."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from miqspec.errors import UsageError
from miqspec.events import Target
from miqspec.pipeline import refresh_provider, refresh_targets
from miqspec.simulator import Simulator
from miqspec.spec.load import load_spec
from miqspec.store.providers import ProviderStore

from ..conftest import AWESOME, sim_args

COLS = "id, ems_ref, name, ems_id, raw_power_state, flavor_id, updated_on"


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(instances=30, flavors=4, images=3) as s:
        yield s


def _vms(engine: sa.Engine) -> dict[str, dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(sa.text(f"select {COLS} from vms where template = :f"), {"f": False})
        return {r.ems_ref: dict(r._mapping) for r in rows}


def _added(engine: sa.Engine, keyring: Any, sim: Simulator) -> None:
    ProviderStore(engine).add(load_spec(str(AWESOME)), "ac", sim_args(sim), keyring)
    result = refresh_provider(engine, "ac", keyring)
    assert result.ok, result.error


def test_targets_change_alone_gone_ones_disconnect(engine, keyring, sim) -> None:  # type: ignore[no-untyped-def]
    _added(engine, keyring, sim)
    before = _vms(engine)
    hit = sim.mutate(change=3, remove=1, add=1)
    changed, other = hit["changed"][0], hit["changed"][1]
    removed, added = hit["removed"][0], hit["added"][0]
    never = "00000000-0000-0000-0000-000000000000"
    targets = [Target("vms", r) for r in (changed, removed, added, never)]
    result = refresh_targets(engine, "ac", keyring, targets)
    assert result.ok and not result.failed
    assert sorted(t.ref for t in result.gone) == sorted([removed, never])
    rep = result.report.collections["vms"]  # type: ignore[union-attr]
    assert (rep.created, rep.updated, rep.disconnected, rep.deleted) == (1, 1, 1, 0)
    after = _vms(engine)
    served = {i["id"]: i for i in sim.data.instances}
    assert after[changed]["name"] == served[changed]["name"]
    assert after[other] == before[other]  # changed at the API, not a target: untouched
    assert after[removed]["ems_id"] is None and after[removed]["raw_power_state"] == "unknown"
    flavor_ids = {r[0] for r in _flavor_rows(engine)}
    assert after[added]["flavor_id"] in flavor_ids  # a stored row outside the targets
    untouched = set(before) - {changed, removed}
    assert {k: after[k] for k in untouched} == {k: before[k] for k in untouched}
    # a full refresh afterwards sees only what the targeted one did not do
    full = refresh_provider(engine, "ac", keyring)
    assert full.ok
    frep = full.report.collections["vms"]  # type: ignore[union-attr]
    assert (frep.created, frep.updated, frep.disconnected) == (0, 2, 0)


def _flavor_rows(engine: sa.Engine) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(sa.text("select id from flavors")))


def test_a_failing_target_is_logged_and_the_others_go_on(engine, keyring, sim, caplog) -> None:  # type: ignore[no-untyped-def]
    _added(engine, keyring, sim)
    before = _vms(engine)
    hit = sim.mutate(change=2)
    bad, good = hit["changed"]
    sim.set_faults(path=f"/instances/{bad}", fail_always_status=500)
    lines: list[str] = []
    with caplog.at_level(logging.ERROR, logger="miqspec.targeted"):
        result = refresh_targets(
            engine, "ac", keyring, [Target("vms", bad), Target("vms", good)], log=lines.append
        )
    assert list(result.failed) == [Target("vms", bad)]
    assert "answered 500" in result.failed[Target("vms", bad)]
    assert any(f"target vms:{bad} failed to collect" in line for line in lines)
    assert "failed to collect" in caplog.text
    after = _vms(engine)
    assert after[bad] == before[bad]  # neither updated nor disconnected
    assert after[good]["name"] != before[good]["name"]


def test_targets_need_a_target_rule(engine, keyring, sim) -> None:  # type: ignore[no-untyped-def]
    _added(engine, keyring, sim)
    with pytest.raises(UsageError, match="no target rule"):
        refresh_targets(engine, "ac", keyring, [Target("availability_zones", "x")])


def test_a_full_refresh_after_a_targeted_one_sees_a_change_back(engine, keyring, sim) -> None:  # type: ignore[no-untyped-def]
    """The targeted save drops its rows' digests and record-map entries: a full refresh
    whose pages are what the last full refresh saw still repairs a row changed in between."""
    _added(engine, keyring, sim)
    assert refresh_provider(engine, "ac", keyring).ok  # digests and record maps stored
    item = sim.data.instances[3]
    ref, state = item["id"], item["power_state"]
    other = "stopped" if state != "stopped" else "running"
    sim._api.dataset.update_instance(ref, {"power_state": other})
    assert refresh_targets(engine, "ac", keyring, [Target("vms", ref)]).ok
    assert _vms(engine)[ref]["raw_power_state"] == other
    sim._api.dataset.update_instance(ref, {"power_state": state})  # back as it was
    full = refresh_provider(engine, "ac", keyring)
    assert full.ok
    assert _vms(engine)[ref]["raw_power_state"] == state
    rep = full.report.collections["vms"]  # type: ignore[union-attr]
    assert rep.updated == 1


def test_flavors_and_images_have_targets_of_their_own(engine, keyring, sim) -> None:  # type: ignore[no-untyped-def]
    _added(engine, keyring, sim)
    hit = sim.mutate(change_flavors=1, change_images=1)
    flavor, image = hit["changed_flavors"][0], hit["changed_images"][0]
    result = refresh_targets(
        engine, "ac", keyring, [Target("flavors", flavor), Target("miq_templates", image)]
    )
    assert result.ok and result.counts == {"flavors": 1, "miq_templates": 1}
    served = {i["id"]: i["name"] for i in [*sim.data.flavors, *sim.data.images]}
    with engine.connect() as conn:
        names = dict(
            conn.execute(
                sa.text("select ems_ref, name from flavors where ems_ref = :f union all "
                        "select ems_ref, name from vms where ems_ref = :i"),
                {"f": flavor, "i": image},
            ).all()
        )  # fmt: skip
    assert names == {flavor: served[flavor], image: served[image]}
