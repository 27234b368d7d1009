"""The simulator's event stream: what each mutation did, as events with an increasing id.

Takes: the ids a ``Dataset.mutate`` reports (``added``, ``changed``, ``powered``,
``removed``, ``removed_flavors``, ``changed_flavors``, ``changed_images``) and the instances
as they are now (for names and power states). Gives: ``EventLog`` (``record`` appends one
event per affected object, ``page`` serves those after a cursor, ``clear``) and
``events_reply_body`` (the ``GET /v1/events`` answer: ``{"items": [...], "next_token": ...}``
with ``after`` or ``next_token`` the id to read after and ``limit`` at most 1000). An event is
``{"id", "type", "resource_type", "resource_id", "timestamp", "message", "details"}``; types:
``instance.created``, ``instance.updated``, ``instance.power_changed``, ``instance.deleted``,
``flavor.updated``, ``flavor.deleted``, ``image.updated``. Thread-safe; the log keeps the
newest ``MAX_EVENTS``. Raises ``ValueError`` for a cursor that is not a whole number. No I/O.
"""

from __future__ import annotations

import threading
from bisect import bisect_right
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

MAX_EVENTS = 200_000
MAX_PAGE = 1000

_KINDS = (
    ("added", "instance", "instance.created", "created"),
    ("changed", "instance", "instance.updated", "updated"),
    ("powered", "instance", "instance.power_changed", "power state changed"),
    ("removed", "instance", "instance.deleted", "deleted"),
    ("removed_flavors", "flavor", "flavor.deleted", "deleted"),
    ("changed_flavors", "flavor", "flavor.updated", "updated"),
    ("changed_images", "image", "image.updated", "updated"),
)


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class EventLog:
    """Events in id order (ids start at 1 and never repeat, even after ``clear``)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._events: list[dict[str, Any]] = []
        self._ids: list[int] = []
        self._next = 1

    def clear(self) -> None:
        with self._lock:
            self._events, self._ids = [], []

    def record(
        self, affected: Mapping[str, list[str]], instance: Callable[[str], Any] | None = None
    ) -> int:
        """One event per affected id (``instance(id)``: the instance now, for details)."""
        added = 0
        with self._lock:
            for key, kind, etype, verb in _KINDS:
                for rid in affected.get(key, ()):
                    item = instance(rid) if instance and kind == "instance" else None
                    details = (
                        {"name": item.get("name"), "power_state": item.get("power_state")}
                        if isinstance(item, dict)
                        else {}
                    )
                    self._events.append(
                        {
                            "id": self._next,
                            "type": etype,
                            "resource_type": kind,
                            "resource_id": rid,
                            "timestamp": _stamp(),
                            "message": f"{kind} {rid} {verb}",
                            "details": details,
                        }
                    )
                    self._ids.append(self._next)
                    self._next += 1
                    added += 1
            if len(self._events) > MAX_EVENTS:
                cut = len(self._events) - MAX_EVENTS
                self._events, self._ids = self._events[cut:], self._ids[cut:]
        return added

    def page(self, after: int, limit: int) -> tuple[list[dict[str, Any]], int | None]:
        """Up to ``limit`` events with an id above ``after``; the next token (None: no more)."""
        with self._lock:
            start = bisect_right(self._ids, after)
            items = self._events[start : start + limit]
            more = start + limit < len(self._events)
        return items, (items[-1]["id"] if more and items else None)


def events_reply_body(log: EventLog, query: Mapping[str, str]) -> dict[str, Any]:
    """The body of ``GET /v1/events`` (``ValueError`` for a bad ``after``/``limit``)."""
    after = int(query.get("next_token") or query.get("after") or 0)
    limit = min(max(int(query.get("limit") or 100), 1), MAX_PAGE)
    items, token = log.page(after, limit)
    return {"items": items, "next_token": None if token is None else str(token)}
