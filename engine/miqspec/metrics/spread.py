"""Provider samples onto ManageIQ's 20-second realtime grid.

Takes: one target's samples as (epoch seconds, counter values), the provider's sample
interval in seconds. Gives: ``spread`` (the realtime points: each sample written at t,
t+20 s, t+40 s, ... up to the next sample, and never past t + interval, so a gap in the
provider's data stays a gap; the last sample written once, as ManageIQ's Azure capture does;
a later capture, starting at that sample, fills the rest) and ``epoch_of`` (a timestamp value
from an API as whole epoch seconds, truncated: ISO 8601 text with or without a zone (UTC
assumed), epoch seconds or milliseconds; None when it is none of these). Raises nothing;
no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from miqspec.spec import REALTIME_INTERVAL

Sample = tuple[int, Mapping[str, Any]]


def epoch_of(value: Any) -> int | None:
    """``value`` as whole epoch seconds (truncated toward the past), or None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        if not math.isfinite(value):
            return None
        seconds = value / 1000 if abs(value) >= 1e11 else value
        return math.floor(seconds)
    if isinstance(value, str):
        text = value.strip()
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return math.floor(moment.timestamp())
    return None


def spread(
    samples: Sequence[Sample], interval: int, step: int = REALTIME_INTERVAL
) -> Iterator[Sample]:
    """The realtime points of ``samples`` (sorted by time, one per time)."""
    count = len(samples)
    for i, (at, values) in enumerate(samples):
        if i + 1 == count:
            yield at, values
            break
        until = min(samples[i + 1][0], at + max(interval, 1))
        for moment in range(at, until, step):
            yield moment, values
