"""Read persisted inventory back for ``miqspec inventory``: rows of a provider's collection,
with references shown by the target's name (a vm's flavor name, not only its id).

Takes: a database engine, the provider's spec and manager ids. Gives: lists of dict rows (an
owner-less collection's through its parents, so collections sharing a table show their own
rows only; ``ext_management_system``: the manager's own row; an ``ancestry`` reference named
by the last id of its path); with ``archived``, the disconnected rows (owner cleared) of a
``delete: disconnect`` collection whose STI type is of the provider's kind
(``ManageIQ::Providers::<Kind>::...``; a disconnected row keeps no link to the provider it
left, so rows of another provider of the same spec show too).
Raises ``NotFoundError`` for an unknown collection (naming the closest one), ``UsageError``
for ``archived`` rows of a collection that is never disconnected. Does database reads only.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from miqspec.errors import NotFoundError, UsageError
from miqspec.spec import CollectionDef, ReferenceDef, Spec

EMS_TABLE = "ext_management_systems"
SKIP = {"created_on", "updated_on", "created_at", "updated_at"}


def _scope(table: sa.Table, coll: CollectionDef, owner: int) -> list[Any]:
    conds: list[Any] = []
    if coll.owner == "ems_id":
        conds.append(table.c.ems_id == owner)
    elif coll.owner == "manager_id":
        conds.append(table.c.manager_id == owner)
    elif coll.owner in ("resource", "parent"):
        conds += [
            table.c[f"{coll.owner}_id"] == owner,
            table.c[f"{coll.owner}_type"] == "ExtManagementSystem",
        ]
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
    """The rows of ``coll_name`` the managers ``owners`` hold (not archived), or with
    ``archived`` (the provider's type namespace, ``ManageIQ::Providers::AwesomeCloud::``) its
    disconnected rows of that kind, or for a collection that archives, its archived rows
    (``deleted_on`` set)."""
    coll = spec.catalogue.get(coll_name)
    if coll is None:
        close = difflib.get_close_matches(coll_name, list(spec.catalogue.collections), 1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise NotFoundError(f"unknown collection {coll_name!r}{hint}")
    table = md.tables[coll.table]
    if archived is not None and coll.archives and "deleted_on" in table.c:
        # archived rows keep their owner: the provider's own, ``deleted_on`` set
        where = [table.c.id.in_(_ids(md, spec, coll, owners)), table.c.deleted_on.is_not(None)]
    elif archived is not None:
        where = _archived(table, coll, archived)
    else:
        where = [table.c.id.in_(_ids(md, spec, coll, owners))]
        if coll.archives and "deleted_on" in table.c:
            where.append(table.c.deleted_on.is_(None))
    query = sa.select(table).where(*where).order_by(table.c.id)
    if limit:
        query = query.limit(limit)
    with engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(query).mappings()]
        _name_references(conn, md, spec, coll, rows)
    return rows


def _base_class(coll: CollectionDef) -> str:
    """What a polymorphic link to ``coll``'s rows holds (persist.values.poly_type's rule):
    the base class of tables whose rows have several classes, else the model class."""
    bases = {"vms": "VmOrTemplate", EMS_TABLE: "ExtManagementSystem", "switches": "Switch"}
    return bases.get(coll.table, coll.model_class)


def _ids(
    md: sa.MetaData, spec: Spec, coll: CollectionDef, owners: Mapping[str, int], depth: int = 0
) -> Any:
    """A select of the ids of ``coll``'s rows in the managers ``owners``: by its owner column
    and scope, through its parents for an owner-less collection (the hardwares of the
    provider's vms, the guest devices of those hardwares: not a host's), the managers
    themselves for the provider row (``ext_management_system``)."""
    table = md.tables[coll.table]
    if table.name == EMS_TABLE:
        manager = owners.get(coll.name)
        wanted = [manager] if manager is not None else sorted(set(owners.values()))
        return sa.select(table.c.id).where(table.c.id.in_(wanted))
    conds = [table.c[col] == value for col, value in coll.scope.items()]
    if coll.owner != "none":
        return sa.select(table.c.id).where(*_scope(table, coll, owners[coll.name]), *conds)
    links: list[Any] = []
    for ref in coll.references.values():
        parents = [
            spec.catalogue.collections[p]
            for p in ref.collections
            if p in coll.parent_collections and p in spec.catalogue.collections
        ]
        if parents and depth < 8:
            links += [
                sa.and_(
                    table.c[ref.column].in_(_ids(md, spec, parent, owners, depth + 1)),
                    *([table.c[ref.type_column] == _base_class(parent)] if ref.type_column else []),
                )
                for parent in parents
            ]
            break
    if not links:
        links = [sa.false()]
    return sa.select(table.c.id).where(sa.or_(*links), *conds)


def _archived(table: sa.Table, coll: CollectionDef, kind: str) -> list[Any]:
    """Conditions for the disconnected rows of ``coll`` whose type is in namespace ``kind``."""
    if coll.delete != "disconnect" or coll.owner not in ("ems_id", "manager_id"):
        raise UsageError(
            f"{coll.name} rows are {'deleted' if coll.delete == 'delete' else 'kept'} when they "
            "leave the API, never disconnected or archived: there are no archived ones"
        )
    conds: list[Any] = [table.c[coll.owner].is_(None)]
    conds += [table.c[col] == value for col, value in coll.scope.items()]
    if "type" in table.c:
        conds.append(table.c.type.startswith(kind, autoescape=True))
    return conds


def _name_references(
    conn: sa.Connection,
    md: sa.MetaData,
    spec: Spec,
    coll: CollectionDef,
    rows: list[dict[str, Any]],
) -> None:
    for ref in coll.references.values():
        ids = {_target_id(ref, r.get(ref.column)) for r in rows}
        ids.discard(None)
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
            found = _target_id(ref, r.get(ref.column))
            if found is not None:
                r[ref.name] = names.get(found)


def _target_id(ref: ReferenceDef, value: Any) -> int | None:
    """The row id a reference column holds; an ``ancestry`` path's last id (``"12/34"``)."""
    if value is None or ref.kind != "ancestry":
        return value if value is None or isinstance(value, int) else None
    last = str(value).rsplit("/", 1)[-1]
    return int(last) if last.isdigit() else None


def display_columns(rows: list[dict[str, Any]], coll: CollectionDef) -> list[str]:
    preferred = ["id", *coll.manager_ref, "name", "type", *coll.references]
    cols = [c for c in dict.fromkeys(preferred) if any(c in r for r in rows)]
    extra = [
        c
        for c in ("raw_power_state", "power_state", "location", "memory", "cpu_total_cores")
        if any(r.get(c) is not None for r in rows)
    ]
    return [c for c in cols + extra if c not in SKIP]
