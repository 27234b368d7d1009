"""What a persist run reports: per-collection counts, a sample of changes, phase timings.

Takes/gives plain data: ``PersistReport`` (``CollectionReport`` per collection, a sample of
``Change``s, phase timings, rows and digest rows written) and ``Clock`` (adds the time since
its last tick to a phase of the report). No I/O, raises nothing.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any


@dataclass
class CollectionReport:
    created: int = 0
    updated: int = 0
    deleted: int = 0
    disconnected: int = 0
    reconnected: int = 0
    archived: int = 0  # ``delete: archive``: rows not seen, kept with ``deleted_on`` set
    unchanged: int = 0
    skipped: int = 0
    unresolved: int = 0
    links_added: int = 0
    links_removed: int = 0
    carried: int = 0  # of ``unchanged``: rows of records not parsed again (``persist.carry``)
    #: records that gave no row: dropped by parse (a manager_ref all null or with a null
    #: foreign key part, a duplicate with other values) or ``skipped`` here
    dropped: int = 0


@dataclass(frozen=True)
class Change:
    collection: str
    ref: str
    attribute: str
    old: Any
    new: Any


@dataclass
class PersistReport:
    collections: dict[str, CollectionReport] = field(default_factory=dict)
    rows_written: int = 0
    changes: list[Change] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)
    deferred: dict[str, list[str]] = field(default_factory=dict)
    dry_run: bool = False
    #: collections whose stored row digests were rewritten (bookkeeping, not inventory rows)
    digests_written: int = 0
    #: provider labels mapped to tags (``persist.tags``): taggings added and removed, tag
    #: entries created; empty when no collection has ``tags:``
    tags: dict[str, int] = field(default_factory=dict)

    def of(self, name: str) -> CollectionReport:
        return self.collections.setdefault(name, CollectionReport())


class Clock:
    """Phase timings of one run: ``tick(phase)`` adds the time since the last tick."""

    def __init__(self, timings: dict[str, float]) -> None:
        self.timings = timings
        self.started = self._last = time.perf_counter()

    def tick(self, phase: str) -> None:
        now = time.perf_counter()
        self.timings[phase] = self.timings.get(phase, 0.0) + now - self._last
        self._last = now

    def total(self) -> None:
        """Record the time since the clock started as ``total``."""
        self.timings["total"] = time.perf_counter() - self.started
