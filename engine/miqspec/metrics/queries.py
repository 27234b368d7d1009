"""Reading captured metrics back: one target's series, and rollups of every target.

Takes: the database engine, the spec (its ``metrics`` section and tables), the id of the
manager owning the targets, a target's name or ems_ref, an interval name (``realtime``,
``hourly``, ``daily``) and a start time (naive UTC).
Gives: ``find_target`` (the target row's id, ems_ref and name), ``series`` (its rows from
``metrics`` or ``metric_rollups`` in time order) and ``rollup_report`` (the rollup rows of
every row of the target collection the manager owns, by target name then time, each with
its ``ems_ref``).
Raises: ``NotFoundError`` (no such target; the message names a few), ``UsageError`` (the spec
declares no metrics), ``DatabaseError``. Does database I/O.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from miqspec.errors import NotFoundError, UsageError
from miqspec.metrics.store import db_failed, read_rows
from miqspec.metrics.tables import ROLLUPS
from miqspec.spec import MetricsSpec, Spec
from miqspec.store import Engine, spec_metadata


def _metrics(spec: Spec) -> MetricsSpec:
    if spec.metrics is None:
        raise UsageError(f"spec {spec.provider.name} declares no metrics (no metrics: section)")
    return spec.metrics


def _table(engine: Engine, spec: Spec) -> sa.Table:
    coll = spec.catalogue.collections[_metrics(spec).collection]
    return spec_metadata(engine, spec).tables[coll.table]


def _owned(spec: Spec, table: sa.Table, owner_id: int) -> list[Any]:
    """Conditions selecting the target collection's rows of the manager ``owner_id`` (its
    catalogue scope applied: no templates among vms)."""
    coll = spec.catalogue.collections[_metrics(spec).collection]
    out = [table.c[coll.owner] == owner_id]
    out.extend(table.c[k] == v for k, v in coll.scope.items() if k in table.c)
    return out


def find_target(engine: Engine, spec: Spec, owner_id: int, name: str) -> tuple[int, str, str]:
    """(id, ems_ref, name) of the target named ``name`` (or whose ems_ref it is)."""
    ms = _metrics(spec)
    coll = spec.catalogue.collections[ms.collection]
    table = _table(engine, spec)
    ref_col = table.c[coll.manager_ref[0]]
    query = sa.select(table.c.id, ref_col, table.c.name).where(
        *_owned(spec, table, owner_id), sa.or_(table.c.name == name, ref_col == name)
    )
    try:
        with engine.connect() as conn:
            found = conn.execute(query.order_by(table.c.id)).first()
            if found is None:
                some = conn.execute(
                    sa.select(table.c.name)
                    .where(*_owned(spec, table, owner_id))
                    .order_by(table.c.name)
                    .limit(5)
                ).scalars()
                hint = ", ".join(str(s) for s in some)
                raise NotFoundError(
                    f"no {ms.collection} row named {name!r} (nor with that {ref_col.name})"
                    + (f"; some: {hint}" if hint else "")
                )
    except sa.exc.SQLAlchemyError as exc:
        raise db_failed("reading metrics targets", exc) from None
    return int(found[0]), str(found[1]), str(found[2] or found[1])


def series(
    engine: Engine, spec: Spec, resource_id: int, since: datetime, interval: str
) -> list[dict[str, Any]]:
    """The target's rows of ``interval`` from ``since``, in time order."""
    return read_rows(engine, _metrics(spec).resource_type, [resource_id], since, interval)


def rollup_report(
    engine: Engine, spec: Spec, owner_id: int, since: datetime, interval: str
) -> list[dict[str, Any]]:
    """Rollup rows (``hourly`` or ``daily``) of every target the manager owns, from
    ``since``: by name, then time; each with ``ems_ref`` added."""
    ms = _metrics(spec)
    coll = spec.catalogue.collections[ms.collection]
    table = _table(engine, spec)
    ref_col = table.c[coll.manager_ref[0]]
    query = (
        sa.select(ROLLUPS, ref_col.label("ems_ref"), table.c.name.label("target_name"))
        .join(table, table.c.id == ROLLUPS.c.resource_id)
        .where(
            ROLLUPS.c.resource_type == ms.resource_type,
            ROLLUPS.c.capture_interval_name == interval,
            ROLLUPS.c.timestamp >= since,
            *_owned(spec, table, owner_id),
        )
        .order_by(table.c.name, ROLLUPS.c.resource_id, ROLLUPS.c.timestamp)
    )
    try:
        with engine.connect() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]
    except sa.exc.SQLAlchemyError as exc:
        raise db_failed("reading metric rollups", exc) from None
