"""Raw provider events -> ``event_streams`` rows and the refresh targets they name.

Takes: an ``EventsSpec`` and the raw events one poll read (JSON values), with the scope of
their expressions (``region``, ``provider``, ``settings``).
Gives: ``map_events`` -> ``EventBatch``: ``rows`` (dicts of event_streams columns:
``timestamp`` a naive UTC datetime truncated to microseconds, as ManageIQ's duplicate check
needs; ``full_data`` the raw event as JSON unless the spec maps it; ``chain_id`` an integer
or NULL; ``is_task`` a boolean), ``targets`` (per row, the ``Target``\\ s its rules name),
``ignored`` (dropped by ``ignore``) and ``errors`` (one line per malformed event: not an
object, no event_type, a timestamp that does not parse, an expression failing; such events
are skipped, the others go on). ``parse_timestamp`` (ISO 8601 with any fraction, or epoch
seconds or milliseconds -> naive UTC datetime). Raises nothing; no I/O.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from miqspec.errors import MappingError
from miqspec.events.targets import Target
from miqspec.spec import EventsSpec, Expression

_TEXT_LIMIT = 255  # string columns of event_streams


@dataclass
class EventBatch:
    rows: list[dict[str, Any]] = field(default_factory=list)
    targets: list[list[Target]] = field(default_factory=list)
    ignored: int = 0
    errors: list[str] = field(default_factory=list)


def parse_timestamp(value: Any) -> datetime | None:
    """ISO 8601 (``Z`` or an offset, any number of fraction digits, truncated to 6) or epoch
    seconds/milliseconds -> naive UTC datetime; None when it does not parse."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        seconds = value / 1000 if value > 1e11 else value
        try:
            return datetime.fromtimestamp(seconds, UTC).replace(tzinfo=None)
        except (OverflowError, OSError, ValueError):
            return None
    text = str(value).strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    head, dot, rest = text.partition(".")
    if dot:
        digits = len(rest) - len(rest.lstrip("0123456789"))
        text = head + "." + (rest[:digits][:6] or "0").ljust(6, "0") + rest[digits:]
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return text if text.strip() else None


def _describe(event: Any) -> str:
    if isinstance(event, dict):
        for key in ("id", "eventDataId", "ems_ref"):
            if key in event:
                return f"event {key}={str(event[key])[:80]!r}"
    return f"event {json.dumps(event, default=str)[:80]}"


def _search(expr: Expression, event: Any, scope: Mapping[str, Any], where: str) -> Any:
    try:
        return expr.search(event, scope if expr.roots else None)
    except MappingError as exc:
        raise MappingError(f"events.{where}: {exc}") from None


def map_event(
    spec: EventsSpec, event: Any, scope: Mapping[str, Any]
) -> tuple[dict[str, Any] | None, list[Target]]:
    """One raw event -> (row, targets); (None, []) when ignored. ``MappingError`` (one line)
    for a malformed event."""
    if not isinstance(event, dict):
        raise MappingError(f"{_describe(event)}: not a JSON object")
    if spec.ignore_where is not None and _search(spec.ignore_where, event, scope, "ignore.where"):
        return None, []
    row: dict[str, Any] = {}
    for name, expr in spec.fields.items():
        row[name] = _search(expr, event, scope, f"fields.{name}")
    etype = _text(row.get("event_type"))
    if etype is None:
        raise MappingError(f"{_describe(event)}: no event_type (events.fields.event_type)")
    if etype in spec.ignore_types:
        return None, []
    stamp = parse_timestamp(row.get("timestamp"))
    if stamp is None:
        raise MappingError(
            f"{_describe(event)}: timestamp {row.get('timestamp')!r} is not a time "
            "(events.fields.timestamp)"
        )
    row["event_type"], row["timestamp"] = etype[:_TEXT_LIMIT], stamp
    for name in ("source", "ems_ref", "vm_ems_ref", "host_ems_ref", "username"):
        value = _text(row.get(name))
        row[name] = value[:_TEXT_LIMIT] if value is not None else None
    row["message"] = _text(row.get("message"))
    chain = row.get("chain_id")
    row["chain_id"] = chain if isinstance(chain, int) and not isinstance(chain, bool) else None
    row["is_task"] = bool(row["is_task"]) if row.get("is_task") is not None else None
    full = row.get("full_data", event) if "full_data" in spec.fields else event
    row["full_data"] = json.dumps(full, sort_keys=True, default=str)
    targets: list[Target] = []
    for i, rule in enumerate(spec.targets):
        if rule.where is not None and not _search(rule.where, event, scope, f"targets[{i}].where"):
            continue
        refs = _search(rule.ref, event, scope, f"targets[{i}].ref")
        for ref in refs if isinstance(refs, list) else [refs]:
            if ref is not None and str(ref) != "":
                targets.append(Target(rule.collection, str(ref)))
    return row, targets


def map_events(spec: EventsSpec, events: Sequence[Any], scope: Mapping[str, Any]) -> EventBatch:
    """Every raw event of a poll (module docstring); a malformed one is an error line."""
    batch = EventBatch()
    for event in events:
        try:
            row, targets = map_event(spec, event, scope)
        except MappingError as exc:
            batch.errors.append(str(exc))
            continue
        if row is None:
            batch.ignored += 1
            continue
        batch.rows.append(row)
        batch.targets.append(targets)
    return batch
