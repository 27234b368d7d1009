"""Values for persist: column coercion and identity keys.

Takes: SQLAlchemy columns and values produced by the parser or read from the database.
Gives: ``coercer(column)`` (the Python type a column holds and a converter to it), ``mem_key``
(the in-memory identity of a manager_ref tuple), ``key_of`` (a database-side identity key),
``key_columns`` (the columns holding a collection's manager_ref), ``ref_text`` and the owner
column names per catalogue ``owner`` kind. Raises: ``ValueError``/``TypeError`` from converters
(callers turn them into ``MappingError``), ``MappingError`` from ``key_columns``. No I/O.

Identity keys compare manager_ref values as strings, like ManageIQ's ``"__"``-joined keys, so an
API's ``5`` and a database's ``"5"`` are the same object; reference parts compare by row id.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite
from sqlalchemy.types import TypeDecorator

from miqspec.errors import MappingError
from miqspec.parse import InventoryObject, LazyRef
from miqspec.spec import Catalogue, CollectionDef

Coerce = Callable[[Any], Any]

_TRUE = frozenset({"true", "t", "yes", "y", "1", "on"})
_FALSE = frozenset({"false", "f", "no", "n", "0", "off"})
REF_TYPES = (LazyRef, InventoryObject)


def _to_bool(v: Any) -> bool:
    if isinstance(v, bool | int | float):
        return bool(v)
    if isinstance(v, str) and v.strip().lower() in _TRUE | _FALSE:
        return v.strip().lower() in _TRUE
    raise ValueError(f"not a boolean: {v!r}")


def _to_int(v: Any) -> int:
    if isinstance(v, str):
        v = v.strip()
        return int(v) if v.lstrip("+-").isdigit() else int(float(v))
    if isinstance(v, bool | int | float | Decimal):
        return int(v)
    raise ValueError(f"not an integer: {v!r}")


def _to_str(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, dict | list):
        return json.dumps(v, sort_keys=True)
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _datetime_coercer(aware: bool) -> Coerce:
    def coerce(v: Any) -> datetime:
        if isinstance(v, datetime):
            d = v
        elif isinstance(v, str):
            d = datetime.fromisoformat(v.strip())
        elif isinstance(v, int | float) and not isinstance(v, bool):
            d = datetime.fromtimestamp(v / 1000 if v > 1e11 else v, UTC)
        elif isinstance(v, date):
            d = datetime(v.year, v.month, v.day)
        else:
            raise ValueError(f"not a date-time: {v!r}")
        if aware:
            return d.replace(tzinfo=UTC) if d.tzinfo is None else d.astimezone(UTC)
        return d.astimezone(UTC).replace(tzinfo=None) if d.tzinfo is not None else d

    return coerce


def _to_date(v: Any) -> date:
    if isinstance(v, datetime):
        return v.date()
    if isinstance(v, date):
        return v
    if isinstance(v, str):
        return datetime.fromisoformat(v.strip()).date()
    raise ValueError(f"not a date: {v!r}")


def _same(v: Any) -> Any:
    return v


def _round_trip(t: TypeDecorator[Any]) -> Coerce:
    """A custom type's value as it reads back (JSON text: tuples become lists, keys strings),
    so a stored value and a wanted one compare equal."""
    dialect = sqlite.dialect()

    def coerce(v: Any) -> Any:
        try:
            return t.process_result_value(t.process_bind_param(v, dialect), dialect)
        except NotImplementedError:
            return v

    return coerce


def coercer(column: sa.Column[Any]) -> tuple[type | None, Coerce]:
    """The Python type a column holds (None: any) and how to convert a value to it."""
    t = column.type
    if isinstance(t, TypeDecorator):  # tables_types.JsonText, StringArray, DecimalType
        return None, _round_trip(t)
    if isinstance(t, sa.Boolean):
        return bool, _to_bool
    if isinstance(t, sa.DateTime):
        aware = bool(t.timezone)
        return (None if aware else datetime), _datetime_coercer(aware)
    if isinstance(t, sa.Date):
        return date, _to_date
    if isinstance(t, sa.Integer):
        return int, _to_int
    if isinstance(t, sa.Float):
        return float, float
    if isinstance(t, sa.Numeric):
        return Decimal, lambda v: Decimal(str(v))
    if isinstance(t, sa.JSON | sa.ARRAY):
        return None, _same
    if isinstance(t, sa.String):
        return str, _to_str
    return None, _same


def secondary_value(value: Any) -> Any:
    """A single identity value in comparable form (strings; None stays None)."""
    if value is None or type(value) is str:
        return value
    if type(value) is bool:
        return "true" if value else "false"
    if type(value) is float and value.is_integer():
        return str(int(value))
    return str(value)


def mem_key(ref: tuple[Any, ...]) -> tuple[Any, ...]:
    """The in-memory identity of a manager_ref tuple: values as strings, references nested."""
    for v in ref:
        if type(v) is not str:
            break
    else:
        return ref
    out: list[Any] = []
    for v in ref:
        kind = type(v)
        if kind is str or v is None:
            out.append(v)
        elif kind is LazyRef or kind is InventoryObject:
            out.append((v.collection, mem_key(v.ref)))
        else:
            out.append(secondary_value(v))
    return tuple(out)


def key_of(values: tuple[Any, ...]) -> tuple[Any, ...]:
    """A database-side identity key: each value as a string (None stays None)."""
    return tuple(v if v is None or type(v) is str else _to_str(v) for v in values)


OWNER_COLUMNS: dict[str, tuple[str, ...]] = {
    "ems_id": ("ems_id",),
    "manager_id": ("manager_id",),
    "resource": ("resource_id", "resource_type"),
    "parent": ("parent_id", "parent_type"),  # persistent volumes: parent = the manager
    "none": (),
}
OWNER_TYPE = "ExtManagementSystem"
EMS_TABLE = "ext_management_systems"
# ManageIQ stores a polymorphic link's base class; tables whose rows have several model classes.
BASE_CLASSES = {"vms": "VmOrTemplate", EMS_TABLE: OWNER_TYPE, "switches": "Switch"}


def poly_type(cdef: CollectionDef) -> str:
    """What a polymorphic ``<x>_type`` column holds for rows of ``cdef`` (the base class)."""
    return BASE_CLASSES.get(cdef.table, cdef.model_class)


def row_key(row: Mapping[str, Any], cols: Sequence[str]) -> tuple[Any, ...]:
    """The identity key of a wanted row (its manager_ref columns as strings)."""
    if len(cols) == 1:
        v = row.get(cols[0])
        return (v,) if v is None or type(v) is str else (_to_str(v),)
    return key_of(tuple(row.get(c) for c in cols))


def stored_keys(rows: Sequence[Any], idx: Sequence[int]) -> list[tuple[Any, ...]]:
    """The identity keys of stored rows, ``idx`` being the positions of the key columns."""
    if len(idx) == 1:
        i = idx[0]
        return [
            (v,) if v is None or type(v) is str else (_to_str(v),) for v in (r[i] for r in rows)
        ]
    return [key_of(tuple(r[i] for i in idx)) for r in rows]


def key_columns(cdef: CollectionDef, table: sa.Table) -> tuple[str, ...]:
    """The columns holding a collection's manager_ref (FK and type columns for references)."""
    cols: list[str] = []
    for attr in cdef.manager_ref:
        rdef = cdef.references.get(attr)
        cols.extend(
            (rdef.column, rdef.type_column)
            if rdef and rdef.type_column
            else (rdef.column,)
            if rdef
            else (attr,)
        )
    missing = [c for c in cols if c not in table.c]
    if missing:
        raise MappingError(
            f"{cdef.name}: manager_ref column(s) {', '.join(missing)} missing "
            f"from table {table.name!r}"
        )
    return tuple(cols)


def ref_text(ref: tuple[Any, ...]) -> str:
    """A manager_ref for people: values joined with ``__`` (references shown by their ref)."""
    return "__".join(
        ref_text(v.ref) if isinstance(v, REF_TYPES) else "" if v is None else _to_str(v)
        for v in ref
    )


def timestamp_columns(names: tuple[str, ...], table: sa.Table) -> tuple[str | None, str | None]:
    """(created, updated) timestamp columns of a collection that exist in its table."""
    created = next((n for n in names if n.startswith("created") and n in table.c), None)
    updated = next((n for n in names if n.startswith("updated") and n in table.c), None)
    return created, updated


def ancestry_column(catalogue: Catalogue, table: str) -> str | None:
    """The string ``ancestry`` column of ``table`` when some collection keeps a parent there."""
    for cdef in catalogue.collections.values():
        if cdef.table == table:
            for rdef in cdef.references.values():
                if rdef.kind == "ancestry":
                    return rdef.column
    return None
