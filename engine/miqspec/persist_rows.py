"""Rows for persist: lazy-reference resolution and the row each object should have.

Takes: catalogue definitions, the SQLAlchemy table of a collection, inventory objects and two
read-only lookup callbacks into the database that ``persist`` provides.
Gives: ``Resolver`` (lazy reference -> row id, or an attribute of the target with ``key``, else
``default``; in memory first, then stored rows when the target was not refreshed or is
incomplete; a lookup ``by`` a mapping's computed secondary ref is in memory only, and ``key``
through any secondary ref gives the found object's attribute) and ``RowPlan.build(obj)``: the
column -> value dict an object should have (owner and scope columns, defaults, coerced
attributes, resolved foreign keys and ``_type`` columns, ``power_state`` from
``raw_power_state``), plus ``diff`` against a stored row.
Raises: ``MappingError`` for values a column cannot hold, attributes without a column, and
references that can never resolve (a list on a plain attribute, a lazy without ``key`` on a
plain column, a reference to a collection the attribute does not allow). Does no I/O itself.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import sqlalchemy as sa

from .errors import MappingError
from .inventory import Catalogue, CollectionDef, ReferenceDef
from .objects import InventoryObject, LazyRef, ParsedInventory
from .persist_values import (
    OWNER_COLUMNS,
    OWNER_TYPE,
    REF_TYPES,
    coercer,
    key_columns,
    key_of,
    mem_key,
    poly_type,
    ref_text,
    secondary_value,
)

DbRows = Callable[[str], Mapping[tuple[Any, ...], Mapping[str, Any]]]
SecondaryRows = Callable[[str, str], Mapping[tuple[Any, ...], tuple[int, str | None]]]
_COL, _REF, _SKIP = 0, 1, 2


class Resolver:
    """Resolves lazy references to row ids or attribute values, in memory then in the DB."""

    def __init__(
        self,
        catalogue: Catalogue,
        inventory: ParsedInventory,
        saved: set[str],
        tables: Mapping[str, sa.Table],
        db_rows: DbRows,
        secondary_rows: SecondaryRows,
    ) -> None:
        self.catalogue = catalogue
        self.inventory = inventory
        self.saved = saved
        self.tables = tables
        self.db_rows = db_rows
        self.secondary_rows = secondary_rows
        self.ids: dict[str, dict[tuple[Any, ...], int]] = {}
        self.ancestry: dict[tuple[str, int], str | None] = {}
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

    def _secondary_object(self, cdef: CollectionDef, ref: LazyRef) -> InventoryObject | None:
        """The object of this refresh a secondary-ref lazy finds (first built wins): by a
        computed secondary ref of the mappings, else by the catalogue's attribute list."""
        name = ref.secondary or ""
        wanted = tuple(secondary_value(v) for v in ref.ref)
        if self.inventory.computed_secondary(cdef.name, name):
            return self.inventory.find_secondary(cdef.name, name, wanted)
        attrs = cdef.secondary_refs.get(name)
        if attrs is None:
            raise MappingError(f"collection {cdef.name!r} has no secondary ref {name!r}")
        if cdef.name not in self.saved:
            return None
        index = self._sec.get((cdef.name, name))
        if index is None:
            index = self._sec[(cdef.name, name)] = {}
            for obj in reversed(self.inventory.objects.get(cdef.name, {}).values()):
                index[tuple(secondary_value(obj.data.get(a)) for a in attrs)] = obj
        return index.get(wanted)

    def _secondary(self, cdef: CollectionDef, ref: LazyRef) -> tuple[int | None, str | None]:
        name = ref.secondary or ""
        hit_obj = self._secondary_object(cdef, ref)
        if hit_obj is not None:
            if ref.key is not None:  # the found object's reference attribute (transitive)
                inner = hit_obj.data.get(ref.key)
                return self.ref_id(inner) if isinstance(inner, REF_TYPES) else (None, None)
            found = self.ids.get(cdef.name, {}).get(mem_key(hit_obj.ref))
            return (found, poly_type(cdef)) if found is not None else (None, None)
        if (
            ref.key is not None
            or self._final(cdef.name)
            or self.inventory.computed_secondary(cdef.name, name)
        ):
            return None, None
        wanted = tuple(secondary_value(v) for v in ref.ref)
        hit = self.secondary_rows(cdef.name, name).get(wanted)
        return hit if hit is not None else (None, None)

    def ref_id(self, value: Any) -> tuple[int | None, str | None]:
        """The row id (and model class for ``_type`` columns) a reference points at."""
        if type(value) is InventoryObject:
            cdef = self.cdef(value.collection)
            found = self.ids.get(value.collection, {}).get(mem_key(value.ref))
            return (found, poly_type(cdef)) if found is not None else (None, None)
        ref: LazyRef = value
        cdef = self.cdef(ref.collection)
        if ref.secondary is not None:
            found, typ = self._secondary(cdef, ref)
        elif ref.key is not None:
            found, typ = self._key_ref(cdef, ref)
        else:
            found = self.ids.get(ref.collection, {}).get(mem_key(ref.ref))
            typ = poly_type(cdef)
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
            typ = poly_type(self.cdef(rdef.collections[0]))
        return row[rdef.column], typ

    def value(self, ref: LazyRef) -> Any:
        """The plain value a ``key`` lazy gives for a plain column (``default`` when nil)."""
        if ref.key is None:
            raise MappingError(
                f"lazy reference to {ref.collection!r} on a plain attribute needs a key"
            )
        cdef = self.cdef(ref.collection)
        if ref.secondary is not None:
            obj = self._secondary_object(cdef, ref)
        else:
            obj = self.find_object(cdef.name, ref.ref)
        if obj is not None:
            found = obj.data.get(ref.key)
        elif self._final(cdef.name) or ref.secondary is not None:
            found = None
        else:
            row = self._db_row(cdef, ref.ref)
            found = None if row is None else row.get(ref.key)
        if isinstance(found, REF_TYPES):
            raise MappingError(f"lazy key {ref.key!r} of {ref.collection!r} is a reference")
        return ref.default if found is None else found


def _ref_handler(rdef: ReferenceDef, fixed: bool) -> tuple[Any, ...]:
    ancestry = rdef.kind == "ancestry"
    return (_REF, rdef.column, rdef.type_column, rdef.collections, fixed, ancestry)


class RowPlan:
    """How the objects of one collection become rows of its table (one plan per refresh)."""

    def __init__(
        self,
        cdef: CollectionDef,
        table: sa.Table,
        resolver: Resolver,
        *,
        owner_id: int | None,
        sti_type: str | None,
        power_states: Callable[[Any], str] | None,
        deferred: set[str],
    ) -> None:
        self.cdef = cdef
        self.table = table
        self.resolver = resolver
        self.deferred = deferred
        self.coercers = {c.name: coercer(c) for c in table.columns}
        self.key_cols = key_columns(cdef, table)
        self.skipped = 0
        self.unresolved = 0
        self.has_raw = "raw_power_state" in table.c
        # explicit power_state (in data or defaults, like hosts) wins over the computed one
        explicit = "power_state" not in table.c or "power_state" in cdef.defaults
        self.power_states = None if explicit else power_states
        self._power: dict[Any, str] = {}
        self._plain: dict[str, type] = {}
        self.sti_type = sti_type if cdef.sti and "type" in table.c else None
        self._handlers: dict[str, tuple[Any, ...]] = {}
        base: dict[str, Any] = {}
        for col in OWNER_COLUMNS.get(cdef.owner, ()):
            if col not in table.c:
                raise MappingError(
                    f"{cdef.name}: owner column {col!r} missing from table {table.name!r}"
                )
            base[col] = OWNER_TYPE if col == "resource_type" else owner_id
        for col, value in cdef.scope.items():
            base[col] = self.coerce(col, value, ())
        self.base = base
        plain = {a: v for a, v in cdef.defaults.items() if self._handler(a)[0] == _COL}
        self._fixed_defaults = {a: self.coerce(a, v, ()) for a, v in plain.items()}
        self._other_defaults = {a: v for a, v in cdef.defaults.items() if a not in plain}

    def coerce(self, col: str, value: Any, ref: tuple[Any, ...]) -> Any:
        if value is None:
            return None
        if col not in self.coercers:
            raise MappingError(
                f"{self.cdef.name}: column {col!r} missing from table {self.table.name!r}"
            )
        try:
            return self.coercers[col][1](value)
        except (ValueError, TypeError, ArithmeticError, OverflowError):
            if isinstance(value, list) and any(isinstance(v, REF_TYPES) for v in value):
                raise MappingError(
                    f"{self.cdef.name}[{ref_text(ref)}].{col}: a list of "
                    "references on an attribute that is not many_to_many"
                ) from None
            raise MappingError(
                f"{self.cdef.name}[{ref_text(ref)}].{col}: cannot store "
                f"{type(value).__name__} value {str(value)[:60]!r}"
            ) from None

    def _handler(self, attr: str) -> tuple[Any, ...]:
        cdef, cols = self.cdef, self.table.c
        if attr in cdef.many_to_many or attr in self.deferred:
            h: tuple[Any, ...] = (_SKIP,)
        elif attr in cdef.references:
            rdef = cdef.references[attr]
            for col in (rdef.column, rdef.type_column):
                if col and col not in cols:
                    raise MappingError(
                        f"{cdef.name}.{attr}: column {col!r} missing from table {self.table.name!r}"
                    )
            fixed = attr in cdef.manager_ref and attr not in cdef.manager_ref_allowed_nil
            h = _ref_handler(rdef, fixed)
        elif attr in cols and attr != "id":
            exp, _ = self.coercers[attr]
            h = (_COL, attr, exp)
            if exp is not None:
                self._plain[attr] = exp
        else:
            raise MappingError(
                f"{cdef.name}: attribute {attr!r} has no column in table {self.table.name!r}"
            )
        self._handlers[attr] = h
        return h

    def _ref(
        self, attr: str, value: Any, h: tuple[Any, ...], row: dict[str, Any], ref: tuple[Any, ...]
    ) -> bool:
        """Write a reference's FK (and type) into ``row``; False when the object must be skipped."""
        _, col, type_col, allowed, fixed, ancestry = h
        found: int | None = None
        typ: str | None = None
        if isinstance(value, REF_TYPES):
            if getattr(value, "key", None) is None and value.collection not in allowed:
                raise MappingError(
                    f"{self.cdef.name}.{attr}: reference to {value.collection!r}"
                    f", allowed: {', '.join(allowed)}"
                )
            found, typ = self.resolver.ref_id(value)
            if found is None:
                if fixed:
                    return False
                self.unresolved += 1
        elif value is not None:
            if isinstance(value, list):
                raise MappingError(
                    f"{self.cdef.name}[{ref_text(ref)}].{attr}: a list on a "
                    "reference that is not many_to_many"
                )
            found = self.coerce(col, value, ref)
        elif fixed:
            return False
        if ancestry and found is not None and isinstance(value, REF_TYPES):
            parent = self.resolver.ancestry.get((self.table.name, found))
            row[col] = f"{parent}/{found}" if parent else str(found)
            return True
        row[col] = found
        if type_col:
            row[type_col] = typ if found is not None else None
        return True

    def _slow(self, attr: str, value: Any, row: dict[str, Any], obj: InventoryObject) -> bool:
        """Set ``attr`` in ``row`` when it needs coercion or resolution; False: skip ``obj``."""
        h = self._handlers.get(attr) or self._handler(attr)
        kind = h[0]
        if kind == _COL:
            if type(value) is LazyRef:
                value = self.resolver.value(value)
            row[attr] = self.coerce(attr, value, obj.ref)
        elif kind == _REF:
            return self._ref(attr, value, h, row, obj.ref)
        return True

    def build(self, obj: InventoryObject) -> dict[str, Any] | None:
        """The row ``obj`` should have (deferred and many-to-many attributes left out)."""
        row = dict(self.base)
        data = obj.data
        plain = self._plain
        for attr, value in data.items():
            exp = plain.get(attr)
            if exp is not None and (value is None or type(value) is exp):
                row[attr] = value
            elif not self._slow(attr, value, row, obj):
                self.skipped += 1
                return None
        for attr, value in self._fixed_defaults.items():
            if attr not in data:
                row[attr] = value
        for attr, value in self._other_defaults.items():
            if attr not in data and not self._slow(attr, value, row, obj):
                self.skipped += 1
                return None
        if self.sti_type is not None and row.get("type") is None:
            row["type"] = self.sti_type
        if self.has_raw and "raw_power_state" in row:
            raw = row["raw_power_state"]
            if raw is None:
                del row["raw_power_state"]
            elif self.power_states is not None and "power_state" not in data:
                power = self._power.get(raw)
                if power is None:
                    power = self._power[raw] = self.power_states(raw)
                row["power_state"] = power
        return row

    def build_deferred(self, obj: InventoryObject) -> dict[str, Any]:
        """The columns of the deferred (cycle-closing) attributes that ``obj`` sets."""
        row: dict[str, Any] = {}
        for attr in self.deferred:
            if attr in obj.data:
                rdef = self.cdef.references.get(attr)
                if rdef is not None:
                    self._ref(attr, obj.data[attr], _ref_handler(rdef, False), row, obj.ref)
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
