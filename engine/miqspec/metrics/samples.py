"""A metrics call's records -> each target's samples of ManageIQ counters.

Takes: the spec's ``MetricsSpec``, a call's records, the expression scope (``region``,
``provider``, ``settings``) and the target the call ran for (None for a bulk call).
Gives: ``Samples`` (per target ems_ref, per whole epoch second, the counter values) filled by
``add_records``; ``sorted_samples`` (one target's samples in time order). A point is the
record itself or each item ``samples.each`` gives (the record is then ``$parent``); its time
is ``samples.timestamp`` (truncated to whole seconds), its target ``samples.target`` or the
call's. With ``samples.name``/``value`` the points of one target and time are joined into one
sample ``{name: value}`` before the counters run on it. A counter whose expression gives no
number (null, text, a boolean) is null: a gap, never a zero. Points without a valid time or
target are counted in ``Samples.dropped``.
Raises: ``MappingError`` (an expression failing on API data, naming the spec key). No I/O.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from miqspec.errors import MappingError
from miqspec.metrics.spread import Sample, epoch_of
from miqspec.spec import Expression, MetricsSpec


@dataclass
class Samples:
    """Raw samples per target and time (before the counters), and the points dropped."""

    points: dict[str, dict[int, dict[str, Any]]] = field(default_factory=dict)
    dropped: int = 0


def _search(expr: Expression, subject: Any, scope: Mapping[str, Any], key: str) -> Any:
    if not expr.roots:
        return expr.search(subject)
    try:
        return expr.search(subject, scope)
    except MappingError as exc:
        raise MappingError(f"metrics.{key}: {exc}") from None


def add_records(
    ms: MetricsSpec,
    records: Iterable[Any],
    scope: Mapping[str, Any],
    target: str | None,
    into: Samples,
) -> None:
    """Add the points of ``records`` to ``into`` (the call ran for ``target``, or in bulk)."""
    for record in records:
        if ms.each is None:
            points: Any = [record]
            point_scope = scope
        else:
            point_scope = {**scope, "parent": record, "ancestors": [record]}
            points = _search(ms.each, record, point_scope, "samples.each")
            if not isinstance(points, list):
                points = [] if points is None else [points]
        for point in points:
            _add_point(ms, point, point_scope, target, into)


def _add_point(
    ms: MetricsSpec, point: Any, scope: Mapping[str, Any], target: str | None, into: Samples
) -> None:
    at = epoch_of(_search(ms.timestamp, point, scope, "samples.timestamp"))
    ref: Any = target
    if ms.target is not None:
        ref = _search(ms.target, point, scope, "samples.target")
    if at is None or ref is None or isinstance(ref, dict | list):
        into.dropped += 1
        return
    by_time = into.points.setdefault(str(ref), {})
    if ms.name is None:
        if isinstance(point, dict):
            by_time[at] = point
        else:
            into.dropped += 1
        return
    assert ms.value is not None
    name = _search(ms.name, point, scope, "samples.name")
    if name is None:
        into.dropped += 1
        return
    by_time.setdefault(at, {})[str(name)] = _search(ms.value, point, scope, "samples.value")


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def sorted_samples(
    ms: MetricsSpec, by_time: Mapping[int, Mapping[str, Any]], scope: Mapping[str, Any]
) -> list[Sample]:
    """One target's samples in time order, each the counter values ``ms.counters`` give."""
    out: list[Sample] = []
    counters = list(ms.counters.items())
    for at in sorted(by_time):
        sample = by_time[at]
        out.append(
            (at, {n: _number(_search(e, sample, scope, f"counters.{n}")) for n, e in counters})
        )
    return out
