"""Build the typed ``events`` section and the collections' ``target`` rules of a checked spec.

Takes: a ``LoadedDocument`` whose data passed ``checks`` (for locations), the raw data and the
expression compiler bound to the spec's functions.
Gives: ``build_events`` (an ``EventsSpec``, or None when the spec declares no events) and
``build_targets`` (collection -> ``CollectionTarget`` for the collections with ``target``).
Raises nothing for checked input; no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from miqspec.spec.build_metrics import seconds
from miqspec.spec.document import LoadedDocument
from miqspec.spec.events_model import (
    DEFAULT_FULL_REFRESH_THRESHOLD,
    DEFAULT_GONE_ON,
    DEFAULT_OVERLAP,
    DEFAULT_POLL,
    DEFAULT_START,
    CollectionTarget,
    EventCursor,
    EventsSpec,
    EventTargetRule,
)
from miqspec.spec.expressions import Expression

Compile = Callable[[str], Expression]


def first_source_call(raw: Mapping[str, Any]) -> str | None:
    """The call a collection mapping reads first (``from``, else its first source's)."""
    if isinstance(raw.get("from"), str):
        return str(raw["from"])
    for source in raw.get("sources") or ():
        if isinstance(source, dict) and isinstance(source.get("from"), str):
            return str(source["from"])
    return None


def build_targets(doc: LoadedDocument, data: Mapping[str, Any]) -> dict[str, CollectionTarget]:
    """``collections.<name>.target`` of every collection that has one."""
    out: dict[str, CollectionTarget] = {}
    for name, raw in (data.get("collections") or {}).items():
        target = raw.get("target") if isinstance(raw, dict) else None
        if not isinstance(target, dict):
            continue
        out[name] = CollectionTarget(
            collection=name,
            call=target["call"],
            replaces=target.get("replaces") or first_source_call(raw) or target["call"],
            gone_on=tuple(target.get("gone_on") or DEFAULT_GONE_ON),
            location=doc.location(("collections", name, "target"), key=True),
            with_calls=dict(target.get("with") or {}),
            fan_outs=target.get("fan_outs") is not False,
        )
    return out


def build_events(
    doc: LoadedDocument, raw: Mapping[str, Any] | None, cx: Compile
) -> EventsSpec | None:
    """The ``events`` section as an ``EventsSpec`` (None when absent)."""
    if not raw:
        return None
    cursor = raw["cursor"]
    ignore = raw.get("ignore") or {}
    fields = dict(raw["fields"])
    return EventsSpec(
        call=raw["call"],
        interval=seconds(raw.get("interval"), DEFAULT_POLL),
        cursor=EventCursor(
            type=cursor["type"],
            value=cx(cursor["value"]),
            overlap=seconds(cursor.get("overlap"), DEFAULT_OVERLAP),
            start=seconds(cursor.get("start"), DEFAULT_START),
        ),
        fields={name: cx(text) for name, text in fields.items()},
        ignore_types=frozenset(ignore.get("event_types") or ()),
        ignore_where=cx(ignore["where"]) if ignore.get("where") else None,
        targets=tuple(
            EventTargetRule(
                collection=rule["collection"],
                ref=cx(rule["ref"]),
                where=cx(rule["where"]) if rule.get("where") else None,
                location=doc.location(("events", "targets", i)),
            )
            for i, rule in enumerate(raw.get("targets") or ())
        ),
        full_refresh_threshold=int(
            raw.get("full_refresh_threshold") or DEFAULT_FULL_REFRESH_THRESHOLD
        ),
        location=doc.location(("events",), key=True),
    )
