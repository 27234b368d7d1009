"""Read persisted inventory back for ``miqspec inventory``: rows of a provider's collection,
with references shown by the target's name (a vm's flavor name, not only its id).

Takes: a database engine, the provider's spec and manager ids. Gives: lists of dict rows; with
``archived``, the disconnected rows (owner cleared) of a ``delete: disconnect`` collection whose
STI type is of the provider's kind (``ManageIQ::Providers::<Kind>::...``; a disconnected row
keeps no link to the provider it left, so rows of another provider of the same spec show too).
Raises ``NotFoundError`` for an unknown collection, ``UsageError`` for ``archived`` rows of a
collection that is never disconnected. Does database reads only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from miqspec.errors import NotFoundError, UsageError
from miqspec.spec import CollectionDef, Spec

SKIP = {"created_on", "updated_on", "created_at", "updated_at"}


def _scope(table: sa.Table, coll: CollectionDef, owner: int) -> list[Any]:
    conds: list[Any] = []
    if coll.owner == "ems_id":
        conds.append(table.c.ems_id == owner)
    elif coll.owner == "manager_id":
        conds.append(table.c.manager_id == owner)
    elif coll.owner == "resource":
        conds += [table.c.resource_id == owner, table.c.resource_type == "ExtManagementSystem"]
    for col, value in coll.scope.items():
        conds.append(table.c[col] == value)
    return conds


def collection_rows(
    engine: sa.Engine,
    md: sa.MetaData,
    spec: Spec,
    coll_name: str,
    owners: Mapping[str, int],
    limit: int | None = None,
    archived: str | None = None,
) -> list[dict[str, Any]]:
    """The rows of ``coll_name`` the managers ``owners`` hold, or with ``archived`` (the
    provider's type namespace, ``ManageIQ::Providers::AwesomeCloud::``) its disconnected
    rows of that kind."""
    coll = spec.catalogue.get(coll_name)
    if coll is None:
        raise NotFoundError(f"unknown collection {coll_name!r}")
    table = md.tables[coll.table]
    if archived is not None:
        where = _archived(table, coll, archived)
    elif coll.owner == "none":
        return _child_rows(engine, md, spec, coll, owners, limit)
    else:
        where = _scope(table, coll, owners[coll_name])
    query = sa.select(table).where(*where).order_by(table.c.id)
    if limit:
        query = query.limit(limit)
    with engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(query).mappings()]
        _name_references(conn, md, spec, coll, rows)
    return rows


def _archived(table: sa.Table, coll: CollectionDef, kind: str) -> list[Any]:
    """Conditions for the disconnected rows of ``coll`` whose type is in namespace ``kind``."""
    if coll.delete != "disconnect" or coll.owner not in ("ems_id", "manager_id"):
        raise UsageError(
            f"{coll.name} rows are {'deleted' if coll.delete == 'delete' else 'kept'} when they "
            "leave the API, never disconnected: there are no archived ones"
        )
    conds: list[Any] = [table.c[coll.owner].is_(None)]
    conds += [table.c[col] == value for col, value in coll.scope.items()]
    if "type" in table.c:
        conds.append(table.c.type.startswith(kind, autoescape=True))
    return conds


def _child_rows(
    engine: sa.Engine,
    md: sa.MetaData,
    spec: Spec,
    coll: CollectionDef,
    owners: Mapping[str, int],
    limit: int | None,
) -> list[dict[str, Any]]:
    table = md.tables[coll.table]
    out: list[dict[str, Any]] = []
    with engine.connect() as conn:
        for ref in coll.references.values():
            parents = [
                spec.catalogue.collections[p]
                for p in ref.collections
                if p in coll.parent_collections and p in spec.catalogue.collections
            ]
            for parent in parents:
                ptable = md.tables[parent.table]
                ids = sa.select(ptable.c.id).where(*_scope(ptable, parent, owners[parent.name]))
                query = sa.select(table).where(table.c[ref.column].in_(ids)).order_by(table.c.id)
                out.extend(dict(r) for r in conn.execute(query).mappings())
            if parents:
                break
        out = out[:limit] if limit else out
        _name_references(conn, md, spec, coll, out)
    return out


def _name_references(
    conn: sa.Connection,
    md: sa.MetaData,
    spec: Spec,
    coll: CollectionDef,
    rows: list[dict[str, Any]],
) -> None:
    for ref in coll.references.values():
        ids = {r.get(ref.column) for r in rows if r.get(ref.column) is not None}
        if not ids:
            continue
        target = spec.catalogue.collections.get(ref.collections[0])
        if target is None:
            continue
        ttable = md.tables[target.table]
        label = next(
            (
                c
                for c in ("name", "hostname", "description", "ems_ref", "manager_ref")
                if c in ttable.c
            ),
            None,
        )
        if label is None:
            continue
        names: dict[Any, Any] = {}
        id_list = list(ids)
        for i in range(0, len(id_list), 500):
            chunk = id_list[i : i + 500]
            names.update(
                conn.execute(
                    sa.select(ttable.c.id, ttable.c[label]).where(ttable.c.id.in_(chunk))
                ).all()
            )
        for r in rows:
            if r.get(ref.column) is not None:
                r[ref.name] = names.get(r[ref.column])


def display_columns(rows: list[dict[str, Any]], coll: CollectionDef) -> list[str]:
    preferred = ["id", *coll.manager_ref, "name", "type", *coll.references]
    cols = [c for c in dict.fromkeys(preferred) if any(c in r for r in rows)]
    extra = [
        c
        for c in ("raw_power_state", "power_state", "location", "memory", "cpu_total_cores")
        if any(r.get(c) is not None for r in rows)
    ]
    return [c for c in cols + extra if c not in SKIP]
