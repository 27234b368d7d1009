"""The changes a persist run makes to stored rows: timestamps, the sampled changes, updates.

Takes: the run's report, ``now`` and how many field changes to sample.
Gives: ``Changes``: ``stamp`` (``now`` in a column's type), ``note`` (a field change, kept in
the report's sample while it has room) and ``queue_update`` (an item's changed columns as the
parameters of a batched update, grouped by the set of columns, with ``previous_state`` /
``state_changed_on`` when ``raw_power_state`` changes and the table's ``updated_on``).
Raises nothing. No I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from miqspec.persist.items import Item
from miqspec.persist.report import Change, PersistReport
from miqspec.persist.rows import RowPlan
from miqspec.persist.values import coercer, ref_text

Updates = dict[frozenset[str], list[dict[str, Any]]]  # update parameters by their columns
Stamps = tuple[str | None, str | None]  # a table's created / updated timestamp columns


class Changes:
    """Timestamps, sampled changes and queued updates of one persist run."""

    def __init__(self, report: PersistReport, now: datetime, sample: int) -> None:
        self.report, self.now, self.sample = report, now, sample

    def stamp(self, table: sa.Table, col: str) -> Any:
        return coercer(table.c[col])[1](self.now)

    def note(self, name: str, ref: str, col: str, old: Any, new: Any) -> None:
        if len(self.report.changes) < self.sample:
            self.report.changes.append(Change(name, ref, col, old, new))

    def queue_update(
        self,
        name: str,
        plan: RowPlan,
        item: Item,
        changed: dict[str, Any],
        pos: Mapping[str, int],
        updates: Updates,
        ts: Stamps,
    ) -> None:
        """Queue ``item``'s ``changed`` columns (its stored row is ``item.old``)."""
        old = item.old
        if len(self.report.changes) < self.sample:
            text = ref_text(item.obj.ref)
            for col, value in changed.items():
                self.note(name, text, col, old[pos[col]], value)
        if "raw_power_state" in pos:
            self._power(plan, item.row, old[pos["raw_power_state"]], changed)
        if ts[1]:
            changed[ts[1]] = self.stamp(plan.table, ts[1])
        changed["b_id"] = item.id
        updates.setdefault(frozenset(changed), []).append(changed)

    def _power(
        self, plan: RowPlan, row: Mapping[str, Any], old_raw: Any, changed: dict[str, Any]
    ) -> None:
        """previous_state / state_changed_on when raw_power_state changes (§3.8)."""
        if "raw_power_state" in row and row["raw_power_state"] != old_raw:
            if "previous_state" in plan.table.c:
                changed["previous_state"] = old_raw
            if "state_changed_on" in plan.table.c:
                changed["state_changed_on"] = self.stamp(plan.table, "state_changed_on")
