"""The event stream's cursor: what a poll's templates read, and where the next poll starts.

Takes: an ``EventsSpec``'s ``EventCursor``, the stored cursor (None before the first poll;
``{"value": ...}`` after) and the raw events a poll read, with the time now.
Gives: ``cursor_vars`` (the ``events`` template variables: ``cursor``, the highest value seen
(sequence: that id, None at first; timestamp: that time as ISO 8601) and ``since``, where
the poll reads from: for a timestamp cursor the newest time seen less ``overlap`` (first
poll: now less ``start``), as ``%Y-%m-%dT%H:%M:%S.%f`` truncated to milliseconds, UTC with no
zone, as Azure's filter wants it; for a sequence, the cursor) and ``advance`` (the cursor
after a poll: unchanged when no event carries a usable value, so an empty poll never moves
it). Raises nothing; no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from miqspec.errors import MappingError
from miqspec.events.mapping import parse_timestamp
from miqspec.spec import EventsSpec


def _millis(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]


def cursor_vars(spec: EventsSpec, stored: Any, now: datetime) -> dict[str, Any]:
    """The ``events`` template variables of the next poll."""
    value = stored.get("value") if isinstance(stored, Mapping) else None
    if spec.cursor.type == "sequence":
        return {"cursor": value, "since": value}
    moment = parse_timestamp(value) if value is not None else None
    since = (
        (moment - timedelta(seconds=spec.cursor.overlap))
        if moment
        else (now - timedelta(seconds=spec.cursor.start))
    )
    return {"cursor": value, "since": _millis(since)}


def _sortable(kind: str, value: Any) -> Any:
    if kind == "timestamp":
        return parse_timestamp(value)
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return value
    try:
        return int(str(value))
    except ValueError:
        return None


def advance(
    spec: EventsSpec, stored: Any, events: Sequence[Any], scope: Mapping[str, Any]
) -> dict[str, Any]:
    """The cursor after a poll that read ``events`` (the highest value seen, ever)."""
    kind = spec.cursor.type
    best = stored.get("value") if isinstance(stored, Mapping) else None
    best_key = _sortable(kind, best) if best is not None else None
    expr = spec.cursor.value
    for event in events:
        try:
            value = expr.search(event, scope if expr.roots else None)
        except MappingError:
            continue
        key = _sortable(kind, value) if value is not None else None
        if key is not None and (best_key is None or key > best_key):
            best, best_key = value, key
    if kind == "timestamp" and best_key is not None:
        best = best_key.isoformat()
    return {"value": best}
