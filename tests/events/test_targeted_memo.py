"""A targeted refresh of several targets against the simulator over HTTP, on SQLite and
PostgreSQL: the same rendered GET is sent once per refresh (the request memo), a target call's
``records`` reads ``$target``, each collection's targets are collected with its own rule, and
``fan_outs: false`` keeps the fan-outs below the replaced call out."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import sqlalchemy as sa
import yaml

from miqspec.events import Target
from miqspec.pipeline import refresh_provider, refresh_targets
from miqspec.simulator import Simulator
from miqspec.spec.load import load_spec
from miqspec.store.providers import ProviderStore

from ..conftest import AWESOME, sim_args


class Counting(requests.adapters.HTTPAdapter):
    """A real transport that notes the paths it sends."""

    def __init__(self) -> None:
        super().__init__(max_retries=0)
        self.paths: list[str] = []

    def send(self, request: Any, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        self.paths.append(str(request.path_url).split("?")[0].removeprefix("/v1"))
        return super().send(request, *args, **kwargs)


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(instances=10, flavors=4, images=3) as s:
        yield s


def _spec(tmp_path: Path, **flavor_target: Any) -> Path:
    """Awesome Cloud with flavors targeted through the listing, filtered by ``$target``, and
    the zones also read by a fan-out below the flavor listing (what ``fan_outs`` governs)."""
    data = yaml.safe_load(AWESOME.read_text())
    del data["calls"]["get_instance_type"]  # the target call this one replaces
    data["calls"]["get_instance_type_listed"] = {
        "path": "/instance_types",
        "query": {"limit": 1000},
        "records": "items[?id == $target.ems_ref]",
    }
    data["calls"]["get_zones_of_types"] = {
        "path": "/availability_zones",
        "records": "items",
        "for_each": {"call": "get_instance_types"},
    }
    data["collections"]["flavors"]["target"] = {"call": "get_instance_type_listed",
                                                **flavor_target}  # fmt: skip
    zones = data["collections"]["availability_zones"]
    data["collections"]["availability_zones"] = {"sources": [
        {"from": zones["from"], "attributes": zones["attributes"]},
        {"from": "get_zones_of_types", "attributes": zones["attributes"]},
    ]}  # fmt: skip
    path = tmp_path / "awesome_cloud.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_one_request_serves_every_target_asking_it(engine, keyring, sim, tmp_path) -> None:  # type: ignore[no-untyped-def]
    spec = load_spec(str(_spec(tmp_path, fan_outs=False)))
    ProviderStore(engine).add(spec, "ac", sim_args(sim), keyring)
    assert refresh_provider(engine, "ac", keyring).ok
    flavors = [f["id"] for f in sim.data.flavors]
    vms = [i["id"] for i in sim.data.instances[:2]]
    targets = [*(Target("flavors", f) for f in [*flavors[:3], "gone"]),
               *(Target("vms", v) for v in vms)]  # fmt: skip
    adapter = Counting()
    result = refresh_targets(engine, "ac", keyring, targets, adapter=adapter, spec=spec)
    assert result.ok and [t.ref for t in result.gone] == ["gone"]
    assert result.counts["flavors"] == 3 and result.counts["vms"] == 2
    assert adapter.paths.count("/instance_types") == 1  # four targets, one listing read
    assert result.reused == 3
    assert "/availability_zones" not in adapter.paths  # fan_outs: false
    assert sorted(p for p in adapter.paths if p.startswith("/instances/")) == sorted(
        f"/instances/{v}" for v in vms
    )
    with engine.connect() as conn:
        stored = {r[0] for r in conn.execute(sa.text("select ems_ref from flavors"))}
    assert set(flavors) <= stored


def test_fan_outs_below_the_replaced_call_run_by_default(engine, keyring, sim, tmp_path) -> None:  # type: ignore[no-untyped-def]
    spec = load_spec(str(_spec(tmp_path)))
    ProviderStore(engine).add(spec, "ac", sim_args(sim), keyring)
    assert refresh_provider(engine, "ac", keyring).ok
    flavors = [f["id"] for f in sim.data.flavors[:2]]
    adapter = Counting()
    result = refresh_targets(
        engine, "ac", keyring, [Target("flavors", f) for f in flavors], adapter=adapter, spec=spec
    )
    assert result.ok and not result.gone
    # below each targeted flavor, once per flavor, the same URL: sent once
    assert adapter.paths.count("/availability_zones") == 1
    assert result.counts["availability_zones"] > 0


def test_a_lazy_to_a_stored_row_reads_that_row_alone(engine, keyring, sim) -> None:  # type: ignore[no-untyped-def]
    """A targeted refresh resolves the VM's flavor to its stored row by a query for that
    row (not every flavor of the provider: a fixed cost that grew with the collection)."""
    spec = load_spec(str(AWESOME))
    ProviderStore(engine).add(spec, "ac", sim_args(sim), keyring)
    assert refresh_provider(engine, "ac", keyring).ok
    item = sim.data.instances[0]
    statements: list[str] = []

    def note(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(" ".join(statement.split()))

    sa.event.listen(engine, "before_cursor_execute", note)
    try:
        result = refresh_targets(engine, "ac", keyring, [Target("vms", item["id"])])
    finally:
        sa.event.remove(engine, "before_cursor_execute", note)
    assert result.ok
    flavor_reads = [s for s in statements if s.startswith("SELECT") and "FROM flavors" in s]
    assert flavor_reads and all("flavors.ems_ref =" in s for s in flavor_reads), flavor_reads
    with engine.connect() as conn:
        got = conn.execute(
            sa.text("select f.ems_ref from vms v join flavors f on f.id = v.flavor_id "
                    "where v.ems_ref = :r"), {"r": item["id"]},
        ).scalar()  # fmt: skip
    assert got == item["flavor"]
