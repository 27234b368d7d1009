"""Nothing hangs past its deadline, and no answer is read without bound.

A raw TCP server on 127.0.0.1 plays the hostile API: it drips a body a byte at a time, streams
a chunked body forever, or sends more than the limit. Each read of the engine's HTTP layer
must end by the request's total deadline (connect + twice the read timeout, or the one given)
with a one-line error.
"""

from __future__ import annotations

import gzip
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from miqspec.connect import HttpClient
from miqspec.errors import ApiError, UnreachableError

Play = Callable[[socket.socket], None]


class RawServer:
    """Accepts connections on 127.0.0.1 and hands each socket to ``play`` (in a thread)."""

    def __init__(self, play: Play) -> None:
        self.play = play
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}/things"

    def _serve(self) -> None:
        self.sock.settimeout(0.1)
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn: socket.socket) -> None:
        try:
            conn.recv(65536)
            self.play(conn)
        except OSError:
            pass
        finally:
            conn.close()

    def __enter__(self) -> RawServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()
        self.sock.close()


@pytest.fixture
def client() -> Iterator[HttpClient]:
    c = HttpClient(max_body=64 * 1024)
    yield c
    c.close()


def drip(stop_after: float) -> Play:
    def play(conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n")
        conn.sendall(b"Content-Length: 1000\r\n\r\n")
        end = time.monotonic() + stop_after
        while time.monotonic() < end:
            conn.sendall(b" ")
            time.sleep(0.2)

    return play


def test_a_dripped_body_stops_at_the_deadline(client):
    with RawServer(drip(stop_after=20)) as server:
        start = time.monotonic()
        with pytest.raises(UnreachableError, match="timed out talking to"):
            client.send_once("GET", server.url, timeout=(0.5, 0.5))  # deadline 1.5 s
        took = time.monotonic() - start
    assert took < 3.0, took  # each byte arrives well within the read timeout


def test_an_explicit_deadline_bounds_the_request(client):
    with RawServer(drip(stop_after=20)) as server:
        start = time.monotonic()
        with pytest.raises(UnreachableError, match="timed out"):
            client.send_once("GET", server.url, timeout=(5, 5), deadline=time.monotonic() + 1)
        assert time.monotonic() - start < 2.5


def test_an_endless_chunked_body_stops_at_the_size_limit(client):
    def play(conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        chunk = b"x" * 4096
        while True:
            conn.sendall(b"1000\r\n" + chunk + b"\r\n")

    with RawServer(play) as server, pytest.raises(ApiError, match="answered more than 65,536"):
        client.send_once("GET", server.url, timeout=(1, 5))


def test_a_gzip_bomb_stops_at_the_size_limit(client):
    bomb = gzip.compress(b"\0" * (10 * 1024 * 1024))  # 10 MB of zeros, about 10 KB on the wire

    def play(conn: socket.socket) -> None:
        head = f"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: {len(bomb)}\r\n\r\n"
        conn.sendall(head.encode() + bomb)

    with RawServer(play) as server, pytest.raises(ApiError, match="answered more than"):
        client.send_once("GET", server.url, timeout=(1, 5))


def test_ordinary_bodies_still_arrive_whole_plain_chunked_and_gzipped(client):
    doc = {"items": [{"id": i, "name": "n" * 50} for i in range(200)]}
    data = json.dumps(doc).encode()

    def play(conn: socket.socket) -> None:
        if len(data) > 0:
            packed = gzip.compress(data)
            conn.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n"
            )
            for i in range(0, len(packed), 100):
                piece = packed[i : i + 100]
                conn.sendall(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            conn.sendall(b"0\r\n\r\n")

    with RawServer(play) as server:
        resp = client.send_once("GET", server.url, timeout=(1, 5))
    assert resp.json() == doc


def test_a_refresh_stops_at_its_deadline_however_many_pages_remain(tmp_path):
    from miqspec.collect import collect
    from miqspec.connect import ProviderSession

    from ..connect.test_connect import write_spec
    from ..connect.test_http import Answer, ScriptServer

    def endless(req, n):  # every page promises another, each answered in 0.3 s
        return Answer(200, {"items": [{"id": n}], "next": f"t{n}"}, delay=0.3)

    spec = write_spec(
        tmp_path,
        calls={
            "list_things": {
                "path": "/things",
                "records": "items",
                "paginate": {"type": "cursor", "cursor": "next", "param": "token"},
            }
        },
        connection={"refresh_deadline": 1.5},
    )
    assert spec.connection.refresh_deadline == 1.5
    with ScriptServer(endless) as server:
        session = ProviderSession(spec, {"endpoints": {"default": {"url": server.url}}})
        start = time.monotonic()
        try:
            with pytest.raises(UnreachableError, match=r"ran past 1\.5 s in all"):
                collect(session, ["list_things"])
        finally:
            session.close()
        assert time.monotonic() - start < 3.0


def test_a_spec_deadline_bounds_each_request(tmp_path):
    from miqspec.connect import ProviderSession

    from ..connect.test_connect import write_spec

    spec = write_spec(tmp_path, connection={"deadline": 1, "timeout": 30, "retry": {"attempts": 1}})
    with RawServer(drip(stop_after=20)) as server:
        base = server.url.rsplit("/", 1)[0]
        session = ProviderSession(spec, {"endpoints": {"default": {"url": base}}})
        start = time.monotonic()
        try:
            with pytest.raises(UnreachableError, match="timed out"):
                session.request("GET", server.url)
        finally:
            session.close()
        assert time.monotonic() - start < 2.5
