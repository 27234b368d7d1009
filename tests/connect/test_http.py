"""The HTTP layer against tiny real servers on 127.0.0.1: retries, waits, errors, redaction."""

from __future__ import annotations

import email.utils
import json
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

import pytest

from miqspec.connect.http import HttpClient, HttpResponse, retry_after_seconds, safe_url
from miqspec.errors import ApiError, UnreachableError
from miqspec.spec.model_calls import Retry


@dataclass
class Seen:
    """One request a script server received."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Answer:
    """What a script server does with one request."""

    status: int = 200
    body: Any = field(default_factory=dict)  # bytes as they are, anything else as JSON
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False  # close the connection without answering
    delay: float = 0.0  # wait before the status line
    stall: float = 0.0  # send the headers, then wait before the body

    def payload(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode()
        return json.dumps(self.body).encode()


Script = Callable[[Seen, int], Answer]


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], OSError):  # a client that hung up is expected
            super().handle_error(request, client_address)


class ScriptServer:
    """A ThreadingHTTPServer on 127.0.0.1 answering each request by ``script(request, n)``."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.seen: list[Seen] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out as two writes

            def do_GET(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                req = Seen(
                    self.command,
                    self.path,
                    dict(self.headers.items()),
                    self.rfile.read(length) if length else b"",
                )
                with owner.lock:
                    owner.seen.append(req)
                    n = len(owner.seen)
                answer = owner.script(req, n)
                if answer.delay:
                    owner.stopping.wait(answer.delay)
                if answer.drop:
                    self.close_connection = True
                    return
                body = answer.payload()
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if answer.stall:
                    self.wfile.flush()
                    owner.stopping.wait(answer.stall)
                self.wfile.write(body)

            do_POST = do_PUT = do_DELETE = do_GET

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = _QuietServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    @property
    def paths(self) -> list[str]:
        with self.lock:
            return [s.path for s in self.seen]

    def __enter__(self) -> ScriptServer:
        self.thread.start()
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


def answers(*items: Answer) -> Script:
    """A script answering with ``items`` in order, then repeating the last one."""
    return lambda req, n: items[min(n, len(items)) - 1]


def free_port() -> int:
    """A port nothing listens on (bound once, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def waits() -> list[float]:
    return []


@pytest.fixture
def client(waits: list[float]) -> Iterator[HttpClient]:
    c = HttpClient(sleep=waits.append)
    yield c
    c.close()


RETRY = Retry(attempts=4, backoff=0.01, max_backoff=30.0)


def test_429_is_retried_honouring_retry_after(client, waits):
    with ScriptServer(
        answers(
            Answer(429, headers={"Retry-After": "2"}),
            Answer(429, headers={"Retry-After": "0.5"}),
            Answer(200, {"ok": True}),
        )
    ) as srv:
        resp = client.send("GET", srv.url + "/x", retry=RETRY)
    assert resp.status == 200 and resp.json() == {"ok": True}
    assert waits == [2.0, 0.5]
    assert len(srv.seen) == 3


def test_retry_after_is_capped_by_max_backoff(client, waits):
    retry = Retry(attempts=2, backoff=0.01, max_backoff=1.5)
    with ScriptServer(answers(Answer(429, headers={"Retry-After": "120"}), Answer())) as srv:
        assert client.send("GET", srv.url, retry=retry).status == 200
    assert waits == [1.5]


def test_429_with_an_http_date_retry_after(client, waits):
    when = email.utils.formatdate(time.time() + 20, usegmt=True)
    with ScriptServer(answers(Answer(429, headers={"Retry-After": when}), Answer())) as srv:
        assert client.send("GET", srv.url, retry=RETRY).status == 200
    assert len(waits) == 1 and 15 < waits[0] <= 20


def test_503_is_retried_with_exponential_backoff(client, waits):
    with ScriptServer(answers(Answer(503), Answer(503), Answer(502), Answer(200, [1]))) as srv:
        assert client.send("GET", srv.url, retry=RETRY).json() == [1]
    assert waits == [RETRY.backoff * 2**i for i in range(3)]


def test_gives_up_after_attempts(client, waits):
    with (
        ScriptServer(answers(Answer(503))) as srv,
        pytest.raises(ApiError, match=r"GET .* answered 503 after 4 attempt\(s\)") as err,
    ):
        client.send("GET", srv.url + "/list", retry=RETRY)
    assert len(srv.seen) == RETRY.attempts
    assert len(waits) == RETRY.attempts - 1
    assert getattr(err.value, "status", None) == 503


def test_other_statuses_are_returned_without_retry(client, waits):
    with ScriptServer(answers(Answer(404, {"error": "nope"}))) as srv:
        resp = client.send("GET", srv.url, retry=RETRY)
    assert resp.status == 404 and len(srv.seen) == 1 and waits == []


def test_retry_statuses_off_returns_the_503(client):
    with ScriptServer(answers(Answer(503))) as srv:
        assert client.send("GET", srv.url, retry=RETRY, retry_statuses=False).status == 503
    assert len(srv.seen) == 1


def test_dropped_connection_is_retried(client, waits):
    with ScriptServer(answers(Answer(drop=True), Answer(200, {"n": 1}))) as srv:
        assert client.send("GET", srv.url, retry=RETRY).json() == {"n": 1}
    assert len(srv.seen) == 2 and len(waits) == 1


def test_always_dropped_connection_gives_unreachable(client):
    with (
        ScriptServer(answers(Answer(drop=True))) as srv,
        pytest.raises(UnreachableError, match=r"cannot reach .*: connection"),
    ):
        client.send("GET", srv.url, retry=Retry(attempts=3, backoff=0))
    assert len(srv.seen) == 3


@pytest.mark.parametrize("bad", [b"<html>502 Bad Gateway</html>", b'{"items": [1, 2', b"\xff\xfe"])
def test_malformed_json_is_retried(client, bad: bytes):
    with ScriptServer(answers(Answer(200, bad), Answer(200, {"items": []}))) as srv:
        assert client.send("GET", srv.url, retry=RETRY).json() == {"items": []}
    assert len(srv.seen) == 2


def test_malformed_json_every_time_is_an_api_error(client):
    with (
        ScriptServer(answers(Answer(200, b"<html>"))) as srv,
        pytest.raises(ApiError, match="not valid JSON"),
    ):
        client.send("GET", srv.url, retry=Retry(attempts=2, backoff=0))
    assert len(srv.seen) == 2


def test_text_bodies_are_not_decoded(client):
    with ScriptServer(answers(Answer(200, b"plain text"))) as srv:
        resp = client.send("GET", srv.url, retry=RETRY, expect_json=False)
    assert resp.text == "plain text" and len(srv.seen) == 1


def test_empty_body_decodes_to_none():
    assert HttpResponse(204, {}, b"  ", "http://x").json() is None


def test_request_parts_reach_the_server(client):
    with ScriptServer(answers(Answer())) as srv:
        client.send(
            "POST",
            srv.url + "/p",
            retry=RETRY,
            params={"a": "1"},
            headers={"X-Test": "yes"},
            json_body={"k": "v"},
            cookies={"c": "d"},
        )
        client.send("PUT", srv.url + "/f", retry=RETRY, data={"f": "g h"})
    first, second = srv.seen
    assert (first.method, first.path) == ("POST", "/p?a=1")
    assert first.headers["X-Test"] == "yes" and first.headers["Cookie"] == "c=d"
    assert json.loads(first.body) == {"k": "v"}
    assert second.body == b"f=g+h"
    assert client.requests_made == 2


def test_unreachable_port_is_connection_refused(client):
    url = f"http://127.0.0.1:{free_port()}/v1"
    with pytest.raises(UnreachableError, match="connection refused") as err:
        client.send("GET", url, retry=Retry(attempts=2, backoff=0))
    assert "127.0.0.1" in str(err.value)
    assert client.requests_made == 2


def test_unknown_host(client):
    with pytest.raises(UnreachableError, match="unknown host"):
        client.send("GET", "http://no-such-host.invalid/v1", retry=Retry(attempts=1))


def test_slow_server_times_out(client):
    with ScriptServer(answers(Answer(delay=2.0))) as srv:
        started = time.perf_counter()
        with pytest.raises(UnreachableError, match="timed out"):
            client.send("GET", srv.url, retry=Retry(attempts=1), timeout=(1.0, 0.2))
        assert time.perf_counter() - started < 1.5


def test_stalled_body_times_out(client):
    with (
        ScriptServer(answers(Answer(200, {"a": 1}, stall=2.0))) as srv,
        pytest.raises(UnreachableError, match="timed out"),
    ):
        client.send("GET", srv.url, retry=Retry(attempts=1), timeout=(1.0, 0.2))


def test_secrets_never_reach_messages():
    secret = "s3cr3t-value"
    c = HttpClient(secrets=lambda: [secret], sleep=lambda s: None)
    url = f"http://admin:{secret}@127.0.0.1:{free_port()}/v1?api_key={secret}"
    try:
        with pytest.raises(UnreachableError) as err:
            c.send("GET", url, retry=Retry(attempts=1))
    finally:
        c.close()
    assert secret not in str(err.value) and "admin" not in str(err.value)
    assert "api_key=********" in str(err.value)


def test_secrets_masked_in_status_errors():
    secret = "tok-123456"
    c = HttpClient(secrets=lambda: [secret], sleep=lambda s: None)
    try:
        with ScriptServer(answers(Answer(500))) as srv, pytest.raises(ApiError) as err:
            c.send("GET", f"{srv.url}/x?token={secret}", retry=Retry(attempts=1))
    finally:
        c.close()
    assert secret not in str(err.value) and "token=********" in str(err.value)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://user:pw@api.example.com:8443/v1?q=1#frag", "https://api.example.com:8443/v1?q=1"),
        ("https://api.example.com/v1", "https://api.example.com/v1"),
        ("http://u:p@[::1]:8080/x", "http://[::1]:8080/x"),
        ("http://host:notaport/x", "http://host:notaport/x"),
    ],
)
def test_safe_url_strips_userinfo(url: str, expected: str):
    assert safe_url(url) == expected


def test_safe_url_masks_secrets():
    assert (
        safe_url("https://h/x?key=abcdef&other=1", ["abcdef"]) == "https://h/x?key=********&other=1"
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        ("3", 3.0),
        ("0.25", 0.25),
        ("-5", 0.0),
        ("soon", None),
        ("inf", None),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),
    ],
)
def test_retry_after_seconds(value: str | None, expected: float | None):
    assert retry_after_seconds(value) == expected


def test_a_body_nested_too_deeply_is_a_one_line_api_error():
    deep = HttpResponse(200, {}, b"[" * 200_000 + b"]" * 200_000, "http://x")
    with pytest.raises(ApiError, match=r"^response is not valid JSON \(nested too deeply\)$"):
        deep.json()
