"""Tests for connect.cassettes and connect.cassette_match: Ruby VCR load, replay and record.

Replay and record go through a real ``requests.Session`` with the adapters mounted; recording
talks to a real ThreadingHTTPServer on 127.0.0.1. The shared ManageIQ recordings are read from
../shared/cassettes when present.
"""

from __future__ import annotations

import base64
import gzip
import json
import re
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from email.utils import parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote_plus, urlsplit

import pytest
import requests
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import miqspec
from miqspec.connect.cassette_match import uri_key
from miqspec.connect.cassettes import Cassette, Interaction, RecordingAdapter, ReplayAdapter, mount
from miqspec.errors import ReplayError

SHARED = Path(__file__).resolve().parents[3] / "shared" / "cassettes"
needs_shared = pytest.mark.skipif(
    not SHARED.is_dir(), reason=f"shared recordings not present at {SHARED}"
)


# ----------------------------------------------------------------------------- helpers


def write_vcr(path: Path, interactions: list[dict[str, Any]]) -> Path:
    """Write a cassette in Ruby VCR layout from (method, uri, status, headers, body) dicts."""
    entries = []
    for item in interactions:
        body = item.get("body", "")
        entries.append(
            {
                "request": {
                    "method": item.get("method", "get"),
                    "uri": item["uri"],
                    "body": {"encoding": "US-ASCII", "string": ""},
                    "headers": {"Accept": ["*/*"]},
                },
                "response": {
                    "status": {"code": item.get("status", 200), "message": "OK"},
                    "headers": item.get("headers", {"Content-Type": ["application/json"]}),
                    "body": {"encoding": "UTF-8", "string": body},
                    "http_version": None,
                },
                "recorded_at": "Fri, 01 Feb 2019 12:31:17 GMT",
            }
        )
    doc = {"http_interactions": entries, "recorded_with": "VCR 3.0.3"}
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def replay_session(cassette: Cassette) -> tuple[requests.Session, ReplayAdapter]:
    session = requests.Session()
    adapter = ReplayAdapter(cassette)
    mount(session, adapter)
    return session, adapter


def load_shared(name: str, **kwargs: Any) -> Cassette:
    return Cassette.load(SHARED / name / "refresher.yml", **kwargs)


# ----------------------------------------------------------------------------- matching


def test_query_parameters_match_in_any_order_as_a_multiset(tmp_path: Path) -> None:
    uri = "https://api.example.com/v1/vms?b=2&a=1&a=0"
    cassette = Cassette.load(write_vcr(tmp_path / "c.yml", [{"uri": uri, "body": "{}"}] * 2))
    session, _ = replay_session(cassette)
    with session:
        assert session.get("https://API.Example.com:443/v1/vms?a=0&b=2&a=1").status_code == 200
        assert session.get(
            "HTTPS://api.example.com/v1/vms", params=[("a", "1"), ("b", "2"), ("a", "0")]
        ).ok
        with pytest.raises(ReplayError):
            session.get("https://api.example.com/v1/vms?a=1&b=2")  # one "a" missing
        with pytest.raises(ReplayError):
            session.get("https://api.example.com/V1/vms?a=0&a=1&b=2")  # path case matters


def test_uri_key_normalises_escapes_ports_and_ignored_parameters() -> None:
    a = uri_key("http://h:80/a%7eb/%2f?x=%41&api-version=1", ["api-version"])
    b = uri_key("HTTP://H/a~b/%2F?api-version=2&x=A", ["api-version"])
    assert a == b
    assert uri_key("https://h:8443/") != uri_key("https://h/")


def test_fragment_is_stripped_on_both_sides(tmp_path: Path) -> None:
    path = write_vcr(
        tmp_path / "c.yml",
        [
            {"uri": "https://h.example/items?x=1#recorded", "body": '"one"'},
            {"uri": "https://h.example/other", "body": '"two"'},
        ],
    )
    session, _ = replay_session(Cassette.load(path))
    with session:
        assert session.get("https://h.example/items?x=1#sent").json() == "one"
        assert session.get("https://h.example/other#frag").json() == "two"


def test_each_recording_plays_once_first_unused_first_in_any_request_order(
    tmp_path: Path,
) -> None:
    path = write_vcr(
        tmp_path / "c.yml",
        [
            {"uri": "https://h.example/a", "body": '"a-first"'},
            {"uri": "https://h.example/b", "body": '"b"'},
            {"uri": "https://h.example/a", "body": '"a-second"'},
            {"uri": "https://h.example/unused", "body": '"never"'},
        ],
    )
    session, adapter = replay_session(Cassette.load(path))
    with session:
        assert session.get("https://h.example/b").json() == "b"
        assert session.get("https://h.example/a").json() == "a-first"
        assert adapter.used_count == 2
        assert session.get("https://h.example/a").json() == "a-second"
        with pytest.raises(ReplayError) as info:
            session.get("https://h.example/a")
    assert "0 unused recordings for this method and path, 2 already played" in str(info.value)
    assert adapter.unused() == [("GET", "https://h.example/unused")]
    assert adapter.used_count == 3


def test_unmatched_request_error_is_one_line_with_counts_and_closest_hint(
    tmp_path: Path,
) -> None:
    path = write_vcr(
        tmp_path / "c.yml",
        [
            {"uri": "https://h.example/vms?page=1&size=50", "body": "[]"},
            {"uri": "https://h.example/vms?page=2&size=50", "body": "[]"},
            {"method": "post", "uri": "https://h.example/vms?page=3", "body": "[]"},
        ],
    )
    session, _ = replay_session(Cassette.load(path))
    with session, pytest.raises(ReplayError) as info:
        session.get("https://h.example/vms?size=50&page=3")
    message = str(info.value)
    assert info.value.exit_code == 9
    assert "\n" not in message
    assert message.startswith(
        "no recorded interaction for GET https://h.example/vms?size=50&page=3 "
        "(2 unused recordings for this method and path); "
        "closest unused: https://h.example/vms?page=1&size=50"
    )
    assert message.endswith("cassette c.yml")


def test_unmatched_path_hints_a_similar_unused_uri(tmp_path: Path) -> None:
    recorded = "https://h.example/subscriptions/S/resourceGroups/MIQ-VMS/vms"
    session, _ = replay_session(Cassette.load(write_vcr(tmp_path / "c.yml", [{"uri": recorded}])))
    with session, pytest.raises(ReplayError) as info:
        session.get(recorded.replace("resourceGroups", "resourcegroups"))
    assert "(0 unused recordings for this method and path)" in str(info.value)
    assert f"closest unused: {recorded}" in str(info.value)


def test_concurrent_requests_get_distinct_recordings(tmp_path: Path) -> None:
    n = 24
    items = [{"uri": "https://h.example/x", "body": json.dumps(i)} for i in range(n)]
    session, adapter = replay_session(Cassette.load(write_vcr(tmp_path / "c.yml", items)))
    with session, ThreadPoolExecutor(8) as pool:
        bodies = list(pool.map(lambda _: session.get("https://h.example/x").json(), range(n)))
    assert sorted(bodies) == list(range(n))
    assert adapter.used_count == n and adapter.unused() == []


# ----------------------------------------------------------------------------- responses


def test_gzip_labelled_plain_body_is_served_undecoded(tmp_path: Path) -> None:
    body = '{\n  "license_key" : "ABC",\n  "sort_ascending" : true\n}'
    headers = {
        "Content-Type": ["application/json;charset=UTF-8"],
        "Content-Encoding": ["gzip"],
        "Transfer-Encoding": ["chunked"],
        "Content-Length": ["9999"],
    }
    items = [{"uri": "https://nsx.example/api/v1/license", "headers": headers, "body": body}] * 2
    session, _ = replay_session(Cassette.load(write_vcr(tmp_path / "c.yml", items)))
    with session:
        response = session.get("https://nsx.example/api/v1/license")
        assert response.headers["Content-Encoding"] == "gzip"
        assert response.content == body.encode()
        assert response.json()["license_key"] == "ABC"
        streamed = session.get("https://nsx.example/api/v1/license", stream=True)
        assert b"".join(streamed.iter_content(7)) == body.encode()
        assert streamed.raw.read(decode_content=True) == body.encode()  # raw never decodes


def test_headers_cookies_binary_body_and_charset(tmp_path: Path) -> None:
    latin = "caf\xe9 na\xefve".encode("latin-1")
    text = f"""---
http_interactions:
- request:
    method: GET
    uri: http://h.example/login
    body:
      encoding: US-ASCII
      string: ''
    headers: {{}}
  response:
    status:
      code: 201
      message: Created
    headers:
      Content-Type:
      - text/plain; charset=ISO-8859-1
      Warning:
      - 299 - "Deprecated API"
      - 199 - "Other"
      Set-Cookie:
      - JSESSIONID=abc; Path=/; HttpOnly
      - lang=en; Path=/
      Expires:
      - '0'
      X-Flag:
      - yes
    body:
      encoding: ASCII-8BIT
      string: !binary |-
        {base64.b64encode(latin).decode()}
    http_version:
  recorded_at: Wed, 29 Apr 2020 15:18:06 GMT
recorded_with: VCR 3.0.3
"""
    path = tmp_path / "c.yml"
    path.write_text(text, encoding="utf-8")
    cassette = Cassette.load(path)
    assert cassette.recorded_with == "VCR 3.0.3"
    assert cassette.interactions[0].method == "get"
    session, _ = replay_session(cassette)
    with session:
        response = session.get("http://h.example/login")
        assert (response.status_code, response.reason) == (201, "Created")
        assert response.headers["Warning"] == '299 - "Deprecated API", 199 - "Other"'
        assert response.headers["X-Flag"] == "yes"  # not turned into a YAML boolean
        assert response.content == latin
        assert response.encoding == "iso-8859-1" and response.text == "caf\xe9 na\xefve"
        assert session.cookies.get("JSESSIONID") == "abc"
        assert session.cookies.get("lang") == "en"


def test_placeholders_map_outgoing_url_and_restore_real_values(tmp_path: Path) -> None:
    body = json.dumps(
        {
            "id": "/subscriptions/SUB_ID/vms/1",
            "ask_secret": True,
            "password": "secret",
            "client_secret_hint": "x",
        }
    )
    headers = {"Content-Type": ["application/json"], "Location": ["https://h/subscriptions/SUB_ID"]}
    items = [
        {
            "uri": "https://h/subscriptions/SUB_ID/vms?api-version=1",
            "headers": headers,
            "body": body,
        }
    ]
    placeholders = {"real-sub-0042": "SUB_ID", "hunter22-pw": "secret"}
    cassette = Cassette.load(
        write_vcr(tmp_path / "c.yml", items * 2),
        ignore_query_params=["api-version"],
        placeholders=placeholders,
    )
    session, _ = replay_session(cassette)
    with session:
        response = session.get("https://h/subscriptions/real-sub-0042/vms?api-version=2024-01-01")
        data = response.json()
        assert data["id"] == "/subscriptions/real-sub-0042/vms/1"
        assert data["password"] == "hunter22-pw"
        assert data["ask_secret"] is True and "client_secret_hint" in data
        assert response.headers["Location"] == "https://h/subscriptions/real-sub-0042"
        with pytest.raises(ReplayError) as info:
            session.get("https://h/subscriptions/real-sub-0042/other?key=hunter22-pw")
    assert "hunter22-pw" not in str(info.value) and "real-sub-0042" not in str(info.value)
    assert "/subscriptions/SUB_ID/other?key=secret" in str(info.value)


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (None, "cannot read cassette"),
        ("http_interactions: [\n  - {request: ", "is not valid YAML at line"),
        ("just: a mapping\n", "no http_interactions list"),
        ("http_interactions:\n- request: {method: get, uri: 'http://h/'}\n", "has no 'response'"),
        (
            "http_interactions:\n- request: {method: get, uri: 'http://h/'}\n"
            "  response: {status: {code: abc}}\n",
            "interaction 1 is malformed",
        ),
    ],
)
def test_bad_cassette_is_one_line_replay_error_naming_the_file(
    tmp_path: Path, content: str | None, fragment: str
) -> None:
    path = tmp_path / "bad.yml"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(ReplayError) as info:
        Cassette.load(path)
    assert str(path) in str(info.value) and fragment in str(info.value)
    assert "\n" not in str(info.value)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=st.one_of(st.binary(max_size=300), st.text(max_size=200).map(str.encode)))
def test_bodies_round_trip_through_the_vcr_file(tmp_path_factory: Any, body: bytes) -> None:
    path = tmp_path_factory.mktemp("rt") / "c.yml"
    item = Interaction(method="post", uri="http://h/x", request_body=body, response_body=body)
    Cassette(path=path, interactions=[item]).save()
    loaded = Cassette.load(path).interactions[0]
    assert (loaded.request_body, loaded.response_body) == (body, body)


# ----------------------------------------------------------------------------- recording

SECRET = "s3cr3t+/&=Value"  # needs URL and form escaping
API_KEY = "key-9f8e7d6c5b"
TOKEN = "live-token-0123456789"
PLACEHOLDERS = {SECRET: "APP_SECRET", API_KEY: "APP_API_KEY"}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    def _send(self, status: int, body: bytes, headers: list[tuple[str, str]]) -> None:
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        form = parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode())
        if form.get("client_secret") != [SECRET]:
            self._send(401, b'{"error": "bad secret"}', [("Content-Type", "application/json")])
            return
        body = json.dumps({"access_token": TOKEN, "token_type": "Bearer"}).encode()
        self._send(200, body, [("Content-Type", "application/json")])

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        json_type = ("Content-Type", "application/json; charset=utf-8")
        if url.path == "/me":
            ok = self.headers["Authorization"] == f"Bearer {TOKEN}"
            body = json.dumps({"user": "alice", "key": self.headers["X-Api-Key"], "ok": ok})
            cookies = [("Set-Cookie", "sid=42; Path=/"), ("Set-Cookie", "theme=dark; Path=/")]
            self._send(200, body.encode(), [json_type, *cookies])
        elif url.path == "/items":
            page = int(parse_qs(url.query)["page"][0])
            self._send(200, json.dumps({"page": page, "items": [page * 10]}).encode(), [json_type])
        elif url.path == "/binary":
            self._send(200, bytes(range(256)), [("Content-Type", "application/octet-stream")])
        elif url.path == "/gzip":
            data = gzip.compress(json.dumps({"zipped": True, "echo": SECRET}).encode())
            self._send(200, data, [json_type, ("Content-Encoding", "gzip")])
        elif url.path == "/basic":
            expected = "Basic " + base64.b64encode(f"admin:{SECRET}".encode()).decode()
            status = 200 if self.headers["Authorization"] == expected else 401
            self._send(status, b"plain text reply", [("Content-Type", "text/plain")])
        else:
            self._send(404, b"not here", [("Content-Type", "text/plain")])


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def _conversation(session: requests.Session, base: str) -> list[tuple[int, bytes, str]]:
    """The calls an engine would make; returns (status, body, selected headers) per call."""
    login = session.post(f"{base}/login?tenant=t1", data={"client_secret": SECRET})
    auth = {"Authorization": f"Bearer {login.json()['access_token']}", "X-Api-Key": API_KEY}
    calls = [
        session.get(f"{base}/me", headers=auth),
        session.get(f"{base}/items", params={"page": "2", "key": API_KEY}),
        session.get(f"{base}/items?key={API_KEY}&page=1"),
        session.get(f"{base}/binary"),
        session.get(f"{base}/gzip"),
        session.get(f"{base}/basic", auth=("admin", SECRET)),
        session.get(f"{base}/nowhere"),
    ]
    keep = ("Content-Type", "Set-Cookie")
    return [(r.status_code, r.content, "|".join(r.headers.get(h, "") for h in keep)) for r in calls]


def test_record_then_replay_round_trips_without_secrets(server: str, tmp_path: Path) -> None:
    path = tmp_path / "cassettes" / "recorded.yml"
    recorder = RecordingAdapter(path, PLACEHOLDERS)
    with requests.Session() as session:
        mount(session, recorder)
        live = _conversation(session, server)
        live_cookies = session.cookies.get_dict()
    # Session.close() closed the adapter, which saved the cassette.
    text = path.read_text(encoding="utf-8")
    basic = base64.b64encode(f"admin:{SECRET}".encode()).decode()
    for secret in (SECRET, quote_plus(SECRET), API_KEY, TOKEN, basic):
        assert secret not in text
    assert "Bearer MIQSPEC_TOKEN_1" in text and '"access_token": "MIQSPEC_TOKEN_1"' in text
    assert "client_secret=APP_SECRET" in text and "key=APP_API_KEY" in text
    assert base64.b64encode(b"admin:APP_SECRET").decode() in text
    assert "!binary" in text
    assert re.search(r"^recorded_with: miqspec " + re.escape(miqspec.__version__), text, re.M)

    cassette = Cassette.load(path, placeholders=PLACEHOLDERS)
    assert [i.method for i in cassette.interactions][:2] == ["post", "get"]
    for item in cassette.interactions:
        assert parsedate_to_datetime(item.recorded_at).tzinfo is not None
        assert not any(k.lower() == "content-encoding" for k in item.response_headers)
    session, adapter = replay_session(cassette)
    with session:
        replayed = _conversation(session, server)
        assert session.cookies.get_dict() == live_cookies
    assert replayed == live
    assert adapter.unused() == [] and adapter.used_count == len(live) + 1


def test_recording_a_failed_connection_records_nothing(tmp_path: Path) -> None:
    recorder = RecordingAdapter(tmp_path / "c.yml", {})
    with requests.Session() as session:
        mount(session, recorder)
        with pytest.raises(requests.ConnectionError):
            session.get("http://127.0.0.1:9/", timeout=2)
    assert Cassette.load(tmp_path / "c.yml").interactions == []


# ----------------------------------------------------------------------------- shared recordings


@needs_shared
@pytest.mark.parametrize("name", ["awx", "nsxt", "azure"])
def test_shared_cassette_loads_and_replays_recorded_requests(name: str) -> None:
    path = SHARED / name / "refresher.yml"
    ignore = ["api-version"] if name == "azure" else []
    started = time.perf_counter()
    cassette = Cassette.load(path, ignore_query_params=ignore)
    elapsed = time.perf_counter() - started
    assert elapsed < 2.0, f"{name} took {elapsed:.2f}s to load"
    text = path.read_text(encoding="utf-8")
    assert len(cassette.interactions) == len(re.findall(r"^- request:$", text, re.M))
    assert cassette.recorded_with == re.findall(r"^recorded_with: (.*)$", text, re.M)[-1]
    session, adapter = replay_session(cassette)
    picks = [cassette.interactions[0], cassette.interactions[-1]]
    with session:
        for item in picks:
            response = session.request(item.method, item.uri, data=item.request_body)
            assert response.status_code == item.status
            assert response.content == item.response_body
    assert adapter.used_count == len(picks)


@needs_shared
def test_awx_binary_bodies_and_relative_pages() -> None:
    cassette = load_shared("awx")
    session, _ = replay_session(cassette)
    base = "https://dev-ansible-tower3.example.com/api/v1"
    with session:
        config = session.get(f"{base}/config/", auth=("testuser", "secret")).json()
        assert "license_info" in config
        page2 = session.get(f"{base}/hosts/?page=2").json()
        assert isinstance(page2.get("results"), list)


@needs_shared
def test_nsxt_gzip_labelled_bodies_are_plain_json() -> None:
    session, _ = replay_session(load_shared("nsxt"))
    with session:
        response = session.get("https://nsxthostname/api/v1/license")
        assert response.headers["Content-Encoding"] == "gzip"
        assert "license_key" in response.json()
        rules = session.get("https://NSXTHOSTNAME/policy/api/v1/infra/tier-1s#x").json()
        assert "results" in rules


@needs_shared
def test_azure_ignores_api_version_and_maps_placeholders() -> None:
    real_sub = "11111111-2222-3333-4444-555555555555"
    cassette = load_shared(
        "azure",
        ignore_query_params=["api-version"],
        placeholders={real_sub: "AZURE_SUBSCRIPTION_ID", "real-tenant": "AZURE_TENANT_ID"},
    )
    session, _ = replay_session(cassette)
    with session:
        token = session.post(
            "https://login.microsoftonline.com/real-tenant/oauth2/token",
            data={"grant_type": "client_credentials"},
        )
        assert token.json()["access_token"] == "AZURE_ACCESS_TOKEN"
        groups = session.get(
            f"https://management.azure.com/subscriptions/{real_sub}/resourcegroups",
            params={"api-version": "1999-01-01"},
        ).json()
        ids = [g["id"] for g in groups["value"]]
        assert ids and all(i.startswith(f"/subscriptions/{real_sub}/") for i in ids)
        blob = session.get(
            "https://miqunmanagedeastus.blob.core.windows.net/vhds?restype=container&comp=list"
        )
        assert blob.status_code == 200
