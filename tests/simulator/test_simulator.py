"""Tests of the bundled Awesome Cloud simulator, over real HTTP on 127.0.0.1."""

from __future__ import annotations

import http.client
import json
import re
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from miqspec.errors import UsageError
from miqspec.simulator import FaultRule, Simulator, SimulatorOptions, run_forever
from miqspec.simulator.data import namespace_for

CREDS = {"access_key": "AKIA-SIM", "secret_key": "sim-secret"}
COLLECTIONS = {"instance_types": "flavors", "images": "images", "instances": "instances"}


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(instances=23, flavors=4, images=9, seed=7) as simulator:
        yield simulator


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as s:
        yield s


def login(session: requests.Session, url: str) -> str:
    response = session.post(f"{url}/auth/tokens", json=CREDS)
    assert response.status_code == 200, response.text
    token = response.json()["token"]
    session.headers["Authorization"] = f"Bearer {token}"
    return str(token)


def walk(session: requests.Session, url: str, name: str, limit: int | None = None) -> list[Any]:
    items: list[Any] = []
    token = None
    for _ in range(10_000):
        params: dict[str, Any] = {} if limit is None else {"limit": limit}
        if token:
            params["next_token"] = token
        response = session.get(f"{url}/{name}", params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        items.extend(body["items"])
        token = body["next_token"]
        if token is None:
            return items
    raise AssertionError("pagination did not end")


def control(sim: Simulator, action: str, body: Any = None) -> requests.Response:
    with requests.Session() as s:
        if body is None and action == "stats":
            return s.get(f"{sim.control_url}/{action}")
        return s.post(f"{sim.control_url}/{action}", json=body if body is not None else {})


# -- auth -----------------------------------------------------------------------------------


def test_login_issues_a_token_that_opens_the_api(sim: Simulator, session: requests.Session):
    response = session.post(f"{sim.url}/auth/tokens", json=CREDS)
    assert response.status_code == 200
    assert response.json()["expires_in"] == 3600
    assert sim.url.endswith("/v1") and sim.url.startswith("http://127.0.0.1:")
    session.headers["Authorization"] = f"Bearer {response.json()['token']}"
    assert session.get(f"{sim.url}/regions").json() == {
        "regions": [
            {
                "name": "us-east-1",
                "hostname": "us-east-1.awesome.cloud",
                "description": "US East 1",
            }
        ]
    }
    zones = session.get(f"{sim.url}/availability_zones").json()
    assert [z["id"] for z in zones["items"]] == ["us-east-1a", "us-east-1b", "us-east-1c"]
    assert all(z["state"] == "available" and z["name"] == z["id"] for z in zones["items"])


@pytest.mark.parametrize(
    "body",
    [
        {"access_key": "AKIA-SIM", "secret_key": "wrong"},
        {"access_key": "wrong", "secret_key": "sim-secret"},
        {"access_key": "AKIA-SIM"},
        {},
        None,
    ],
)
def test_login_refuses_a_wrong_or_missing_pair(sim: Simulator, session, body):
    response = session.post(f"{sim.url}/auth/tokens", json=body)
    assert response.status_code == 401
    assert response.json() == {"error": "invalid credentials"}


def test_login_refuses_a_body_that_is_not_json(sim: Simulator, session):
    response = session.post(f"{sim.url}/auth/tokens", data=b"access_key=AKIA-SIM")
    assert response.status_code == 401


@pytest.mark.parametrize("header", [None, "Bearer nope", "Basic QUtJQS1TSU06c2ltLXNlY3JldA=="])
def test_api_calls_need_an_issued_bearer_token(sim: Simulator, session, header):
    if header:
        session.headers["Authorization"] = header
    for path in ("/regions", "/availability_zones", "/instances", "/images", "/instance_types"):
        response = session.get(sim.url + path)
        assert response.status_code == 401, path
        assert "error" in response.json()


def test_tokens_expire_after_token_ttl(session):
    with Simulator(instances=2, token_ttl=0.2) as sim:
        first = session.post(f"{sim.url}/auth/tokens", json=CREDS).json()
        assert first["expires_in"] == 0.2
        login(session, sim.url)
        assert session.get(f"{sim.url}/instances").status_code == 200
        time.sleep(0.25)
        assert session.get(f"{sim.url}/instances").status_code == 401
        login(session, sim.url)
        assert session.get(f"{sim.url}/instances").status_code == 200


def test_revoking_tokens_forces_a_new_login(sim: Simulator, session):
    login(session, sim.url)
    assert control(sim, "revoke_tokens").json() == {"revoked": 1}
    assert session.get(f"{sim.url}/instances").status_code == 401
    login(session, sim.url)
    assert session.get(f"{sim.url}/instances").status_code == 200
    assert sim.revoke_tokens() == 1
    assert session.get(f"{sim.url}/instances").status_code == 401


def test_custom_credentials(session):
    with Simulator(access_key="me", secret_key="s3cret!") as sim:
        bad = session.post(f"{sim.url}/auth/tokens", json=CREDS)
        good = session.post(
            f"{sim.url}/auth/tokens", json={"access_key": "me", "secret_key": "s3cret!"}
        )
        assert (bad.status_code, good.status_code) == (401, 200)
    assert "s3cret!" not in repr(sim.options)


# -- data and pagination --------------------------------------------------------------------


@pytest.mark.parametrize("limit", [1, 4, 7, 23, 1000, None])
def test_pagination_walks_every_item_once(sim: Simulator, session, limit):
    login(session, sim.url)
    data = sim.data
    for name, attribute in COLLECTIONS.items():
        items = walk(session, sim.url, name, limit)
        assert items == getattr(data, attribute)
        assert len({item["id"] for item in items}) == len(items)


def test_items_have_the_documented_shape(sim: Simulator, session):
    login(session, sim.url)
    flavors = walk(session, sim.url, "instance_types")
    images = walk(session, sim.url, "images")
    instances = walk(session, sim.url, "instances")
    assert {tuple(f) for f in flavors} == {("id", "name", "n_cpus", "ram", "disk_size")}
    assert all(isinstance(f["ram"], int) and f["ram"] > 0 for f in flavors)
    assert {i["os"] for i in images} <= {"linux", "windows"}
    assert all(isinstance(i["public"], bool) and i["created_at"].endswith("Z") for i in images)
    flavor_ids, image_ids = {f["id"] for f in flavors}, {i["id"] for i in images}
    zones = {"us-east-1a", "us-east-1b", "us-east-1c"}
    for vm in instances:
        assert set(vm) == {
            "id", "name", "availability_zone", "power_state", "flavor", "image",
            "private_ip", "public_ip", "created_at",
        }  # fmt: skip
        assert vm["availability_zone"] in zones
        assert vm["power_state"] in {"running", "stopped", "suspended"}
        assert vm["flavor"] in flavor_ids and vm["image"] in image_ids
        assert vm["private_ip"].startswith("10.")
    assert len({vm["private_ip"] for vm in instances}) == len(instances)


def test_limit_is_capped_at_1000_and_defaults_to_page_size(session):
    with Simulator(instances=2345, flavors=1, images=1, page_size=300) as sim:
        login(session, sim.url)
        assert len(session.get(f"{sim.url}/instances").json()["items"]) == 300
        body = session.get(f"{sim.url}/instances", params={"limit": 5000}).json()
        assert len(body["items"]) == 1000 and body["next_token"]
        assert len(walk(session, sim.url, "instances", 5000)) == 2345
    with Simulator(instances=1500, page_size=4000) as sim:
        login(session, sim.url)
        assert len(session.get(f"{sim.url}/instances").json()["items"]) == 1000


@pytest.mark.parametrize(
    "params",
    [{"limit": 0}, {"limit": "ten"}, {"next_token": "garbage!"}, {"next_token": "aW1hZ2VzOjM"}],
)
def test_bad_paging_parameters_are_400(sim: Simulator, session, params):
    login(session, sim.url)
    response = session.get(f"{sim.url}/instances", params=params)
    assert response.status_code == 400
    assert "error" in response.json()


def test_unknown_paths_and_methods(sim: Simulator, session):
    login(session, sim.url)
    assert session.get(f"{sim.url}/volumes").status_code == 404
    assert session.get(sim.url[: -len("/v1")] + "/instances").status_code == 404
    assert session.delete(f"{sim.url}/instances").status_code == 405
    assert session.get(f"{sim.url}/auth/tokens").status_code == 405
    assert session.get(f"{sim.control_url}/nothing").status_code == 404


def test_same_seed_same_data_other_seed_other_ids():
    one = Simulator(instances=50, flavors=6, images=8, seed=3).data
    two = Simulator(instances=50, flavors=6, images=8, seed=3).data
    other = Simulator(instances=50, flavors=6, images=8, seed=4).data
    assert one == two
    assert {vm["id"] for vm in one.instances}.isdisjoint(vm["id"] for vm in other.instances)
    assert one.instances[5]["id"] == str(uuid.uuid5(namespace_for(3), "instance/5"))
    assert one.flavors[2]["id"] == str(uuid.uuid5(namespace_for(3), "instance_type/2"))


def test_large_sizes_have_unique_ids_and_names():
    data = Simulator(instances=3000, flavors=1000, images=2000).data
    for items in (data.instances, data.flavors, data.images):
        assert len({i["id"] for i in items}) == len(items)
        assert len({i["name"] for i in items}) == len(items)


# -- mutations ------------------------------------------------------------------------------


def test_mutate_changes_what_later_pages_show(sim: Simulator, session):
    login(session, sim.url)
    before = {vm["id"]: vm for vm in walk(session, sim.url, "instances", 5)}
    flavors_before = {f["id"] for f in walk(session, sim.url, "instance_types")}
    result = sim.mutate(add=3, change=4, remove=2, remove_flavors=1)
    assert [len(result[k]) for k in ("added", "changed", "removed", "removed_flavors")] == [
        3, 4, 2, 1,
    ]  # fmt: skip
    after = {vm["id"]: vm for vm in walk(session, sim.url, "instances", 5)}
    assert set(after) == (set(before) - set(result["removed"])) | set(result["added"])
    assert not set(result["added"]) & set(before)
    assert not set(result["changed"]) & set(result["removed"])
    for vm_id in result["changed"]:
        assert after[vm_id]["power_state"] != before[vm_id]["power_state"]
        assert after[vm_id]["name"] != before[vm_id]["name"]
    untouched = set(after) - set(result["changed"]) - set(result["added"])
    assert all(after[i] == before[i] for i in untouched)
    flavors_after = {f["id"] for f in walk(session, sim.url, "instance_types")}
    assert flavors_after == flavors_before - set(result["removed_flavors"])
    assert list(after.values()) == sim.data.instances


def test_mutate_over_http_and_reset(sim: Simulator, session):
    login(session, sim.url)
    initial = sim.data
    response = control(sim, "mutate", {"add": 2, "remove": 30})
    assert response.status_code == 200
    assert len(response.json()["added"]) == 2 and len(response.json()["removed"]) == 23
    assert [vm["id"] for vm in walk(session, sim.url, "instances")] == response.json()["added"]
    assert control(sim, "mutate", {"explode": 1}).status_code == 400
    assert control(sim, "mutate", {"add": -1}).status_code == 400
    assert control(sim, "mutate", [1]).status_code == 400
    assert control(sim, "reset").json() == {"reset": True}
    assert sim.data == initial
    assert walk(session, sim.url, "instances") == initial.instances


def test_mutations_are_deterministic():
    one, two = Simulator(instances=40, seed="s"), Simulator(instances=40, seed="s")
    for sim in (one, two):
        sim.mutate(change=5)
    assert one.mutate(add=2, change=3, remove=4) == two.mutate(add=2, change=3, remove=4)
    assert one.data == two.data
    one.reset()
    assert one.mutate(change=5) == Simulator(instances=40, seed="s").mutate(change=5)


def test_cursor_survives_removal_of_items_already_served(sim: Simulator, session):
    login(session, sim.url)
    first = session.get(f"{sim.url}/instances", params={"limit": 10}).json()
    served = {vm["id"] for vm in first["items"]}
    sim.mutate(remove=15)
    rest: list[Any] = []
    token = first["next_token"]
    while token:
        params = {"limit": 10, "next_token": token}
        body = session.get(f"{sim.url}/instances", params=params).json()
        rest.extend(body["items"])
        token = body["next_token"]
    assert rest == [vm for vm in sim.data.instances if vm["id"] not in served]


# -- faults ---------------------------------------------------------------------------------


def test_http_429_with_retry_after_then_success(sim: Simulator, session):
    login(session, sim.url)
    sim.set_faults(http_429=2, retry_after=0.01)
    statuses = []
    for _ in range(3):
        response = session.get(f"{sim.url}/regions")
        statuses.append(response.status_code)
        if response.status_code == 429:
            assert response.headers["Retry-After"] == "0.01"
    assert statuses == [429, 429, 200]
    sim.set_faults(http_429=1)
    assert session.get(f"{sim.url}/regions").headers["Retry-After"] == "0"


def test_count_faults_are_used_one_per_request_in_order(sim: Simulator, session):
    login(session, sim.url)
    sim.set_faults(http_429=1, http_5xx=2, truncated_json=1, malformed_json=1)
    statuses = [session.get(f"{sim.url}/regions").status_code for _ in range(3)]
    assert statuses == [429, 503, 503]
    truncated = session.get(f"{sim.url}/regions")
    malformed = session.get(f"{sim.url}/regions")
    good = session.get(f"{sim.url}/regions")
    assert truncated.status_code == malformed.status_code == good.status_code == 200
    for bad in (truncated, malformed):
        with pytest.raises(ValueError):
            json.loads(bad.content)
    assert len(truncated.content) == len(good.content) // 2
    assert good.json()["regions"][0]["name"] == "us-east-1"


def test_faults_scoped_to_a_path(sim: Simulator, session):
    login(session, sim.url)
    sim.set_faults(path="/instances", http_5xx=1, fail_always_status=None)
    assert session.get(f"{sim.url}/images").status_code == 200
    assert session.get(f"{sim.url}/instances").status_code == 503
    assert session.get(f"{sim.url}/instances").status_code == 200
    sim.set_faults(
        rules=[{"path": "/images", "fail_always_status": 404}, {"path": "/regions", "http_429": 1}]
    )
    for _ in range(3):
        assert session.get(f"{sim.url}/images").status_code == 404
    assert session.get(f"{sim.url}/regions").status_code == 429
    assert session.get(f"{sim.url}/regions").status_code == 200
    assert session.get(f"{sim.url}/instances").status_code == 200
    sim.set_faults()
    assert session.get(f"{sim.url}/images").status_code == 200


def test_fail_always_status(sim: Simulator, session):
    login(session, sim.url)
    sim.set_faults(fail_always_status=500)
    for _ in range(3):
        assert session.get(f"{sim.url}/instances").status_code == 500
        assert session.post(f"{sim.url}/auth/tokens", json=CREDS).status_code == 500
    sim.reset()
    assert session.get(f"{sim.url}/instances").status_code == 200


def test_drop_connection_closes_the_socket_without_answer(sim: Simulator, session):
    login(session, sim.url)
    assert session.get(f"{sim.url}/regions").status_code == 200  # a kept-alive connection
    sim.set_faults(drop_connection=2)
    for _ in range(2):
        with pytest.raises(requests.ConnectionError):
            session.get(f"{sim.url}/regions")
    assert session.get(f"{sim.url}/regions").status_code == 200


def test_endless_pages_repeat_the_same_next_token(sim: Simulator, session):
    login(session, sim.url)
    sim.set_faults(path="/instances", endless_pages=True)
    first = session.get(f"{sim.url}/instances").json()
    assert first["next_token"] and len(first["items"]) == 23
    token = first["next_token"]
    for _ in range(3):
        body = session.get(f"{sim.url}/instances", params={"next_token": token}).json()
        assert body["next_token"] == token
    assert session.get(f"{sim.url}/images").json()["next_token"] is None


def test_latency_delays_matching_requests(sim: Simulator, session):
    login(session, sim.url)
    sim.set_faults(latency_ms=150, path="/images")
    started = time.monotonic()
    assert session.get(f"{sim.url}/images").status_code == 200
    assert time.monotonic() - started >= 0.15


def test_faults_over_http(sim: Simulator, session):
    login(session, sim.url)
    response = control(sim, "faults", {"rules": [{"path": "/images", "http_5xx": 1}]})
    assert response.status_code == 200
    assert response.json()["faults"][0]["http_5xx"] == 1
    assert session.get(f"{sim.url}/images").status_code == 503
    with requests.get(f"{sim.control_url}/faults") as current:
        assert current.json()["faults"][0]["http_5xx"] == 0
    assert control(sim, "faults", {"teleport": 1}).status_code == 400
    assert control(sim, "faults", {"http_429": -1}).status_code == 400
    assert control(sim, "faults", {"fail_always_status": 1000}).status_code == 400
    assert control(sim, "faults", {}).json() == {"faults": []}


def test_faults_from_options_are_active_from_the_start(session):
    with Simulator(http_5xx=1, fault_path="/auth") as sim:
        assert session.post(f"{sim.url}/auth/tokens", json=CREDS).status_code == 503
        assert session.post(f"{sim.url}/auth/tokens", json=CREDS).status_code == 200
    flags = {"instances": None, "seed": None, "http_5xx": None, "fault_path": None}
    assert SimulatorOptions.from_kwargs(**flags) == SimulatorOptions()
    options = SimulatorOptions(faults=FaultRule(http_429=1))
    with Simulator(options) as sim:
        assert session.post(f"{sim.url}/auth/tokens", json=CREDS).status_code == 429


# -- stats, options, lifecycle --------------------------------------------------------------


def test_stats_count_requests_per_path(sim: Simulator, session):
    login(session, sim.url)
    walk(session, sim.url, "instances", 10)
    session.get(f"{sim.url}/regions")
    expected = {"/v1/auth/tokens": 1, "/v1/instances": 3, "/v1/regions": 1}
    assert sim.stats() == expected
    assert control(sim, "stats").json() == expected
    sim.reset()
    assert sim.stats() == {}


@pytest.mark.parametrize(
    "kwargs",
    [
        {"instances": -1},
        {"page_size": 0},
        {"token_ttl": 0},
        {"colour": "red"},
        {"http_429": 1.5},
        {"port": 70000},
        {"seed": 1.5},
    ],
)
def test_bad_options_are_usage_errors(kwargs):
    with pytest.raises(UsageError):
        Simulator(**kwargs)


def test_a_busy_port_is_a_usage_error():
    with Simulator() as first, pytest.raises(UsageError, match="cannot listen"):
        port = int(first.url.rsplit(":", 1)[1].split("/")[0])
        Simulator(port=port).start()


def test_keep_alive_reuses_one_connection(sim: Simulator):
    host, port = sim.url[len("http://") : -len("/v1")].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=5)
    try:
        conn.request("POST", "/v1/auth/tokens", json.dumps(CREDS).encode())
        first = conn.getresponse()
        token = json.loads(first.read())["token"]
        sock = conn.sock
        for _ in range(3):
            conn.request("GET", "/v1/instances", headers={"Authorization": f"Bearer {token}"})
            response = conn.getresponse()
            assert response.version == 11 and response.status == 200
            assert int(response.headers["Content-Length"]) == len(response.read())
            assert conn.sock is sock
    finally:
        conn.close()


def test_stop_closes_idle_connections_and_leaks_no_threads(session):
    baseline = threading.active_count()
    for _ in range(5):
        sim = Simulator(instances=3)
        url = sim.start()
        login(session, url)
        assert session.get(f"{url}/instances").status_code == 200
        sim.stop()
        sim.stop()
        assert threading.active_count() == baseline
    with pytest.raises(requests.ConnectionError):
        session.get(f"{url}/instances")


def test_run_forever_serves_until_stopped():
    stop = threading.Event()
    said: list[str] = []
    options = SimulatorOptions(instances=4)
    kwargs = {"stop": stop, "announce": said.append}
    thread = threading.Thread(target=run_forever, args=(options,), kwargs=kwargs)
    thread.start()
    try:
        for _ in range(500):
            if said:
                break
            time.sleep(0.01)
        found = re.search(r"http://127\.0\.0\.1:\d+/v1", said[0])
        assert found, said
        url = found.group(0)
        with requests.Session() as s:
            login(s, url)
            assert len(walk(s, url, "instances")) == 4
        assert "sim-secret" not in said[0]
    finally:
        stop.set()
        thread.join(5)
    assert not thread.is_alive()
