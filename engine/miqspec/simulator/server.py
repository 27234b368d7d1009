"""The simulator's HTTP transport, the ``Simulator`` object and ``run_forever``.

Takes: ``SimulatorOptions`` (or the same as keyword arguments). Gives: a real HTTP/1.1 server
(keep-alive, Content-Length, TCP_NODELAY; one daemon thread per connection) serving ``SimApi``
on ``host:port`` from a background thread, with a Python API for tests (mutate, faults, reset,
stats, data). ``stop()`` closes the listening socket and every open connection and joins the
threads, so starting and stopping many simulators leaks nothing. Raises ``UsageError`` when it
cannot listen. Does network I/O.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import socketserver
import sys
import threading
import time
import traceback
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType, TracebackType
from typing import Any

from miqspec.errors import UsageError
from miqspec.simulator.api import Reply, SimApi, error_reply
from miqspec.simulator.data import Snapshot
from miqspec.simulator.options import SimulatorOptions

_POLL_S = 0.02  # serve_forever's poll interval: how long stop() may wait for the accept loop
_JOIN_S = 5.0  # how long stop() waits for connection threads after closing their sockets


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "AwesomeCloudSimulator/1.0"
    sys_version = ""
    disable_nagle_algorithm = True
    timeout = 300  # idle keep-alive connections are closed after this many seconds
    server: _Server

    def do_GET(self) -> None:
        self._serve()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_GET

    def _serve(self) -> None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0:
            self.close_connection = True
            self._send(error_reply(400, "bad Content-Length"))
            return
        body = self.rfile.read(length) if length else b""
        headers = {name.lower(): value for name, value in self.headers.items()}
        try:
            reply = self.server.api.handle(self.command, self.path, headers, body)
        except Exception:  # a simulator bug: answer 500 and say so on stderr
            traceback.print_exc(file=sys.stderr)
            reply = error_reply(500, "simulator internal error")
        if reply.delay_s > 0 and self.server.stopping.wait(reply.delay_s):
            reply.drop = True
        if reply.drop:
            self.close_connection = True
            return
        self._send(reply)

    def _send(self, reply: Reply) -> None:
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if "Content-Type" not in reply.headers:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(reply.body)

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.verbose:
            super().log_message(format, *args)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], api: SimApi, verbose: bool) -> None:
        self.api = api
        self.verbose = verbose
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._connections: dict[threading.Thread, socket.socket] = {}
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host name (socket.getfqdn): slow, and not needed.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def process_request(self, request: Any, client_address: Any) -> None:
        thread = threading.Thread(
            target=self._serve_connection, args=(request, client_address), daemon=True
        )
        with self._lock:
            self._connections[thread] = request
        thread.start()

    def _serve_connection(self, request: Any, client_address: Any) -> None:
        try:
            self.process_request_thread(request, client_address)
        finally:
            with self._lock:
                self._connections.pop(threading.current_thread(), None)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], OSError):
            return  # the client went away; nothing to report
        super().handle_error(request, client_address)

    def close_connections(self) -> None:
        """Shut down every open connection and wait for its thread."""
        with self._lock:
            connections = list(self._connections.items())
        for _, sock in connections:
            with contextlib.suppress(OSError):  # already closed by its handler
                sock.shutdown(socket.SHUT_RDWR)
        deadline = time.monotonic() + _JOIN_S
        for thread, _ in connections:
            thread.join(max(deadline - time.monotonic(), 0))


class Simulator:
    """A running (or ready to run) Awesome Cloud API; use as a context manager or start/stop."""

    def __init__(self, options: SimulatorOptions | None = None, **kwargs: Any) -> None:
        if options is not None and kwargs:
            raise UsageError("give the simulator either options or keyword arguments, not both")
        self.options = options if options is not None else SimulatorOptions.from_kwargs(**kwargs)
        self._api = SimApi(self.options)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._url: str | None = None

    def start(self) -> str:
        """Listen and serve in a background thread; returns the base URL (ending in /v1)."""
        if self._server is not None and self._url is not None:
            return self._url
        host, port = self.options.host, self.options.port
        try:
            server = _Server((host, port), self._api, self.options.verbose)
        except OSError as exc:
            raise UsageError(f"simulator cannot listen on {host}:{port}: {exc}") from exc
        bound_host, bound_port = server.server_name, server.server_port
        thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": _POLL_S},
            name=f"awesome-cloud-simulator:{bound_port}",
            daemon=True,
        )
        thread.start()
        self._server, self._thread = server, thread
        self._url = f"http://{bound_host}:{bound_port}/v1"
        return self._url

    def stop(self) -> None:
        """Stop serving, close every socket and join every thread; safe to call twice."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None or thread is None:
            return
        server.stopping.set()
        self._api.operations.cancel()  # no instance changes after stop
        server.shutdown()
        thread.join()
        server.server_close()
        server.close_connections()

    def __enter__(self) -> Simulator:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def url(self) -> str:
        """The base URL of the API, ending in ``/v1`` (the last one when stopped)."""
        if self._url is None:
            raise UsageError("the simulator has not been started")
        return self._url

    @property
    def control_url(self) -> str:
        """The base URL of the control endpoints (``.../_sim``)."""
        return self.url[: -len("/v1")] + "/_sim"

    @property
    def data(self) -> Snapshot:
        """The data as served now (lists are copies; do not edit the dicts)."""
        return self._api.dataset.snapshot()

    def mutate(
        self,
        add: int = 0,
        change: int = 0,
        remove: int = 0,
        remove_flavors: int = 0,
        **more: int,
    ) -> dict[str, list[str]]:
        """Add, change and remove instances and remove flavors (``more``: ``power``,
        ``change_flavors``, ``change_images``); returns the ids affected. Each affected object
        gets an event on ``GET /v1/events``."""
        values = {"add": add, "change": change, "remove": remove, "remove_flavors": remove_flavors}
        return self._api.mutate({**values, **more})

    def set_faults(self, **faults: Any) -> list[dict[str, Any]]:
        """Replace the faults: one rule's fields (``path=`` scopes it) or ``rules=[{...}]``.

        No arguments clear every fault. Returns the active rules.
        """
        return self._api.set_faults(faults)

    def reset(self) -> None:
        """Initial data, no faults, request counts zeroed (tokens stay valid)."""
        self._api.reset()

    def stats(self) -> dict[str, int]:
        """Requests received per path (query strings left out; control calls not counted)."""
        return self._api.stats()

    def revoke_tokens(self) -> int:
        """Invalidate every issued token; returns how many there were."""
        return self._api.revoke_tokens()


def run_forever(
    options: SimulatorOptions,
    *,
    announce: Callable[[str], None] = print,
    stop: threading.Event | None = None,
) -> None:
    """Serve until Ctrl+C, SIGTERM (when called on the main thread) or ``stop`` is set."""
    stop = stop or threading.Event()
    previous: Any = None
    on_main = threading.current_thread() is threading.main_thread()

    def on_term(signum: int, frame: FrameType | None) -> None:
        stop.set()

    with Simulator(options) as sim:
        if on_main:
            previous = signal.signal(signal.SIGTERM, on_term)
        try:
            announce(
                f"Awesome Cloud simulator serving {sim.url} (access key "
                f"{options.access_key}; {options.instances} instances, {options.flavors} "
                f"flavors, {options.images} images; control at {sim.control_url}). "
                "Press Ctrl+C to stop."
            )
            while not stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
        finally:
            if on_main:
                signal.signal(signal.SIGTERM, previous)
