"""What collecting gives: ``CallResult`` per call and ``CollectResult`` for all of them.

Takes: nothing at import. Gives: the two result classes, ``Skipped`` (a request answered a
``skip_on`` status; caught inside ``collect``) and ``truthy`` (how ``when``, ``where`` and
``poll.until`` values count as true). Raises nothing; no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class CallResult:
    """One call's records. For fan-out calls ``parents[i]`` is the parent record of
    ``records[i]`` and ``ancestors[i]`` its chain ``[parent, grandparent, ...]`` (a list shared
    by the records of one parent: read it, do not change it); both are None otherwise.
    ``page_digests``: (64-bit XXH3 of the page's body, how many records it gave) per page,
    in order, when the records are what their pages' bytes alone give (None otherwise: a
    fan-out, a ``where`` reading the scope, records embedded into, a fallback, the headers
    format)."""

    name: str
    records: list[Any] = field(default_factory=list)
    parents: list[Any] | None = None
    ancestors: list[list[Any]] | None = None
    complete: bool = True
    status: str = "ok"
    pages: int = 0
    requests: int = 0
    seconds: float = 0.0
    page_digests: list[tuple[int, int]] | None = field(default_factory=list)


@dataclass
class CollectResult:
    calls: dict[str, CallResult] = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        return sum(c.seconds for c in self.calls.values())


class Skipped(Exception):
    """A call's request answered one of its ``skip_on`` statuses."""

    def __init__(self, status: int) -> None:
        self.status = status


def truthy(value: Any) -> bool:
    """A condition's value as a boolean: strings such as "false", "0", "no", "" are false."""
    if isinstance(value, str):
        return value.strip().lower() not in ("", "false", "0", "no", "none", "off")
    return bool(value)
