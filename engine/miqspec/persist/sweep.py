"""persist's sweep: the rows of complete collections that this refresh did not see go.

Takes: the run's ``Db``, report, ``Changes``, the save order, each saved collection's
``Saved`` (its stored rows that matched no object), whether each collection is complete, and
the spec's power-state mapping.
Gives: ``sweep`` deletes the rows not seen, with the rows of owner-less child collections and
the join rows that hang on them (ManageIQ's ``dependent: :destroy``, ``persist.cascade``), or
for ``delete: archive`` ones sets ``deleted_on`` (``archive``; ``archive_on_change`` archives
a changed object's row with it), or for ``delete: disconnect`` collections runs ManageIQ's
``disconnect_inv``: owner column,
``ems_cluster_id``, ``host_id`` and ``orchestration_stack_id`` set NULL; a vm's
``raw_power_state`` becomes "unknown" (``previous_state``, ``state_changed_on`` and
``power_state`` follow), a host's ``power_state`` becomes "unknown". Only complete collections
sweep, in reverse save order; ``delete: none`` never does; an owner-less collection (hardwares,
disks) only sweeps rows whose parent was saved in this refresh.
Raises: ``DatabaseError`` (through ``Db``). Does database I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from miqspec.persist.cascade import delete_rows
from miqspec.persist.changes import Changes, Updates
from miqspec.persist.db import Db
from miqspec.persist.graph import parent_reference, sweeps
from miqspec.persist.items import Saved
from miqspec.persist.report import PersistReport
from miqspec.persist.values import OWNER_COLUMNS, key_of, poly_type, timestamp_columns

DISCONNECT_CLEARS = ("ems_cluster_id", "host_id", "orchestration_stack_id")
UNKNOWN = "unknown"
PowerStates = Callable[[Any], str] | None


def sweep(
    db: Db,
    report: PersistReport,
    changes: Changes,
    order: Sequence[str],
    saved: Mapping[str, Saved],
    complete: Mapping[str, bool],
    power_states: PowerStates,
) -> None:
    """Delete or disconnect the unseen rows of every complete collection, children first."""
    for name in reversed(order):
        cdef = db.catalogue.collections[name]
        if not sweeps(cdef, complete):
            continue
        rows = saved[name].unmatched
        if cdef.owner == "none":
            rows = _within_saved_parents(db, saved, name, rows)
        if not rows:
            continue
        if cdef.delete == "disconnect" and cdef.owner != "none":
            _disconnect(db, report, changes, power_states, name, rows, saved[name])
        elif cdef.delete == "archive":
            archive(db, changes, name, saved[name].plan, rows)
            report.of(name).archived += len(rows)
        else:
            _delete(db, report, name, [r[0] for r in rows])


def _within_saved_parents(
    db: Db, saved: Mapping[str, Saved], name: str, rows: list[Any]
) -> list[Any]:
    catalogue = db.catalogue
    rdef = parent_reference(catalogue, name)
    if rdef is None:
        return []
    parents: set[tuple[str | None, int]] = set()
    for target in rdef.collections:
        if target in saved:
            model = poly_type(catalogue.collections[target]) if rdef.type_column else None
            parents.update((model, i) for i in saved[target].ids())
    pos = saved[name].pos
    at = pos[rdef.column]
    type_at = pos[rdef.type_column] if rdef.type_column else None
    return [r for r in rows if (None if type_at is None else r[type_at], r[at]) in parents]


def _delete(db: Db, report: PersistReport, name: str, ids: Sequence[int]) -> None:
    """Delete rows and what hangs on them (``cascade``), counting each collection's deletes."""

    def counted(collection: str, count: int) -> None:
        report.of(collection).deleted += count

    delete_rows(db.catalogue, db, name, ids, counted)


def archive(db: Db, changes: Changes, name: str, plan: Any, rows: Sequence[Any]) -> None:
    """Archive stored ``rows`` (ManageIQ's ``ArchivedMixin#archive!``): ``deleted_on`` (and
    the update timestamp) set to now; the row and what hangs on it stay."""
    table = plan.table
    change: dict[str, Any] = {"deleted_on": changes.stamp(table, "deleted_on")}
    updated = timestamp_columns(plan.cdef.timestamps, table)[1]
    if updated:
        change[updated] = changes.stamp(table, updated)
    params = [{**change, "b_id": r[0]} for r in rows]
    db.update(name, {frozenset(params[0]): params})


def _disconnect(
    db: Db,
    report: PersistReport,
    changes: Changes,
    power_states: PowerStates,
    name: str,
    rows: list[Any],
    saved: Saved,
) -> None:
    """ManageIQ's ``disconnect_inv`` for vms, templates and hosts."""
    cdef, table, pos = saved.plan.cdef, saved.plan.table, saved.pos
    owner_col = OWNER_COLUMNS[cdef.owner][0]
    clears = [c for c in DISCONNECT_CLEARS if c in table.c]
    vm_like = "raw_power_state" in table.c and "previous_state" in table.c
    updated = timestamp_columns(cdef.timestamps, table)[1]
    key_at = [pos[c] for c in saved.plan.key_cols]
    updates: Updates = {}
    for r in rows:
        change: dict[str, Any] = {owner_col: None, **dict.fromkeys(clears)}
        if vm_like:
            old_raw = r[pos["raw_power_state"]]
            if old_raw != UNKNOWN:
                change["raw_power_state"] = UNKNOWN
                change["previous_state"] = old_raw
                if "state_changed_on" in table.c:
                    change["state_changed_on"] = changes.stamp(table, "state_changed_on")
            if "power_state" in table.c:
                change["power_state"] = power_states(UNKNOWN) if power_states else UNKNOWN
        elif "power_state" in table.c:
            change["power_state"] = UNKNOWN
        if updated:
            change[updated] = changes.stamp(table, updated)
        changes.note(
            name,
            "__".join("" if v is None else v for v in key_of(tuple(r[i] for i in key_at))),
            owner_col,
            r[pos[owner_col]],
            None,
        )
        change["b_id"] = r[0]
        updates.setdefault(frozenset(change), []).append(change)
    db.update(name, updates)
    report.of(name).disconnected += len(rows)
