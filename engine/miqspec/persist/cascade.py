"""Deleting inventory rows with what hangs on them (ManageIQ's ``dependent: :destroy``).

Takes: the catalogue, a persist ``Db`` (statements inside the caller's transaction, honouring
its ``dry_run``), a collection name and the ids of its rows that go, and optionally a callback
told how many rows of each collection were deleted.
Gives: ``children_of`` (the owner-less collections whose parent reference points at a
collection), ``delete_rows`` (delete rows, then cascade) and ``cascade`` (delete only what
depends on rows already gone: rows of owner-less child collections, recursively (hardwares of
vms, disks of those hardwares), and the many-to-many join rows naming a deleted row on either
side). Used by persist's sweep and by ``provider delete``.
Raises: ``DatabaseError`` (through ``Db``). Does database I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from miqspec.persist.db import Db
from miqspec.persist.graph import parent_reference
from miqspec.persist.values import poly_type
from miqspec.spec import Catalogue, ReferenceDef

Counted = Callable[[str, int], None]


def children_of(catalogue: Catalogue, parent: str) -> list[tuple[str, ReferenceDef]]:
    """Owner-less collections whose parent reference points at ``parent``."""
    out: list[tuple[str, ReferenceDef]] = []
    for name, cdef in catalogue.collections.items():
        if cdef.owner == "none" and name != parent:
            rdef = parent_reference(catalogue, name)
            if rdef is not None and parent in rdef.collections:
                out.append((name, rdef))
    return out


def delete_rows(
    catalogue: Catalogue,
    db: Db,
    name: str,
    ids: Sequence[int],
    counted: Counted | None = None,
) -> None:
    """Delete rows of collection ``name`` by id, then what depends on them."""
    db.delete_ids(name, db.table(name), ids)
    if counted is not None:
        counted(name, len(ids))
    cascade(catalogue, db, name, ids, counted)


def cascade(
    catalogue: Catalogue,
    db: Db,
    name: str,
    ids: Sequence[int],
    counted: Counted | None = None,
) -> None:
    """Remove what depends on deleted rows of ``name``: owner-less children and join rows."""
    model = poly_type(catalogue.collections[name])
    for child, rdef in children_of(catalogue, name):
        if not db.has_table(child):
            continue
        table = db.table(child)
        extra = table.c[rdef.type_column] == model if rdef.type_column else None
        child_ids = db.ids_where(child, table, rdef.column, ids, extra)
        if child_ids:
            delete_rows(catalogue, db, child, child_ids, counted)
    done: set[tuple[str, str]] = set()
    table_name = catalogue.collections[name].table
    for owner_name, cdef in catalogue.collections.items():
        for m2m in cdef.many_to_many.values():
            join = db.metadata.tables.get(m2m.join_table)
            if join is None:
                continue
            for col, side in ((m2m.own_column, owner_name), (m2m.other_column, m2m.collection)):
                side_def = catalogue.get(side)
                if (
                    side_def is not None
                    and side_def.table == table_name
                    and (join.name, col) not in done
                ):
                    done.add((join.name, col))
                    db.join_delete(name, join, col, ids)
