"""The stored rows operations act on: find one, list them, write a transitional state, remove.

Takes: a database engine, the collection's table (``store.spec_tables``) and ``CollectionDef``,
the id of the manager row owning the provider's rows of it, and the provider's class
namespace (``ManageIQ::Providers::AwesomeCloud``: archived rows keep only their type).
Gives: ``find_row`` (by ems_ref, else by name, among the owner's rows in the collection's
scope; an archived row, owner cleared, is found too and flagged), ``list_rows``, ``plain``
(a row as templates and expressions see it: dates as ISO 8601 text), ``write_power_state``
(ManageIQ's ``raw_power_state=``: previous_state, state_changed_on, power_state) and
``remove_row`` (the collection's delete rule for exactly that row: delete, or disconnect as
ManageIQ's ``disconnect_inv``).
Raises: ``NotFoundError`` (with the closest names), ``UsageError`` (a name several rows
share), ``DatabaseError``. Does database I/O.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from miqspec.errors import DatabaseError, NotFoundError, UsageError
from miqspec.spec import CollectionDef
from miqspec.store import now

OWNER_COLUMN = {"ems_id": "ems_id", "manager_id": "manager_id", "resource": "resource_id"}
DISCONNECT_CLEARS = ("ems_cluster_id", "host_id", "orchestration_stack_id")
UNKNOWN = "unknown"


@dataclass(frozen=True)
class Found:
    """A stored row (as stored) and whether it is archived (disconnected, or ``deleted_on``)."""

    row: Mapping[str, Any]
    archived: bool


def db_failed(what: str, exc: BaseException) -> DatabaseError:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return DatabaseError(f"{what}: {text.splitlines()[0] if text else type(exc).__name__}")


def plain(row: Mapping[str, Any]) -> dict[str, Any]:
    """``row`` with dates as ISO 8601 text and decimals as floats (for templates, JSON)."""
    out: dict[str, Any] = {}
    for key, value in row.items():
        if isinstance(value, datetime):
            value = value.isoformat(timespec="seconds") + "Z"
        elif isinstance(value, date):
            value = value.isoformat()
        elif isinstance(value, Decimal):
            value = float(value)
        out[key] = value
    return out


def _scope(table: sa.Table, coll: CollectionDef) -> list[Any]:
    return [table.c[col] == value for col, value in coll.scope.items() if col in table.c]


def list_rows(
    engine: sa.Engine, table: sa.Table, coll: CollectionDef, owner_id: int
) -> list[dict[str, Any]]:
    """The owner's rows of ``coll``, in id order."""
    owner = table.c[OWNER_COLUMN.get(coll.owner, "ems_id")]
    query = sa.select(table).where(owner == owner_id, *_scope(table, coll)).order_by(table.c.id)
    try:
        with engine.connect() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]
    except sa.exc.SQLAlchemyError as exc:
        raise db_failed(f"reading {coll.name}", exc) from None


def find_row(
    engine: sa.Engine,
    table: sa.Table,
    coll: CollectionDef,
    owner_id: int,
    key: str,
    namespace: str,
) -> Found:
    """The row ``key`` (an ems_ref, else a name) names (see the module doc)."""
    owner = table.c[OWNER_COLUMN.get(coll.owner, "ems_id")]
    ref = table.c[coll.manager_ref[0]]
    scope = _scope(table, coll)
    archived = "deleted_on" in table.c
    kind = [table.c.type.startswith(namespace + "::")] if "type" in table.c else []
    try:
        with engine.connect() as conn:
            for conds in (
                [owner == owner_id, ref == key, *scope],
                [owner == owner_id, table.c.name == key, *scope],
                [owner.is_(None), ref == key, *scope, *kind],
                [owner.is_(None), table.c.name == key, *scope, *kind],
            ):
                rows = [dict(r) for r in conn.execute(sa.select(table).where(*conds)).mappings()]
                if len(rows) > 1:
                    refs = ", ".join(str(r[coll.manager_ref[0]]) for r in rows[:5])
                    raise UsageError(
                        f"{len(rows)} {coll.name} are named {key!r}; give the ems_ref ({refs})"
                    )
                if rows:
                    row = rows[0]
                    gone = row.get(owner.name) is None or (archived and row.get("deleted_on"))
                    return Found(row, bool(gone))
            names = conn.execute(
                sa.select(table.c.name).where(owner == owner_id, *scope).limit(10000)
            ).scalars()
            close = difflib.get_close_matches(key, [n for n in names if n], 1)
    except sa.exc.SQLAlchemyError as exc:
        raise db_failed(f"reading {coll.name}", exc) from None
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise NotFoundError(f"no {coll.name} row named or with ems_ref {key!r}{hint}")


def write_power_state(
    engine: sa.Engine, table: sa.Table, row_id: int, raw: str, power_state: Callable[[Any], str]
) -> dict[str, Any]:
    """ManageIQ's ``raw_power_state=`` on row ``row_id``: on a change, ``previous_state`` is
    the old raw value and ``state_changed_on`` now; ``power_state`` follows. Gives the values
    written."""
    try:
        with engine.begin() as conn:
            old = conn.execute(
                sa.select(table.c.raw_power_state).where(table.c.id == row_id)
            ).scalar()
            if old == raw:
                return {}
            stamp = now()
            values: dict[str, Any] = {"raw_power_state": raw}
            optional = {
                "previous_state": old,
                "state_changed_on": stamp,
                "power_state": power_state(raw),
                "updated_on": stamp,
            }
            values.update((k, v) for k, v in optional.items() if k in table.c)
            conn.execute(table.update().where(table.c.id == row_id).values(**values))
    except sa.exc.SQLAlchemyError as exc:
        raise db_failed("writing the transitional power state", exc) from None
    return values


def remove_row(
    engine: sa.Engine,
    table: sa.Table,
    coll: CollectionDef,
    row_id: int,
    power_state: Callable[[Any], str],
) -> str:
    """Apply ``coll``'s delete rule to exactly row ``row_id``: ``deleted`` or
    ``disconnected`` (owner cleared, raw_power_state unknown: ManageIQ's
    ``disconnect_inv``); gives which."""
    try:
        with engine.begin() as conn:
            if coll.delete != "disconnect":
                conn.execute(table.delete().where(table.c.id == row_id))
                return "deleted"
            old = conn.execute(sa.select(table).where(table.c.id == row_id)).mappings().first()
            if old is None:
                return "deleted"
            values: dict[str, Any] = {OWNER_COLUMN.get(coll.owner, "ems_id"): None}
            values.update((c, None) for c in DISCONNECT_CLEARS if c in table.c)
            stamp = now()
            if "raw_power_state" in table.c and old["raw_power_state"] != UNKNOWN:
                values["raw_power_state"] = UNKNOWN
                if "previous_state" in table.c:
                    values["previous_state"] = old["raw_power_state"]
                if "state_changed_on" in table.c:
                    values["state_changed_on"] = stamp
            if "power_state" in table.c:
                values["power_state"] = power_state(UNKNOWN)
            if "updated_on" in table.c:
                values["updated_on"] = stamp
            conn.execute(table.update().where(table.c.id == row_id).values(**values))
    except sa.exc.SQLAlchemyError as exc:
        raise db_failed(f"removing the {coll.name} row", exc) from None
    return "disconnected"
