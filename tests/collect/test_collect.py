"""Collecting from the simulator: pages, fan-out, skips, fallbacks, `when`, every fault."""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from miqspec.collect.runner import CollectResult, collect, needed_calls
from miqspec.connect.pagination import PaginationError
from miqspec.connect.session import ProviderSession
from miqspec.errors import ApiError, CredentialsError, UnreachableError
from miqspec.simulator import Simulator
from miqspec.spec.model import Spec

from ..connect.test_connect import FAST_RETRY, SIM_LOGIN, sim_args, write_spec
from ..connect.test_http import Answer, ScriptServer, Seen

PAGE = 3  # the spec's page size (settings.page_size)


def listing(path: str) -> dict[str, Any]:
    return {
        "path": path,
        "query": {"limit": "{{ settings.page_size }}"},
        "records": "items",
        "paginate": {"type": "cursor", "cursor": "next_token", "param": "next_token"},
    }


CALLS: dict[str, Any] = {
    "list_regions": {"path": "/regions", "records": "regions"},
    "get_availability_zones": {"path": "/availability_zones", "records": "items"},
    "get_instance_types": listing("/instance_types"),
    "get_images": listing("/images"),
    "get_instances": listing("/instances"),
}
LISTS = {"get_instance_types": "flavors", "get_images": "images", "get_instances": "instances"}


def spec_with(tmp_path: Path, **calls: Any) -> Spec:
    return write_spec(
        tmp_path,
        auth=SIM_LOGIN,
        calls={**CALLS, **calls},
        settings={"page_size": PAGE, "with_images": True},
    )


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(instances=13, flavors=9, images=7, page_size=5) as s:
        yield s


@pytest.fixture
def spec(tmp_path: Path) -> Spec:
    return spec_with(tmp_path)


def run(spec: Spec, sim: Simulator, roots: list[str], **args: Any) -> CollectResult:
    session = ProviderSession(spec, {**sim_args(sim), **args})
    try:
        return collect(session, roots)
    finally:
        session.close()


def ids(records: list[Any]) -> list[str]:
    return [r["id"] for r in records]


# -- plain lists -----------------------------------------------------------------------------


def test_every_page_of_every_list_is_collected_once(spec, sim):
    seen: list[tuple[str, int, int]] = []
    session = ProviderSession(spec, sim_args(sim))
    try:
        result = collect(
            session,
            [*LISTS, "get_availability_zones", "list_regions"],
            progress=lambda name, pages, n: seen.append((name, pages, n)),
        )
    finally:
        session.close()
    stats = sim.stats()
    for call, attr in LISTS.items():
        expected = getattr(sim.data, attr)
        res = result.calls[call]
        assert ids(res.records) == ids(expected)
        assert (res.complete, res.status, res.parents) == (True, "ok", None)
        assert res.pages == res.requests == math.ceil(len(expected) / PAGE)
        assert stats[spec.calls[call].path.text.replace("/", "/v1/", 1)] == res.pages
        assert [p for name, p, _ in seen if name == call] == list(range(1, res.pages + 1))
    assert result.calls["get_availability_zones"].records == sim.data.availability_zones
    assert result.calls["list_regions"].records == sim.data.regions
    assert stats["/v1/auth/tokens"] == 1
    assert result.seconds > 0


def test_calls_run_once_and_parents_first(tmp_path):
    spec = spec_with(
        tmp_path,
        per_zone={
            "path": "/regions",
            "records": "regions",
            "for_each": {"call": "get_availability_zones"},
        },
    )
    assert needed_calls(spec, ["per_zone", "get_availability_zones", "get_images"]) == [
        "get_availability_zones",
        "per_zone",
        "get_images",
    ]


# -- fan-out ------------------------------------------------------------------------------------

FAN_OUT = {
    "zones_per_flavor": {
        # m5 and c5 flavors find their zones; the others ask for a path that 404s
        "path": "{{ '/availability_zones' if parent.name.startswith(('m5', 'c5')) "
        "else '/nothing/' ~ parent.id }}",
        "records": "items",
        "for_each": {
            "call": "get_instance_types",
            "where": "!starts_with(name, 't3')",
            "concurrency": 3,
        },
        "skip_on": [404],
    },
}


def test_fan_out_joins_records_to_parents_in_order_and_marks_skips(tmp_path, sim):
    spec = spec_with(tmp_path, **FAN_OUT)
    result = run(spec, sim, ["zones_per_flavor"])
    flavors = [f for f in sim.data.flavors if not f["name"].startswith("t3")]
    found = [f for f in flavors if f["name"].startswith(("m5", "c5"))]
    assert found and len(found) < len(flavors)  # the data has both kinds
    zones = sim.data.availability_zones
    res = result.calls["zones_per_flavor"]
    assert res.parents == [f for f in found for _ in zones]
    assert res.records == zones * len(found)
    assert (res.complete, res.status) == (False, "partly skipped (404)")
    assert res.requests == len(flavors)
    stats = sim.stats()
    assert stats["/v1/availability_zones"] == len(found)
    assert result.calls["get_instance_types"].complete  # the parent list ran once, first
    assert stats["/v1/instance_types"] == result.calls["get_instance_types"].pages


def test_fan_out_without_skips_is_complete(tmp_path, sim):
    spec = spec_with(
        tmp_path,
        images_per_zone={**listing("/images"), "for_each": {"call": "get_availability_zones"}},
    )
    res = run(spec, sim, ["images_per_zone"]).calls["images_per_zone"]
    zones = sim.data.availability_zones
    assert res.complete and res.status == "ok"
    assert ids(res.records) == ids(sim.data.images) * len(zones)
    assert ids(res.parents or []) == [z["id"] for z in zones for _ in sim.data.images]


def test_fan_out_runs_with_bounded_concurrency(tmp_path):
    inflight, peak, lock = [0], [0], threading.Lock()

    def script(req: Seen, n: int) -> Answer:
        if req.path == "/parents":
            return Answer(200, [{"id": i} for i in range(9)])
        with lock:
            inflight[0] += 1
            peak[0] = max(peak[0], inflight[0])
        time.sleep(0.05)
        with lock:
            inflight[0] -= 1
        return Answer(200, {"id": req.path.rsplit("/", 1)[1]})

    with ScriptServer(script) as srv:
        spec = write_spec(
            tmp_path,
            calls={
                "parents": {"path": "/parents"},
                "detail": {
                    "path": "/detail/{{ parent.id }}",
                    "for_each": {"call": "parents", "concurrency": 3},
                },
            },
        )
        session = ProviderSession(spec, {"endpoints": {"default": {"url": srv.url}}})
        try:
            started = time.perf_counter()
            res = collect(session, ["detail"]).calls["detail"]
            elapsed = time.perf_counter() - started
        finally:
            session.close()
    assert [r["id"] for r in res.records] == [str(i) for i in range(9)]
    assert res.parents == [{"id": i} for i in range(9)]
    assert 2 <= peak[0] <= 3
    assert elapsed < 9 * 0.05  # faster than one at a time


def test_a_failing_fan_out_stops_sending_requests(tmp_path):
    def script(req: Seen, n: int) -> Answer:
        if req.path == "/parents":
            return Answer(200, [{"id": i} for i in range(20)])
        return Answer(500)

    with ScriptServer(script) as srv:
        spec = write_spec(
            tmp_path,
            calls={
                "parents": {"path": "/parents"},
                "detail": {
                    "path": "/detail/{{ parent.id }}",
                    "for_each": {"call": "parents", "concurrency": 1},
                },
            },
        )
        session = ProviderSession(spec, {"endpoints": {"default": {"url": srv.url}}})
        try:
            with pytest.raises(ApiError, match=r"^detail: GET .*/detail/0 answered 500"):
                collect(session, ["detail"])
        finally:
            session.close()
    details = [p for p in srv.paths if p.startswith("/detail/")]
    assert len(details) <= 2 * FAST_RETRY["attempts"]  # not 20 parents x attempts


# -- skip_on, fallback, when -------------------------------------------------------------------


def test_skip_on_a_whole_call(tmp_path, sim):
    spec = spec_with(tmp_path, gone={"path": "/gone", "skip_on": [404]})
    res = run(spec, sim, ["gone"]).calls["gone"]
    assert (res.records, res.complete, res.status) == ([], False, "skipped (404)")


def test_skip_on_a_retryable_status_is_not_retried(tmp_path, sim):
    spec = spec_with(tmp_path, flaky={**listing("/images"), "skip_on": [503]})
    sim.set_faults(fail_always_status=503, path="/images")
    res = run(spec, sim, ["flaky"]).calls["flaky"]
    assert (res.complete, res.status) == (False, "skipped (503)")
    assert sim.stats()["/v1/images"] == 1


def test_fallback_to_another_call_on_a_status(tmp_path, sim):
    spec = spec_with(
        tmp_path,
        get_instances_v2={
            "path": "/v2/instances",
            "records": "items",
            "fallback": {"call": "get_instances", "on": [404]},
        },
    )
    result = run(spec, sim, ["get_instances_v2"])
    res = result.calls["get_instances_v2"]
    assert ids(res.records) == ids(sim.data.instances)
    assert (res.complete, res.status) == (True, "fallback to get_instances")
    assert result.calls["get_instances"].complete


def test_fallback_of_a_fan_out_call(tmp_path, sim):
    spec = spec_with(
        tmp_path,
        instances_by_zone={
            "path": "/zones/{{ parent.id }}/instances",
            "records": "items",
            "for_each": {"call": "get_availability_zones"},
            "fallback": {"call": "get_instances", "on": [404]},
        },
    )
    res = run(spec, sim, ["instances_by_zone"]).calls["instances_by_zone"]
    assert ids(res.records) == ids(sim.data.instances)
    assert res.status == "fallback to get_instances"


def test_fallback_not_taken_for_other_statuses(tmp_path, sim):
    spec = spec_with(
        tmp_path, v2={"path": "/v2/instances", "fallback": {"call": "get_instances", "on": [501]}}
    )
    with pytest.raises(ApiError, match=r"^v2: GET .*/v2/instances answered 404"):
        run(spec, sim, ["v2"])
    assert "/v1/instances" not in sim.stats()


@pytest.mark.parametrize(("with_images", "runs"), [(False, False), (True, True)])
def test_when(tmp_path, sim, with_images: bool, runs: bool):
    spec = spec_with(tmp_path, images={**listing("/images"), "when": "{{ settings.with_images }}"})
    res = run(spec, sim, ["images"], settings={"with_images": with_images}).calls["images"]
    assert res.complete is runs
    assert ("/v1/images" in sim.stats()) is runs
    if runs:
        assert ids(res.records) == ids(sim.data.images)
    else:
        assert (res.records, res.status) == ([], "disabled (when)")


# -- faults ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fault",
    [
        {"http_429": 2, "retry_after": 0.01},
        {"http_5xx": 2},
        {"drop_connection": 2},
        {"malformed_json": 2},
        {"truncated_json": 2},
        {"http_429": 1, "http_5xx": 1, "retry_after": 0},
    ],
)
def test_faults_recover_within_retry_attempts(spec, sim, fault: dict[str, Any]):
    assert FAST_RETRY["attempts"] > 2
    sim.set_faults(path="/v1/instances", **fault)
    res = run(spec, sim, ["get_instances"]).calls["get_instances"]
    assert ids(res.records) == ids(sim.data.instances)
    assert res.complete
    assert sim.stats()["/v1/instances"] == res.pages + 2


def test_endless_pages_raise_pagination_error(spec, sim):
    sim.set_faults(endless_pages=True, path="/images")
    with pytest.raises(PaginationError, match=r"^get_images: pagination repeated"):
        run(spec, sim, ["get_images"])
    assert sim.stats()["/v1/images"] == 2


def test_max_pages_bounds_a_list(tmp_path, sim):
    spec = spec_with(
        tmp_path,
        few={**listing("/instances"), "paginate": {**listing("")["paginate"], "max_pages": 2}},
    )
    with pytest.raises(PaginationError, match=r"^few: more than max_pages=2"):
        run(spec, sim, ["few"])


def test_a_status_that_never_recovers_names_the_call(spec, sim):
    sim.set_faults(fail_always_status=500, path="/instances")
    with pytest.raises(ApiError, match=r"^get_instances: GET .*/v1/instances answered 500") as e:
        run(spec, sim, ["get_instances"])
    assert e.value.exit_code == 5
    assert sim.stats()["/v1/instances"] == FAST_RETRY["attempts"]
    assert sim.options.secret_key not in str(e.value)


def test_malformed_json_that_never_recovers_names_the_call(spec, sim):
    sim.set_faults(malformed_json=100, path="/regions")
    with pytest.raises(ApiError, match=r"^list_regions: GET .* not valid JSON"):
        run(spec, sim, ["list_regions"])


def test_forbidden_is_invalid_credentials_naming_the_call(spec, sim):
    sim.set_faults(fail_always_status=403, path="/regions")
    with pytest.raises(CredentialsError, match=r"invalid credentials: list_regions: GET"):
        run(spec, sim, ["list_regions"])


def test_revoked_token_mid_collection_recovers(spec, sim):
    session = ProviderSession(spec, sim_args(sim))
    try:
        first = collect(session, ["get_images"]).calls["get_images"]
        sim.revoke_tokens()
        again = collect(session, ["get_images"]).calls["get_images"]
    finally:
        session.close()
    assert ids(first.records) == ids(again.records) == ids(sim.data.images)
    assert sim.stats()["/v1/auth/tokens"] == 2


def test_text_format_call_is_not_decoded(tmp_path, sim):
    spec = spec_with(tmp_path, raw_regions={"path": "/regions", "format": "text"})
    sim.set_faults(malformed_json=1, path="/regions")
    res = run(spec, sim, ["raw_regions", "list_regions"]).calls
    assert res["raw_regions"].records[0].startswith("<html>")  # not retried: text is text
    assert res["list_regions"].records == sim.data.regions
    plain = run(spec, sim, ["raw_regions"]).calls["raw_regions"]
    assert json.loads(plain.records[0]) == {"regions": sim.data.regions}


def test_call_timeout_overrides_the_connection_timeout(tmp_path):
    def script(req: Seen, n: int) -> Answer:
        return Answer(200, [], delay=1.0 if req.path == "/slow" else 0.3)

    with ScriptServer(script) as srv:
        spec = write_spec(
            tmp_path,
            calls={"slow": {"path": "/slow", "timeout": 0.2}, "patient": {"path": "/patient"}},
            connection={"retry": {"attempts": 1}},
        )
        session = ProviderSession(spec, {"endpoints": {"default": {"url": srv.url}}})
        try:
            assert collect(session, ["patient"]).calls["patient"].complete  # 0.3 s < 5 s
            with pytest.raises(UnreachableError, match=r"^slow: timed out talking to"):
                collect(session, ["slow"])
        finally:
            session.close()
