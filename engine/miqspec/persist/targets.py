"""The rows a targeted refresh compares: its targets' rows and the rows hanging on them.

Takes: the run's ``Db``, a collection name and the targets (collection -> the manager_ref
values of its targeted objects; single-attribute manager_refs).
Gives: ``target_scope`` (a condition narrowing ``Db.scope(name)``: rows of a targeted
collection whose manager_ref is a target's; rows of an owner-less collection whose parent,
or grandparent, is such a row; None when the collection is not narrowed). ManageIQ's
``targeted_arel``: what a targeted refresh does not name is never loaded, so never updated,
deleted or disconnected. Raises ``MappingError`` for a targeted collection whose manager_ref
is not one plain column. No I/O (conditions only).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

import sqlalchemy as sa

from miqspec.errors import MappingError
from miqspec.persist.db import Db
from miqspec.persist.graph import parent_reference
from miqspec.persist.values import key_columns

Targets = Mapping[str, Collection[str]]


def target_scope(
    db: Db, name: str, targets: Targets, seen: frozenset[str] = frozenset()
) -> sa.ColumnElement[bool] | None:
    """Rows of ``name`` a targeted refresh may touch (None: not narrowed by the targets)."""
    cdef = db.catalogue.collections[name]
    table = db.table(name)
    if name in targets:
        cols = key_columns(cdef, table)
        if len(cols) != 1:
            raise MappingError(
                f"{name}: a targeted refresh needs a manager_ref of one plain column "
                f"(got {', '.join(cols)})"
            )
        return table.c[cols[0]].in_(sorted(targets[name]))
    if cdef.owner != "none" or name in seen:
        return None
    rdef = parent_reference(db.catalogue, name)
    if rdef is None:
        return None
    conds: list[sa.ColumnElement[bool]] = []
    for parent in rdef.collections:
        if not db.has_table(parent) or parent == name:
            continue
        inner = target_scope(db, parent, targets, seen | {name})
        if inner is None:
            continue
        ptable = db.table(parent)
        ids = sa.select(ptable.c.id).where(sa.and_(db.scope(parent), inner))
        conds.append(table.c[rdef.column].in_(ids))
    return sa.or_(*conds) if conds else None
