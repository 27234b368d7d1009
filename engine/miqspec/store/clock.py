"""The store's clock: naive UTC timestamps, as every ``datetime`` column holds them.

Takes nothing. Gives ``now()``. Raises nothing; no I/O.
"""

from __future__ import annotations

from datetime import UTC, datetime


def now() -> datetime:
    """The current time in UTC, without a time zone (as the tables store it)."""
    return datetime.now(UTC).replace(tzinfo=None)
