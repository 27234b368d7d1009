"""Deleting a provider: its managers, credentials, endpoints and inventory, in one transaction.

Takes: a database engine, the shipped catalogue's tables, the provider's row and the ids of its
manager rows (its own and its child managers').
Gives: ``delete_provider(engine, md, ems, ids)``: how many manager rows went.
Raises: ``DatabaseError`` (the database refused).
Does database I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from miqspec import persist  # its face: ``persist.cascade`` (the function, not the module)
from miqspec.errors import DatabaseError, MiqspecError
from miqspec.spec import Catalogue, load_catalogue
from miqspec.store.database import error_reason
from miqspec.store.event_log import EventLog
from miqspec.store.spec_refs import spec_for
from miqspec.store.tables import build_metadata


def delete_provider(
    engine: sa.Engine, md: sa.MetaData, ems: Mapping[str, Any], ids: Sequence[int]
) -> int:
    """Delete a provider, its child managers, credentials, endpoints, inventory (its
    spec's own ``models`` included): the rows owned through ``ems_id``/``manager_id``/
    ``resource``, then (``cascade``, as persist's sweep does) the owner-less rows hanging off
    them (hardwares and disks of the vms, ...), the join rows naming any deleted row and the
    deleted rows' taggings, its stored events and event-stream cursor; one transaction.
    Returns how many manager rows went. ``md`` holds
    the shipped catalogue's tables; ``ids`` are the provider's own manager row and its child
    managers'."""
    name, ids = ems["name"], list(ids)
    ems_table = md.tables["ext_management_systems"]
    catalogue, metadata = _schema(md, ems)
    try:
        with engine.begin() as conn:
            present = set(sa.inspect(conn).get_table_names())
            gone: dict[str, list[int]] = {ems_table.name: ids}  # table -> deleted ids
            for table in metadata.sorted_tables:
                owned = _owned_by(table, ids)
                if table.name == ems_table.name or owned is None or table.name not in present:
                    continue
                if "id" in table.c:
                    found = conn.execute(sa.select(table.c.id).where(owned)).scalars()
                    gone[table.name] = list(found)
                conn.execute(table.delete().where(owned))
            conn.execute(ems_table.delete().where(ems_table.c.id.in_(ids)))
            db = persist.Db(conn, metadata, catalogue, {}, dry_run=False)
            for collection, cdef in catalogue.collections.items():
                if gone.get(cdef.table) and db.has_table(collection):
                    persist.cascade(catalogue, db, collection, gone[cdef.table])
            if "taggings" in present:  # the deleted rows' tags (ManageIQ's dependent: :destroy)
                persist.delete_taggings(conn, catalogue, gone)
            if "event_streams" in present:  # its events and stream cursor
                for ems_id in ids:
                    EventLog(engine).delete_provider(conn, ems_id)
    except sa.exc.SQLAlchemyError as exc:
        raise DatabaseError(f"cannot delete provider {name!r}: {error_reason(exc)}") from None
    return len(ids)


def _schema(md: sa.MetaData, ems: Mapping[str, Any]) -> tuple[Catalogue, sa.MetaData]:
    """The catalogue and tables of the provider's spec, its own ``models`` included; the
    shipped ones when the spec cannot be loaded (a provider is deletable all the same)."""

    shipped = load_catalogue()
    try:
        spec = spec_for(ems)
    except MiqspecError:
        return shipped, md
    if set(spec.catalogue.collections) <= set(shipped.collections):
        return shipped, md
    return spec.catalogue, build_metadata(spec.catalogue)


def _owned_by(table: sa.Table, ids: list[int]) -> sa.ColumnElement[bool] | None:
    """Rows of ``table`` owned by one of the managers ``ids`` (None: no owner column)."""
    cols = table.c
    conds: list[sa.ColumnElement[bool]] = [
        cols[c].in_(ids) for c in ("ems_id", "manager_id") if c in cols
    ]
    if "resource_id" in cols and "resource_type" in cols:
        conds.append(
            sa.and_(cols.resource_type == "ExtManagementSystem", cols.resource_id.in_(ids))
        )
    return sa.or_(*conds) if conds else None
