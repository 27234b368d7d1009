"""Merging refresh targets per provider, as ManageIQ's queue does (``put_or_update``).

Takes: targets as events name them, per provider, with the time they arrived; a merge window
(seconds) and a full-refresh threshold. Gives: ``TargetQueue``: ``add(provider, targets, at)``
merges them into the provider's waiting batch (a target already waiting is not added twice;
a target of a collection without a target rule, or a batch reaching the threshold, turns the
batch into a full refresh); ``due(at)`` takes the batches whose first target has waited the
merge window (``Batch``: the provider, its targets, or ``full``), ``pending`` and ``drop``.
A burst of 1,000 events about 50 VMs inside one window gives one batch of 50 targets.
Raises nothing; no I/O. Not thread-safe: one owner (the worker loop).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from miqspec.events.targets import Target


@dataclass
class Batch:
    provider: str
    targets: dict[Target, None] = field(default_factory=dict)
    full: bool = False
    first_at: float = 0.0
    events: int = 0


class TargetQueue:
    """Waiting batches, one per provider (module docstring)."""

    def __init__(self, window: float = 1.0, threshold: int = 100) -> None:
        self.window, self.threshold = window, threshold
        self._waiting: dict[str, Batch] = {}

    def add(
        self,
        provider: str,
        targets: Iterable[Target],
        at: float,
        *,
        targetable: Iterable[str] = (),
        threshold: int | None = None,
    ) -> None:
        """Merge ``targets`` into ``provider``'s waiting batch (``targetable``: collections
        with a target rule; others make the batch a full refresh)."""
        allowed = set(targetable)
        limit = threshold or self.threshold
        batch = self._waiting.get(provider)
        for target in targets:
            if batch is None:
                batch = self._waiting[provider] = Batch(provider, first_at=at)
            batch.events += 1
            if batch.full:
                continue
            if target.collection not in allowed:
                batch.full, batch.targets = True, {}
                continue
            batch.targets[target] = None
            if len(batch.targets) >= limit:
                batch.full, batch.targets = True, {}

    def add_full(self, provider: str, at: float) -> None:
        """Queue a full refresh of ``provider`` (absorbing its waiting targets)."""
        batch = self._waiting.setdefault(provider, Batch(provider, first_at=at))
        batch.full, batch.targets = True, {}

    def due(self, at: float) -> list[Batch]:
        """The batches that have waited ``window`` seconds, taken off the queue."""
        ready = [b for b in self._waiting.values() if at - b.first_at >= self.window]
        for b in ready:
            del self._waiting[b.provider]
        return ready

    def pending(self, provider: str) -> Batch | None:
        return self._waiting.get(provider)

    def drop(self, provider: str) -> None:
        self._waiting.pop(provider, None)
