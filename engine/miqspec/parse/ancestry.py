"""Fan-out ancestry for the parser: each call record's chain of parent records.

Takes: a ``Spec`` (each call's ``for_each``) and a ``CollectResult`` (records, ``parents`` and,
when the collector gives them, ready ``ancestors``). Gives: ``Ancestry.chains(call)``, a function
from record index to ``[parent, grandparent, ...]``. Raises nothing; no I/O.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from miqspec.collect import CallResult, CollectResult
from miqspec.spec import Spec

Chains = Callable[[int], list[Any]]


class Ancestry:
    """The fan-out ancestors of call records: ``[parent, grandparent, ...]`` per record.

    Uses ``CallResult.ancestors`` when the collector provides it, else climbs
    ``CallResult.parents`` through each call's ``for_each`` call (memoised per record).
    """

    def __init__(self, spec: Spec, collected: CollectResult) -> None:
        self.spec, self.calls = spec, collected.calls
        self._positions: dict[str, dict[int, int]] = {}
        self._memo: dict[tuple[str, int], list[Any]] = {}

    def chains(self, call: str) -> Chains:
        res = self.calls.get(call)
        ready = res.ancestors if res is not None else None
        if ready is not None:  # shared lists: read only (the parser builds new ones)
            return ready.__getitem__
        return lambda index: self.chain(call, index)

    def chain(self, call: str, index: int) -> list[Any]:
        memo = self._memo.get((call, index))
        if memo is not None:
            return memo
        res = self.calls.get(call)
        if res is None or res.parents is None or index >= len(res.parents):
            return []
        parent = res.parents[index]
        chain = [parent]
        for_each = self.spec.calls[call].for_each if call in self.spec.calls else None
        if for_each is not None and for_each.call in self.calls:
            above = self._position(self.calls[for_each.call], parent)
            if above is not None:
                chain.extend(self.chain(for_each.call, above))
        self._memo[(call, index)] = chain
        return chain

    def _position(self, res: CallResult, record: Any) -> int | None:
        positions = self._positions.get(res.name)
        if positions is None:
            positions = self._positions[res.name] = {}
            for i, r in enumerate(res.records):
                positions.setdefault(id(r), i)
        return positions.get(id(record))
