"""Rows for persist: value coercion, identity keys and lazy-reference resolution.

Takes: catalogue definitions, the SQLAlchemy table of a collection, inventory objects and two
read-only lookup callbacks into the database that ``persist`` provides.
Gives: ``RowPlan.build(obj)``: the column -> value dict an object should have in its table (owner
and scope columns, coerced attributes, resolved foreign keys, ``power_state``), ``Resolver``
(lazy reference -> row id, ``key`` and ``default`` semantics) and identity keys.
Raises: ``MappingError`` for values a column cannot hold, attributes without a column, and
references that can never resolve (a list on a plain attribute, a lazy without ``key`` on a
plain column, a reference to a collection the attribute does not allow). Does no I/O itself.

Identity keys compare manager_ref values as strings, like ManageIQ's ``"__"``-joined keys, so an
API's ``5`` and a database's ``"5"`` are the same object; reference parts compare by row id.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from .errors import MappingError
from .inventory import Catalogue, CollectionDef
from .objects import InventoryObject, LazyRef, ParsedInventory
from .persist_graph import secondary_value

Coerce = Callable[[Any], Any]
DbRows = Callable[[str], Mapping[tuple[Any, ...], Mapping[str, Any]]]
SecondaryRows = Callable[[str, str], Mapping[tuple[Any, ...], tuple[int, str | None]]]
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


def coercer(column: sa.Column[Any]) -> tuple[type | None, Coerce]:
    """The Python type a column holds (None: any) and how to convert a value to it."""
    t = column.type
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


class Resolver:
    """Resolves lazy references to row ids or attribute values, in memory then in the DB."""

    def __init__(self, catalogue: Catalogue, inventory: ParsedInventory, saved: set[str],
                 tables: Mapping[str, sa.Table], db_rows: DbRows,
                 secondary_rows: SecondaryRows) -> None:
        self.catalogue = catalogue
        self.inventory = inventory
        self.saved = saved
        self.tables = tables
        self.db_rows = db_rows
        self.secondary_rows = secondary_rows
        self.ids: dict[str, dict[tuple[Any, ...], int]] = {}
        self._mem: dict[str, dict[tuple[Any, ...], InventoryObject]] = {}
        self._sec: dict[tuple[str, str], dict[tuple[Any, ...], InventoryObject]] = {}

    def cdef(self, name: str) -> CollectionDef:
        cdef = self.catalogue.get(name)
        if cdef is None:
            raise MappingError(f"lazy reference to unknown collection {name!r}")
        return cdef

    def _final(self, name: str) -> bool:
        """True when memory is the whole truth for ``name`` (saved now and complete)."""
        return name in self.saved and self.inventory.complete.get(name, True)

    def find_object(self, name: str, ref: tuple[Any, ...]) -> InventoryObject | None:
        index = self._mem.get(name)
        if index is None:
            objs = self.inventory.objects.get(name, {})
            index = self._mem[name] = {mem_key(k): o for k, o in reversed(objs.items())}
        return index.get(mem_key(ref))

    def _db_row(self, cdef: CollectionDef, ref: tuple[Any, ...]) -> Mapping[str, Any] | None:
        if cdef.name not in self.tables or len(ref) != len(cdef.manager_ref):
            return None
        table = self.tables[cdef.name]
        parts: list[Any] = []
        for attr, value in zip(cdef.manager_ref, ref, strict=True):
            rdef = cdef.references.get(attr)
            if value is None:
                parts.append(None)
            elif rdef is not None:
                found, typ = self.ref_id(value)
                if found is None:
                    return None
                parts.append(found)
                if rdef.type_column:
                    parts.append(typ)
            elif attr in table.c:
                try:
                    parts.append(coercer(table.c[attr])[1](value))
                except (ValueError, TypeError, ArithmeticError):
                    return None
            else:
                parts.append(value)
        return self.db_rows(cdef.name).get(key_of(tuple(parts)))

    def _secondary(self, cdef: CollectionDef, ref: LazyRef) -> tuple[int | None, str | None]:
        name = ref.secondary or ""
        attrs = cdef.secondary_refs.get(name)
        if attrs is None:
            raise MappingError(f"collection {cdef.name!r} has no secondary ref {name!r}")
        wanted = tuple(secondary_value(v) for v in ref.ref)
        if cdef.name in self.saved:
            index = self._sec.get((cdef.name, name))
            if index is None:
                index = self._sec[(cdef.name, name)] = {}
                for obj in reversed(self.inventory.objects.get(cdef.name, {}).values()):
                    index[tuple(secondary_value(obj.data.get(a)) for a in attrs)] = obj
            obj = index.get(wanted)
            if obj is not None:
                found = self.ids.get(cdef.name, {}).get(mem_key(obj.ref))
                return (found, cdef.model_class) if found is not None else (None, None)
            if self._final(cdef.name):
                return None, None
        hit = self.secondary_rows(cdef.name, name).get(wanted)
        return hit if hit is not None else (None, None)

    def ref_id(self, value: Any) -> tuple[int | None, str | None]:
        """The row id (and model class for ``_type`` columns) a reference points at."""
        if type(value) is InventoryObject:
            cdef = self.cdef(value.collection)
            found = self.ids.get(value.collection, {}).get(mem_key(value.ref))
            return (found, cdef.model_class) if found is not None else (None, None)
        ref: LazyRef = value
        cdef = self.cdef(ref.collection)
        if ref.secondary is not None:
            found, typ = self._secondary(cdef, ref)
        elif ref.key is not None:
            found, typ = self._key_ref(cdef, ref)
        else:
            found = self.ids.get(ref.collection, {}).get(mem_key(ref.ref))
            typ = cdef.model_class
            if found is None and not self._final(ref.collection):
                row = self._db_row(cdef, ref.ref)
                found = None if row is None else row["id"]
        if found is None:
            return (ref.default, None) if isinstance(ref.default, int) else (None, None)
        return found, typ

    def _key_ref(self, cdef: CollectionDef, ref: LazyRef) -> tuple[int | None, str | None]:
        key = ref.key or ""
        obj = self.find_object(cdef.name, ref.ref)
        if obj is not None:
            inner = obj.data.get(key)
            return self.ref_id(inner) if isinstance(inner, REF_TYPES) else (None, None)
        if self._final(cdef.name):
            return None, None
        row = self._db_row(cdef, ref.ref)
        rdef = cdef.references.get(key)
        if row is None or rdef is None or row.get(rdef.column) is None:
            return None, None
        typ = row.get(rdef.type_column) if rdef.type_column else None
        if typ is None and rdef.collections:
            typ = self.cdef(rdef.collections[0]).model_class
        return row[rdef.column], typ

    def value(self, ref: LazyRef) -> Any:
        """The plain value a ``key`` lazy gives for a plain column (``default`` when nil)."""
        if ref.key is None:
            raise MappingError(
                f"lazy reference to {ref.collection!r} on a plain attribute needs a key"
            )
        cdef = self.cdef(ref.collection)
        obj = self.find_object(cdef.name, ref.ref)
        if obj is not None:
            found = obj.data.get(ref.key)
        elif self._final(cdef.name):
            found = None
        else:
            row = self._db_row(cdef, ref.ref)
            found = None if row is None else row.get(ref.key)
        if isinstance(found, REF_TYPES):
            raise MappingError(f"lazy key {ref.key!r} of {ref.collection!r} is a reference")
        return ref.default if found is None else found


OWNER_COLUMNS: dict[str, tuple[str, ...]] = {
    "ems_id": ("ems_id",),
    "manager_id": ("manager_id",),
    "resource": ("resource_id", "resource_type"),
    "none": (),
}
OWNER_TYPE = "ExtManagementSystem"
_COL, _REF, _SKIP = 0, 1, 2


def key_columns(cdef: CollectionDef, table: sa.Table) -> tuple[str, ...]:
    """The columns holding a collection's manager_ref (FK and type columns for references)."""
    cols: list[str] = []
    for attr in cdef.manager_ref:
        rdef = cdef.references.get(attr)
        cols.extend((rdef.column, rdef.type_column) if rdef and rdef.type_column else
                    (rdef.column,) if rdef else (attr,))
    missing = [c for c in cols if c not in table.c]
    if missing:
        raise MappingError(f"{cdef.name}: manager_ref column(s) {', '.join(missing)} missing "
                           f"from table {table.name!r}")
    return tuple(cols)


def ref_text(ref: tuple[Any, ...]) -> str:
    """A manager_ref for people: values joined with ``__`` (references shown by their ref)."""
    return "__".join(ref_text(v.ref) if isinstance(v, REF_TYPES) else "" if v is None else
                     _to_str(v) for v in ref)


class RowPlan:
    """How the objects of one collection become rows of its table (one plan per refresh)."""

    def __init__(self, cdef: CollectionDef, table: sa.Table, resolver: Resolver, *,
                 owner_id: int | None, sti_type: str | None,
                 power_states: Callable[[Any], str] | None, deferred: set[str]) -> None:
        self.cdef = cdef
        self.table = table
        self.resolver = resolver
        self.deferred = deferred
        self.coercers = {c.name: coercer(c) for c in table.columns}
        self.key_cols = key_columns(cdef, table)
        self.skipped = 0
        self.unresolved = 0
        self.has_raw = "raw_power_state" in table.c
        self.power_states = power_states if "power_state" in table.c else None
        self.sti_type = sti_type if cdef.sti and "type" in table.c else None
        self.defaults = dict(cdef.defaults)
        self._handlers: dict[str, tuple[Any, ...]] = {}
        base: dict[str, Any] = {}
        for col in OWNER_COLUMNS.get(cdef.owner, ()):
            if col not in table.c:
                raise MappingError(f"{cdef.name}: owner column {col!r} missing from table "
                                   f"{table.name!r}")
            base[col] = OWNER_TYPE if col == "resource_type" else owner_id
        for col, value in cdef.scope.items():
            base[col] = self.coerce(col, value, ())
        self.base = base

    def coerce(self, col: str, value: Any, ref: tuple[Any, ...]) -> Any:
        if value is None:
            return None
        if col not in self.coercers:
            raise MappingError(f"{self.cdef.name}: column {col!r} missing from table "
                               f"{self.table.name!r}")
        try:
            return self.coercers[col][1](value)
        except (ValueError, TypeError, ArithmeticError, OverflowError):
            if isinstance(value, list) and any(isinstance(v, REF_TYPES) for v in value):
                raise MappingError(f"{self.cdef.name}[{ref_text(ref)}].{col}: a list of "
                                   "references on an attribute that is not many_to_many") from None
            raise MappingError(f"{self.cdef.name}[{ref_text(ref)}].{col}: cannot store "
                               f"{type(value).__name__} value {str(value)[:60]!r}") from None

    def _handler(self, attr: str) -> tuple[Any, ...]:
        cdef, cols = self.cdef, self.table.c
        if attr in cdef.many_to_many or attr in self.deferred:
            h: tuple[Any, ...] = (_SKIP,)
        elif attr in cdef.references:
            rdef = cdef.references[attr]
            for col in (rdef.column, rdef.type_column):
                if col and col not in cols:
                    raise MappingError(f"{cdef.name}.{attr}: column {col!r} missing from "
                                       f"table {self.table.name!r}")
            fixed = attr in cdef.manager_ref and attr not in cdef.manager_ref_allowed_nil
            h = (_REF, rdef.column, rdef.type_column, rdef.collections, fixed)
        elif attr in cols and attr != "id":
            exp, _ = self.coercers[attr]
            h = (_COL, attr, exp)
        else:
            raise MappingError(f"{cdef.name}: attribute {attr!r} has no column in table "
                               f"{self.table.name!r}")
        self._handlers[attr] = h
        return h

    def _ref(self, attr: str, value: Any, h: tuple[Any, ...],
             row: dict[str, Any], ref: tuple[Any, ...]) -> bool:
        """Write a reference's FK (and type) into ``row``; False when the object must be skipped."""
        _, col, type_col, allowed, fixed = h
        found: int | None = None
        typ: str | None = None
        if isinstance(value, REF_TYPES):
            if (type(value) is InventoryObject or value.key is None) and \
                    value.collection not in allowed:
                raise MappingError(f"{self.cdef.name}.{attr}: reference to {value.collection!r}"
                                   f", allowed: {', '.join(allowed)}")
            found, typ = self.resolver.ref_id(value)
            if found is None:
                if fixed:
                    return False
                self.unresolved += 1
        elif value is not None:
            if isinstance(value, list):
                raise MappingError(f"{self.cdef.name}[{ref_text(ref)}].{attr}: a list on a "
                                   "reference that is not many_to_many")
            found = self.coerce(col, value, ref)
        elif fixed:
            return False
        row[col] = found
        if type_col:
            row[type_col] = typ if found is not None else None
        return True

    def build(self, obj: InventoryObject) -> dict[str, Any] | None:
        """The row ``obj`` should have (deferred and many-to-many attributes left out)."""
        row = dict(self.base)
        data = obj.data
        handlers = self._handlers
        items = {**self.defaults, **data}.items() if self.defaults else data.items()
        for attr, value in items:
            h = handlers.get(attr) or self._handler(attr)
            kind = h[0]
            if kind == _COL:
                if value is None or type(value) is h[2]:
                    row[attr] = value
                elif type(value) is LazyRef:
                    row[attr] = self.coerce(attr, self.resolver.value(value), obj.ref)
                else:
                    row[attr] = self.coerce(attr, value, obj.ref)
            elif kind == _REF and not self._ref(attr, value, h, row, obj.ref):
                self.skipped += 1
                return None
        if self.sti_type is not None and row.get("type") is None:
            row["type"] = self.sti_type
        if self.has_raw and "raw_power_state" in row:
            raw = row["raw_power_state"]
            if raw is None:
                del row["raw_power_state"]
            elif self.power_states is not None and "power_state" not in data:
                row["power_state"] = self.power_states(raw)
        return row

    def build_deferred(self, obj: InventoryObject) -> dict[str, Any]:
        """The columns of the deferred (cycle-closing) attributes that ``obj`` sets."""
        row: dict[str, Any] = {}
        for attr in self.deferred:
            if attr in obj.data:
                rdef = self.cdef.references.get(attr)
                h = (_REF, rdef.column, rdef.type_column, rdef.collections, False) if rdef \
                    else (_COL, attr, None)
                if h[0] == _REF:
                    self._ref(attr, obj.data[attr], h, row, obj.ref)
                else:
                    value = obj.data[attr]
                    if type(value) is LazyRef:
                        value = self.resolver.value(value)
                    row[attr] = self.coerce(attr, value, obj.ref)
        return row

    def diff(self, row: Mapping[str, Any], old: Any, pos: Mapping[str, int]) -> dict[str, Any]:
        """The columns of ``row`` whose value differs from the stored row ``old``."""
        changed: dict[str, Any] = {}
        for col, new in row.items():
            was = old[pos[col]]
            if was != new:
                if was is not None and new is not None:
                    try:
                        if self.coercers[col][1](was) == new:
                            continue
                    except (ValueError, TypeError, ArithmeticError):
                        pass
                changed[col] = new
        return changed
