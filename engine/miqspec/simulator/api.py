"""The Awesome Cloud API and the simulator's control endpoints, without the HTTP transport.

Takes: ``SimulatorOptions``, then one request at a time (method, target with query string,
headers with lower-case names, body bytes). Gives: a ``Reply`` (status, headers, JSON body,
plus a delay and a "drop the connection" flag for the transport to apply). Holds the dataset,
the issued tokens, the fault plan and per-path request counts; thread-safe. Raises nothing for
bad requests (they get 4xx replies). Does no I/O.

API (under ``/v1``): ``POST /auth/tokens``; ``GET /regions``, ``/availability_zones``,
``/instance_types``, ``/images``, ``/instances`` (the last three cursor-paginated with
``limit`` and ``next_token``); per instance ``GET /instances/<id>/detail`` (JSON with volumes
and host-relative ``links``), ``GET /instances/<id>/console`` (text/plain) and
``GET /instances/<id>/metrics?start=&end=`` (1-minute utilisation samples; ``GET /metrics``
gives those of every running instance, cursor-paginated by instance); instance operations
and provisioning (``simulator.operations``: ``POST /instances/<id>/start|stop|suspend|reboot``,
``DELETE /instances/<id>``, ``POST /instances``). Control (no
auth, under ``/_sim/`` or ``/v1/_sim/``; never faulted or counted): ``POST mutate``,
``GET|POST faults``, ``POST reset``, ``GET stats``, ``POST revoke_tokens``.
"""

from __future__ import annotations

import hmac
import json
import re
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from miqspec.errors import UsageError
from miqspec.simulator.data import PAGINATED, Dataset, InvalidToken
from miqspec.simulator.events import EventLog, events_reply_body
from miqspec.simulator.faults import MALFORMED_BODY, FaultPlan, rules_from
from miqspec.simulator.metrics import MAX_WINDOW, parse_moment, series
from miqspec.simulator.operations import SimOperations
from miqspec.simulator.options import MAX_LIMIT, SimulatorOptions

_RESOURCES = ("/regions", "/availability_zones", "/metrics", *(f"/{name}" for name in PAGINATED))
_MUTATIONS = (
    "add",
    "change",
    "remove",
    "remove_flavors",
    "power",
    "change_flavors",
    "change_images",
)
_ONE_INSTANCE = re.compile(r"^/(instances|instance_types|images)/([^/]+)$")  # one object
_CONTROL_PREFIXES = ("/_sim/", "/v1/_sim/")
_PER_INSTANCE = re.compile(r"^/instances/([^/]+)/(detail|console|metrics)$")


@dataclass
class Reply:
    """One answer for the transport to send (or not, when ``drop``)."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    drop: bool = False


def encode(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def json_reply(status: int, value: Any, headers: dict[str, str] | None = None) -> Reply:
    return Reply(status, encode(value), headers or {})


def error_reply(status: int, message: str, headers: dict[str, str] | None = None) -> Reply:
    return json_reply(status, {"error": message}, headers)


def seconds_text(seconds: float) -> str:
    """``3`` for whole seconds, else a short decimal (``0.01``); for Retry-After."""
    return str(int(seconds)) if float(seconds).is_integer() else f"{seconds:g}"


class SimApi:
    """The simulated cloud: data, tokens, faults and statistics behind one ``handle`` call."""

    def __init__(self, options: SimulatorOptions) -> None:
        self.options = options
        self.dataset = Dataset(options.instances, options.flavors, options.images, options.seed)
        self.faults = FaultPlan([options.faults])
        self.events = EventLog()  # what mutations did (GET /v1/events)
        self.operations = SimOperations(self.dataset, options, json_reply, self.events.record)
        self._lock = threading.Lock()
        self._tokens: dict[str, float] = {}  # token -> monotonic expiry
        self._stats: dict[str, int] = {}

    # -- state the Python API also uses -------------------------------------------------------

    def set_faults(self, values: Mapping[str, Any]) -> list[dict[str, Any]]:
        self.faults.set(rules_from(values))
        return self.faults.describe()

    def reset(self) -> None:
        """Initial data, no faults, zero counts; issued tokens stay valid."""
        self.operations.cancel()
        self.dataset.reset()
        self.events.clear()
        self.faults.set([])
        with self._lock:
            self._stats = {}

    def stats(self) -> dict[str, int]:
        with self._lock:
            return dict(self._stats)

    def revoke_tokens(self) -> int:
        with self._lock:
            count = len(self._tokens)
            self._tokens = {}
        return count

    def issue_token(self) -> str:
        token = secrets.token_urlsafe(24)
        now = time.monotonic()
        with self._lock:
            if len(self._tokens) > 1000:
                self._tokens = {t: exp for t, exp in self._tokens.items() if exp > now}
            self._tokens[token] = now + self.options.token_ttl
        return token

    # -- requests -----------------------------------------------------------------------------

    def handle(self, method: str, target: str, headers: Mapping[str, str], body: bytes) -> Reply:
        parts = urlsplit(target)
        path = parts.path
        for prefix in _CONTROL_PREFIXES:
            if path.startswith(prefix):
                return self._control(method, path[len(prefix) :].rstrip("/"), body)
        with self._lock:
            self._stats[path] = self._stats.get(path, 0) + 1
        decision = self.faults.decide(target)
        if decision.drop:
            return Reply(0, delay_s=decision.delay_s, drop=True)
        if decision.status == 429:
            retry = seconds_text(decision.retry_after or 0.0)
            reply = error_reply(429, "too many requests", {"Retry-After": retry})
        elif decision.status is not None:
            reply = error_reply(decision.status, "simulated failure")
        else:
            query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
            reply = self._route(method, path, query, headers, body, decision.endless)
        if decision.body_fault == "truncated":
            reply.body = reply.body[: len(reply.body) // 2]
        elif decision.body_fault == "malformed":
            reply.body = MALFORMED_BODY
        reply.delay_s = decision.delay_s
        return reply

    def _route(
        self,
        method: str,
        path: str,
        query: dict[str, str],
        headers: Mapping[str, str],
        body: bytes,
        endless: bool,
    ) -> Reply:
        resource = path[3:].rstrip("/") if path.startswith("/v1/") else None
        if resource == "/auth/tokens":
            if method != "POST":
                return error_reply(405, "method not allowed", {"Allow": "POST"})
            return self._login(body)
        if resource is not None and self.operations.handles(method, resource):
            problem = self._check_token(headers.get("authorization") or "")
            if problem:
                return error_reply(401, problem, {"WWW-Authenticate": 'Bearer realm="awesome"'})
            return self.operations.handle(method, resource, body)
        per_instance = _PER_INSTANCE.match(resource or "")
        one = _ONE_INSTANCE.match(resource or "")
        if resource not in (*_RESOURCES, "/events") and per_instance is None and one is None:
            return error_reply(404, f"no such resource: {path}")
        if method != "GET":
            return error_reply(405, "method not allowed", {"Allow": "GET"})
        problem = self._check_token(headers.get("authorization") or "")
        if problem:
            return error_reply(401, problem, {"WWW-Authenticate": 'Bearer realm="awesome"'})
        if resource == "/regions":
            return json_reply(200, {"regions": self.dataset.regions()})
        if resource == "/availability_zones":
            return json_reply(200, {"items": self.dataset.availability_zones()})
        if resource == "/events" or one is not None:
            return self._events_or_instance((one[1], one[2]) if one else None, query)
        if per_instance is not None and per_instance.group(2) == "metrics":
            return self._metrics(per_instance.group(1), query)
        if per_instance is not None:
            return self._per_instance(*per_instance.groups())
        if resource == "/metrics":
            return self._metrics(None, query)
        return self._page(str(resource)[1:], query, endless)

    def _login(self, body: bytes) -> Reply:
        try:
            values = json.loads(body or b"null")
        except (ValueError, UnicodeDecodeError):
            values = None
        if not isinstance(values, dict):
            return error_reply(401, "invalid credentials")
        access, secret = values.get("access_key"), values.get("secret_key")
        if not (isinstance(access, str) and isinstance(secret, str)):
            return error_reply(401, "invalid credentials")
        ok_access = hmac.compare_digest(access.encode(), self.options.access_key.encode())
        ok_secret = hmac.compare_digest(secret.encode(), self.options.secret_key.encode())
        if not (ok_access and ok_secret):
            return error_reply(401, "invalid credentials")
        ttl = self.options.token_ttl
        expires_in = int(ttl) if float(ttl).is_integer() else ttl
        return json_reply(200, {"token": self.issue_token(), "expires_in": expires_in})

    def _check_token(self, authorization: str) -> str | None:
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return "missing bearer token"
        token = token.strip()
        with self._lock:
            expiry = self._tokens.get(token)
            if expiry is None:
                return "invalid token"
            if expiry <= time.monotonic():
                del self._tokens[token]
                return "token expired"
        return None

    def _page(self, name: str, query: dict[str, str], endless: bool) -> Reply:
        limit = self.options.effective_page_size
        if query.get("limit"):
            try:
                limit = int(query["limit"])
            except ValueError:
                return error_reply(400, "limit must be a whole number")
            if limit < 1:
                return error_reply(400, "limit must be >= 1")
            limit = min(limit, MAX_LIMIT)
        token = query.get("next_token") or None
        try:
            items, next_token = self.dataset.page(name, limit, token)
        except InvalidToken as exc:
            return error_reply(400, str(exc))
        if endless:
            next_token = token or self.dataset.start_token(name)
        return json_reply(200, {"items": items, "next_token": next_token})

    def _metrics(self, instance_id: str | None, query: dict[str, str]) -> Reply:
        """1-minute utilisation samples of one instance (``{"items": [...]}``), or with no
        instance those of every running one, ``limit`` instances per cursor page, each
        sample naming its ``instance_id``. ``start`` and ``end`` (ISO 8601 or epoch
        seconds, at most 7 days apart) are required; stopped instances have no samples."""
        start, end = parse_moment(query.get("start")), parse_moment(query.get("end"))
        if start is None or end is None:
            return error_reply(400, "start and end are required (ISO 8601 or epoch seconds)")
        if not 0 <= end - start <= MAX_WINDOW:
            return error_reply(400, "end must follow start by at most 7 days")
        seed = self.dataset.seed
        if instance_id is not None:
            item = self.dataset.instance(instance_id)
            if item is None:
                return error_reply(404, f"no such instance: {instance_id}")
            running = item["power_state"] == "running"
            return json_reply(
                200, {"items": series(item["id"], seed, start, end) if running else []}
            )
        try:
            limit = min(max(int(query.get("limit") or 100), 1), MAX_LIMIT)
            items, token = self.dataset.page("instances", limit, query.get("next_token") or None)
        except (ValueError, InvalidToken) as exc:
            return error_reply(400, str(exc))
        records = [
            {"instance_id": item["id"], **sample}
            for item in items
            if item["power_state"] == "running"
            for sample in series(item["id"], seed, start, end)
        ]
        return json_reply(200, {"items": records, "next_token": token})

    def _events_or_instance(self, one: tuple[str, str] | None, query: dict[str, str]) -> Reply:
        """``GET /v1/instances|instance_types|images/<id>`` (the object as listed, 404 when
        gone) or ``GET /v1/events`` (``simulator.events``)."""
        if one is not None:
            kind, object_id = one
            item = self.dataset.one(kind, object_id)
            if item is None:
                return error_reply(404, f"no such {kind.rstrip('s')}: {object_id}")
            return json_reply(200, item)
        try:
            return json_reply(200, events_reply_body(self.events, query))
        except ValueError:
            return error_reply(400, "after, next_token and limit must be whole numbers")

    def _per_instance(self, instance_id: str, what: str) -> Reply:
        item = self.dataset.instance(instance_id)
        if item is None:
            return error_reply(404, f"no such instance: {instance_id}")
        if what == "console":
            text = f"console of {item['name']}: {item['power_state']}\n"
            return Reply(200, text.encode(), {"Content-Type": "text/plain; charset=utf-8"})
        volumes = int(instance_id[:2], 16) % 3 + 1
        base = f"/v1/instances/{instance_id}"
        return json_reply(
            200,
            {
                "id": instance_id,
                "name": item["name"],
                "power_state": item["power_state"],
                "volumes": [
                    {"id": f"{instance_id}-vol{k}", "size": (k + 1) * 8 * 1024**3}
                    for k in range(volumes)
                ],
                "links": {"self": f"{base}/detail", "console": f"{base}/console"},
            },
        )

    def _control(self, method: str, action: str, body: bytes) -> Reply:
        expected = "GET" if action == "stats" else "POST"
        if action not in ("mutate", "faults", "reset", "stats", "revoke_tokens"):
            return error_reply(404, f"no such control endpoint: {action}")
        if method != expected and not (action == "faults" and method == "GET"):
            return error_reply(405, "method not allowed", {"Allow": expected})
        if action == "stats":
            return json_reply(200, self.stats())
        if action == "reset":
            self.reset()
            return json_reply(200, {"reset": True})
        if action == "revoke_tokens":
            return json_reply(200, {"revoked": self.revoke_tokens()})
        if action == "faults" and method == "GET":
            return json_reply(200, {"faults": self.faults.describe()})
        try:
            values = json.loads(body or b"{}")
        except (ValueError, UnicodeDecodeError):
            return error_reply(400, "body must be JSON")
        if not isinstance(values, dict):
            return error_reply(400, "body must be a JSON object")
        try:
            if action == "faults":
                return json_reply(200, {"faults": self.set_faults(values)})
            return json_reply(200, self.mutate(values))
        except UsageError as exc:
            return error_reply(400, str(exc))

    def mutate(self, values: Mapping[str, Any]) -> dict[str, list[str]]:
        unknown = sorted(set(values) - set(_MUTATIONS))
        if unknown:
            raise UsageError(f"unknown mutation {unknown[0]!r}; known: {', '.join(_MUTATIONS)}")
        counts = {name: values.get(name, 0) for name in _MUTATIONS}
        for name, count in counts.items():
            if isinstance(count, bool) or not isinstance(count, int) or count < 0:
                raise UsageError(f"mutation {name} must be a whole number >= 0")
        affected = self.dataset.mutate(**counts)
        self.events.record(affected, self.dataset.instance)
        return affected
