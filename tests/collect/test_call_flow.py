"""Nested fan-out (``for_each.each``), per-item fallback (``item_fallback``), ``$calls`` in a
fan-out's ``where``, ``records`` reading ``$parent``, and polling (``poll``), each against a
real HTTP server on 127.0.0.1 and, for polling, replayed from a cassette without waiting."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from miqspec.collect import collect
from miqspec.connect import Cassette, HttpClient, RecordingAdapter, ReplayAdapter
from miqspec.connect.session import ProviderSession
from miqspec.errors import ApiError, UnreachableError
from miqspec.parse import parse
from miqspec.spec.load import load_spec

from ..connect.test_connect import session_for, write_spec
from ..connect.test_http import Answer, ScriptServer, Seen

INSTANCES = [
    {"id": "i1", "attached_disks": [{"id": "d1"}, {"id": "d2"}], "image": "img-a"},
    {"id": "i2", "attached_disks": [{"id": "d3"}], "image": "img-pub"},
    {"id": "i3", "attached_disks": [], "image": "img-gone"},
]
PRIVATE_IMAGES = {"img-a"}
PUBLIC_IMAGES = {"img-pub"}


def cloud(req: Seen, n: int) -> Answer:
    path = urlsplit(req.path).path
    if path == "/instances":
        return Answer(200, {"items": INSTANCES})
    if path.startswith("/disks/"):
        disk = path.rsplit("/", 1)[1]
        return Answer(200, {"disk": {"id": disk, "size": int(disk[1:]) * 10}})
    if path.startswith("/images/"):
        image = path.rsplit("/", 1)[1]
        if image in PRIVATE_IMAGES:
            return Answer(200, {"id": image, "kind": "private"})
        return Answer(404, {"error": "not found"})
    if path.startswith("/public-images/"):
        image = path.rsplit("/", 1)[1]
        if image in PUBLIC_IMAGES:
            return Answer(200, {"image": {"id": image, "kind": "public"}})
        return Answer(404, {"error": "not found"})
    if path == "/zones":
        return Answer(200, {"zones": [{"name": "z1", "enabled": True}]})
    return Answer(404, {})


def args_for(srv: ScriptServer) -> dict[str, Any]:
    return {"endpoints": {"default": {"url": srv.url}}}


def run(spec: Any, srv: ScriptServer, roots: list[str]) -> Any:
    for s in session_for(spec, args_for(srv)):
        return collect(s, roots)
    raise AssertionError("no session")


def test_one_call_per_nested_item_of_each_record(tmp_path: Path) -> None:
    calls = {
        "get_instances": {"path": "/instances", "records": "items"},
        "get_disks": {
            "path": "/disks/{{ parent.id }}",
            "for_each": {"call": "get_instances", "each": "attached_disks"},
            "records": "disk",
            "where": "$ancestors[1].id != 'nope'",
        },
    }
    spec = write_spec(tmp_path, calls=calls)
    with ScriptServer(cloud) as srv:
        result = run(spec, srv, ["get_disks"])
    disks = result.calls["get_disks"]
    assert [d["id"] for d in disks.records] == ["d1", "d2", "d3"]
    # the item is the parent; the instance encloses it
    assert [p["id"] for p in disks.parents] == ["d1", "d2", "d3"]
    assert [chain[1]["id"] for chain in disks.ancestors] == ["i1", "i1", "i2"]
    assert disks.requests == 3


def test_each_levels_and_where_on_the_items(tmp_path: Path) -> None:
    calls = {
        "get_instances": {"path": "/instances", "records": "items"},
        "get_disks": {
            "path": "/disks/{{ parent }}",
            "for_each": {
                "call": "get_instances",
                "each": ["attached_disks", "id"],  # two levels: the disks, then each id
                "where": "@ != 'd2' && $ancestors[1].id == 'i1'",
            },
            "records": "disk",
        },
    }
    spec = write_spec(tmp_path, calls=calls)
    with ScriptServer(cloud) as srv:
        result = run(spec, srv, ["get_disks"])
    assert [d["id"] for d in result.calls["get_disks"].records] == ["d1"]
    assert srv.paths == ["/instances", "/disks/d1"]


def test_a_404_item_is_fetched_from_the_fallback_endpoint_alone(tmp_path: Path) -> None:
    calls = {
        "get_instances": {"path": "/instances", "records": "items"},
        "get_image": {
            "path": "/images/{{ parent.image }}",
            "for_each": {"call": "get_instances"},
            "skip_on": [404],
            "item_fallback": {
                "on": [404],
                "path": "/public-images/{{ parent.image }}",
                "records": "image",
            },
        },
    }
    spec = write_spec(tmp_path, calls=calls)
    with ScriptServer(cloud) as srv:
        result = run(spec, srv, ["get_image"])
    got = result.calls["get_image"]
    assert [(r["id"], r["kind"]) for r in got.records] == [
        ("img-a", "private"),
        ("img-pub", "public"),
    ]
    assert [p["id"] for p in got.parents] == ["i1", "i2"]
    # img-gone: 404 from both: the fallback's 404 is skipped (skip_on), the call incomplete
    assert got.complete is False and got.status == "partly skipped (404)"
    assert srv.paths.count("/images/img-a") == 1
    assert "/public-images/img-a" not in srv.paths
    assert srv.paths.count("/public-images/img-pub") == 1


def test_a_fallback_failure_without_skip_on_fails_the_call(tmp_path: Path) -> None:
    calls = {
        "get_instances": {"path": "/instances", "records": "items"},
        "get_image": {
            "path": "/images/{{ parent.image }}",
            "for_each": {"call": "get_instances", "concurrency": 1},
            "item_fallback": {"path": "/public-images/{{ parent.image }}"},
        },
    }
    spec = write_spec(tmp_path, calls=calls)
    with ScriptServer(cloud) as srv, pytest.raises(ApiError) as err:
        run(spec, srv, ["get_image"])
    assert "get_image: GET" in str(err.value) and "/public-images/img-gone" in str(err.value)
    assert "answered 404" in str(err.value)


def test_calls_in_a_fan_out_where_and_records_reading_parent(tmp_path: Path) -> None:
    calls = {
        "get_instances": {"path": "/instances", "records": "items"},
        "get_zones": {"path": "/zones", "records": "zones"},
        "get_disks": {
            "path": "/disks/{{ parent.id }}",
            "for_each": {
                "call": "get_instances",
                "where": "contains($calls.get_zones[?enabled].name, 'z1') && $parent.id == 'i2'",
                "each": "attached_disks",
            },
            "records": "[disk.{id: id, size: size, vm: $ancestors[1].id, of: $parent.id}]",
        },
    }
    spec = write_spec(tmp_path, calls=calls)
    with ScriptServer(cloud) as srv:
        result = run(spec, srv, ["get_disks"])
    # get_zones ran first, although only the where reads it
    assert srv.paths[:2] == ["/instances", "/zones"] or srv.paths[:2] == ["/zones", "/instances"]
    assert result.calls["get_disks"].records == [{"id": "d3", "size": 30, "vm": "i2", "of": "d3"}]


# -- polling -------------------------------------------------------------------------------


class Jobs:
    """PUT /jobs makes a job; GET /jobs/<id> says "running" ``polls`` times, then "done";
    DELETE /jobs/<id> answers 204."""

    def __init__(self, polls: int) -> None:
        self.polls = polls
        self.seen: dict[str, int] = {}
        self.lock = threading.Lock()

    def __call__(self, req: Seen, n: int) -> Answer:
        path = urlsplit(req.path).path
        if req.method == "PUT" and path == "/jobs":
            return Answer(200, {"job": {"id": "j1", "state": "queued"}})
        if req.method == "GET" and path == "/jobs/j1":
            with self.lock:
                count = self.seen["j1"] = self.seen.get("j1", 0) + 1
            state = "done" if count > self.polls else "running"
            result = [{"name": "vm1"}, {"name": "vm2"}] if state == "done" else None
            return Answer(200, {"job": {"id": "j1", "state": state, "result": result}})
        if req.method == "DELETE" and path == "/jobs/j1":
            return Answer(204, b"")
        return Answer(404, {})


JOB_CALLS: dict[str, Any] = {
    "start_job": {"method": "PUT", "path": "/jobs", "records": "job"},
    "wait_job": {
        "path": "/jobs/{{ parent.id }}",
        "for_each": {"call": "start_job"},
        "poll": {
            "until": "job.state == 'done' || job.state == 'failed'",
            "interval": 0.5,
            "backoff": 2,
            "max_interval": 1.5,
            "deadline": 10,
        },
        "records": "job.result",
    },
    "drop_job": {
        "method": "DELETE",
        "path": "/jobs/{{ ancestors[1].id }}",
        "for_each": {"call": "wait_job"},
    },
}


def test_poll_until_done_with_backoff(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, calls=JOB_CALLS)
    waits: list[float] = []
    with ScriptServer(Jobs(polls=3)) as srv:
        s = ProviderSession(spec, args_for(srv), HttpClient(sleep=waits.append))
        try:
            result = collect(s, ["drop_job"])
        finally:
            s.close()
    assert [r["name"] for r in result.calls["wait_job"].records] == ["vm1", "vm2"]
    assert result.calls["wait_job"].requests == 4
    assert waits == [0.5, 1.0, 1.5]  # doubled, capped at max_interval
    assert [(s.method, s.path) for s in srv.seen][-1] == ("DELETE", "/jobs/j1")


def test_poll_gives_up_at_its_deadline(tmp_path: Path) -> None:
    calls = json.loads(json.dumps(JOB_CALLS))
    calls["wait_job"]["poll"] = {"until": "job.state == 'done'", "interval": 1, "deadline": 3}
    spec = write_spec(tmp_path, calls=calls)
    waits: list[float] = []
    with ScriptServer(Jobs(polls=100)) as srv:
        s = ProviderSession(spec, args_for(srv), HttpClient(sleep=waits.append))
        try:
            with pytest.raises(ApiError) as err:
                collect(s, ["wait_job"])
        finally:
            s.close()
    assert waits == [1.0, 1.0, 1.0]
    assert "did not hold within 3 s (4 request(s))" in str(err.value)
    assert str(err.value).startswith("wait_job: ")


def test_a_recorded_poll_replays_without_waiting(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, calls=JOB_CALLS)
    cassette = tmp_path / "jobs.yml"
    with ScriptServer(Jobs(polls=2)) as srv:
        recorder = RecordingAdapter(str(cassette), secrets={})
        client = HttpClient(adapter=recorder, sleep=lambda w: None)
        s = ProviderSession(spec, args_for(srv), client)
        try:
            live = collect(s, ["drop_job"])
        finally:
            s.close()
        url = srv.url
    assert cassette.exists()
    slept: list[float] = []
    replay = ReplayAdapter(Cassette.load(cassette))
    client = HttpClient(adapter=replay, sleep=slept.append)
    s = ProviderSession(spec, {"endpoints": {"default": {"url": url}}}, client)
    try:
        again = collect(s, ["drop_job"])
    finally:
        s.close()
    assert slept == []
    assert again.calls["wait_job"].records == live.calls["wait_job"].records
    assert replay.unused() == []


def test_poll_until_reads_parent(tmp_path: Path) -> None:
    calls = json.loads(json.dumps(JOB_CALLS))
    calls["wait_job"]["poll"] = {"until": "job.id == $parent.id && job.state == 'done'"}
    spec = write_spec(tmp_path, calls=calls)
    with ScriptServer(Jobs(polls=0)) as srv:
        result = run(spec, srv, ["wait_job"])
    assert len(result.calls["wait_job"].records) == 2


def test_an_item_fallback_on_403_is_an_answer_not_invalid_credentials(tmp_path: Path) -> None:
    def script(req: Seen, n: int) -> Answer:
        path = urlsplit(req.path).path
        if path == "/instances":
            return Answer(200, {"items": INSTANCES[:2]})
        if path == "/images/img-a":
            return Answer(200, {"id": "img-a"})
        if path.startswith("/images/"):
            return Answer(403, {"error": "not yours"})
        return Answer(200, {"id": path.rsplit("/", 1)[1], "public": True})

    calls = {
        "get_instances": {"path": "/instances", "records": "items"},
        "get_image": {
            "path": "/images/{{ parent.image }}",
            "for_each": {"call": "get_instances"},
            "item_fallback": {"on": [403], "path": "/public-images/{{ parent.image }}"},
        },
    }
    spec = write_spec(tmp_path, calls=calls)
    with ScriptServer(script) as srv:
        result = run(spec, srv, ["get_image"])
    assert result.calls["get_image"].records == [{"id": "img-a"}, {"id": "img-pub", "public": True}]
    assert result.calls["get_image"].status == "ok"


def test_a_poll_never_waits_past_the_refresh_deadline(tmp_path: Path) -> None:
    calls = json.loads(json.dumps(JOB_CALLS))
    calls["wait_job"]["poll"] = {"until": "job.state == 'done'", "interval": 30, "deadline": 600}
    spec = write_spec(tmp_path, calls=calls, connection={"refresh_deadline": 5})
    waits: list[float] = []
    with ScriptServer(Jobs(polls=100)) as srv:
        s = ProviderSession(spec, args_for(srv), HttpClient(sleep=waits.append))
        try:
            with pytest.raises(UnreachableError) as err:
                collect(s, ["wait_job"])
        finally:
            s.close()
    assert waits == []
    assert str(err.value) == "wait_job: the requests of this refresh ran past 5 s in all"


def test_mappings_of_a_nested_fan_out_read_the_item_and_the_record(tmp_path: Path) -> None:
    data = {
        "version": 1,
        "provider": {"name": "testcloud", "title": "Test Cloud", "manager_type": "cloud"},
        "form": {
            "fields": [{"component": "text-field", "name": "endpoints.default.url", "label": "U"}]
        },
        "connection": {"services": {"api": {"base_url": "{{ endpoints.default.url }}"}}},
        "calls": {
            "get_instances": {"path": "/instances", "records": "items"},
            "get_disks": {
                "path": "/disks/{{ parent.id }}",
                "for_each": {"call": "get_instances", "each": "attached_disks"},
                "records": "disk",
            },
        },
        "collections": {
            "cloud_volumes": {
                "from": "get_disks",
                "attributes": {
                    "ems_ref": "id",
                    "name": "join(' on ', [$parent.id, $ancestors[1].id])",
                    "size": "size",
                },
            }
        },
    }
    path = tmp_path / "nested.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    spec = load_spec(str(path))
    with ScriptServer(cloud) as srv:
        for s in session_for(spec, args_for(srv)):
            inventory = parse(spec, collect(s, ["get_disks"]), context=s.ctx)
    got = sorted(
        (o.data["name"], o.data["size"]) for o in inventory.objects["cloud_volumes"].values()
    )
    assert got == [("d1 on i1", 10), ("d2 on i1", 20), ("d3 on i2", 30)]
