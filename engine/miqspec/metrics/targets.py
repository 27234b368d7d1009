"""Which stored rows a metrics capture reads: the spec's targets, and which are due.

Takes: the database engine, the spec, the target collection's table, the id of the manager
owning its rows, the expression scope (``provider``, ``settings``), the time of the capture
and whether only due targets count.
Gives: ``select_targets`` -> ``Target`` list (id, ems_ref, name, ``last_perf_capture_on`` and
the row as templates and expressions see it: dates as ISO 8601 text), in id order: the
owner's rows of the collection (its catalogue scope applied, so no templates among vms),
those where ``metrics.targets.where`` is truthy, and with ``due_only`` those whose last
capture is at least ``capture_threshold`` old (or never happened).
Raises: ``MappingError`` (the ``where`` expression failing on a row, naming the spec key),
``DatabaseError``. Does database I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from miqspec.errors import MappingError
from miqspec.metrics.store import db_failed
from miqspec.spec import Spec


@dataclass(frozen=True)
class Target:
    id: int
    ref: str
    name: str | None
    last_capture: datetime | None
    row: Mapping[str, Any]


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds") + "Z"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() not in ("", "false", "0", "no", "none", "off")
    return bool(value)


def select_targets(
    engine: sa.Engine,
    spec: Spec,
    table: sa.Table,
    owner_id: int,
    scope: Mapping[str, Any],
    at: datetime,
    due_only: bool,
) -> list[Target]:
    """The capture targets of the provider whose manager row is ``owner_id``."""
    ms = spec.metrics
    assert ms is not None
    coll = spec.catalogue.collections[ms.collection]
    query = sa.select(table).order_by(table.c.id)
    if coll.owner in table.c:
        query = query.where(table.c[coll.owner] == owner_id)
    for column, value in coll.scope.items():
        if column in table.c:
            query = query.where(table.c[column] == value)
    try:
        with engine.connect() as conn:
            rows = [dict(r) for r in conn.execute(query).mappings()]
    except sa.exc.SQLAlchemyError as exc:
        raise db_failed("reading metrics targets", exc) from None
    out = []
    for row in rows:
        plain = {k: _plain(v) for k, v in row.items()}
        if ms.where is not None:
            try:
                keep = ms.where.search(plain, scope) if ms.where.roots else ms.where.search(plain)
            except MappingError as exc:
                raise MappingError(f"{ms.location}: metrics.targets.where: {exc}") from None
            if not _truthy(keep):
                continue
        last = row.get("last_perf_capture_on")
        if due_only and last is not None and (at - last).total_seconds() < ms.capture_threshold:
            continue
        ref = row.get(coll.manager_ref[0])
        if ref is None:
            continue
        out.append(Target(int(row["id"]), str(ref), row.get("name"), last, plain))
    return out
