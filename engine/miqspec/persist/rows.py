"""Rows for persist: the row each object should have, its identity key and its signature.

Takes: catalogue definitions, the SQLAlchemy table of a collection, inventory objects and a
``Resolver`` (:mod:`miqspec.persist.resolve`, re-exported here).
Gives: ``RowPlan.build(obj)``: the column -> value dict an object should have (owner and scope
columns, defaults, coerced attributes, resolved foreign keys and ``_type`` columns,
``power_state`` from ``raw_power_state``; a generated builder per attribute-name tuple,
:mod:`miqspec.persist.build`), plus ``diff`` against a stored row; ``key(obj)``:
the identity key of that row from the manager_ref attributes alone; ``signature(obj)`` and
``signatures(objs)`` (:mod:`miqspec.persist.sign`): 64 bits that determine the row under the
plan, which ``persist.digest`` compares to tell unchanged objects without building, loading or
comparing rows. References resolve once per reference object and plan (the parser shares equal
``LazyRef``s).
Raises: ``MappingError`` for values a column cannot hold, attributes without a column, and
references that can never resolve (a list on a plain attribute, a lazy without ``key`` on a
plain column, a reference to a collection the attribute does not allow). Does no I/O itself.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from itertools import repeat
from operator import attrgetter
from typing import Any

import sqlalchemy as sa

from miqspec.errors import MappingError
from miqspec.parse import InventoryObject, LazyRef
from miqspec.persist.build import SLOW, Builder, Memo, compile_builder
from miqspec.persist.resolve import DbRow, Resolver, SecondaryRows
from miqspec.persist.sign import Layout, Signatures
from miqspec.persist.values import (
    OWNER_COLUMNS,
    OWNER_TYPE,
    REF_TYPES,
    coercer,
    key_columns,
    ref_text,
    row_key,
)
from miqspec.spec import CollectionDef, ReferenceDef

__all__ = ["DbRow", "Resolver", "RowPlan", "SecondaryRows"]

_COL, _REF, _SKIP = 0, 1, 2  # as persist.sign's
_NO_BUILDER: Any = object()
MAX_BUILDERS = 64  # generated builders per plan (objects of more shapes: build_one)
_DATA = attrgetter("data")


def _ref_handler(rdef: ReferenceDef, fixed: bool) -> tuple[Any, ...]:
    ancestry = rdef.kind == "ancestry"
    return (_REF, rdef.column, rdef.type_column, rdef.collections, fixed, ancestry)


class StoreTypeError(MappingError):
    """A value its column's type cannot hold: names the collection, the attribute (column)
    and the column's table and type; ``located`` puts the spec's location in front."""

    def __init__(self, collection: str, column: str, typed: str, subject: str, why: str) -> None:
        super().__init__(f"{subject}: {why}")
        self.collection, self.column, self.typed = collection, column, typed
        self.subject, self.why = subject, why

    def located(self, where: str) -> MappingError:
        """The same error, ``where`` (the attribute's spec file:line:col) in front."""
        return MappingError(f"{where}: {self.subject}: {self.why}")


class RowPlan(Signatures):
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
        # id(reference) -> (reference, what it resolved to, unresolved count, attribute)
        self._memo: Memo = {}
        self._values: dict[int, tuple[Any, Any]] = {}
        # signature: the layout per attribute tuple; reference forms by reference
        self._layouts: dict[tuple[str, ...], Layout] = {}
        self._forms: dict[int, tuple[Any, Any, int, str]] = {}
        self.sti_type = sti_type if cdef.sti and "type" in table.c else None
        # references whose type column holds the target's own class (``type_value: class``)
        self._class_types = {
            a for a, r in cdef.references.items() if r.type_value == "class" and r.type_column
        }
        self._handlers: dict[str, tuple[Any, ...]] = {}
        # generated row builders by attribute names (None: build_one only)
        self._builders: dict[tuple[str, ...], Builder | None] = {}
        base: dict[str, Any] = {}
        for col in OWNER_COLUMNS.get(cdef.owner, ()):
            if col not in table.c:
                raise MappingError(
                    f"{cdef.name}: owner column {col!r} missing from table {table.name!r}"
                )
            base[col] = OWNER_TYPE if col.endswith("_type") else owner_id
        for col, value in cdef.scope.items():
            base[col] = self.coerce(col, value, ())
        self.base = base
        plain = {a: v for a, v in cdef.defaults.items() if self._handler(a)[0] == _COL}
        self._fixed_defaults = {a: self.coerce(a, v, ()) for a, v in plain.items()}
        self._other_defaults = {a: v for a, v in cdef.defaults.items() if a not in plain}
        # key columns that an attribute other than a manager_ref one could also write
        self._clash = tuple(c for c in self.key_cols if c not in cdef.manager_ref)
        # key(): one plain string column, nothing else writes it: the value is the key
        only = cdef.manager_ref[0] if len(cdef.manager_ref) == 1 else ""
        simple = (
            only in table.c
            and only not in cdef.references
            and only not in cdef.many_to_many
            and not self._clash
            and only not in cdef.defaults
            and only not in base
            and self._handler(only)[0] == _COL
            and self._plain.get(only) is str
        )
        self._key_attr = only if simple else None
        # signature(): raw_power_state strings are stored as they are
        self._raw_str = (
            self.has_raw
            and self._handler("raw_power_state")[0] == _COL
            and self._plain.get("raw_power_state") is str
        )

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
            raise StoreTypeError(
                self.cdef.name,
                col,
                f"{self.table.name}.{col} {self.table.c[col].type}",
                f"{self.cdef.name}[{ref_text(ref)}].{col}",
                f"cannot store {type(value).__name__} value {str(value)[:60]!r} in column "
                f"{self.table.name}.{col} ({self.table.c[col].type})",
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
            if found is not None and attr in self._class_types:
                typ = self.resolver.class_of(value) or typ
            row[type_col] = typ if found is not None else None
        return True

    def _resolved(
        self, attr: str, value: Any, h: tuple[Any, ...], obj: InventoryObject
    ) -> tuple[bool, dict[str, Any]]:
        """``_ref`` of a reference object: resolved once per plan, then replayed (with its
        count of unresolved references). Ids do not change while a collection is built: what
        it points at is saved before it, or deferred."""
        hit = self._memo.get(id(value))
        if hit is not None and hit[0] is value and hit[4] == attr:
            self.unresolved += hit[3]
            return hit[1], hit[2]
        before = self.unresolved
        part: dict[str, Any] = {}
        ok = self._ref(attr, value, h, part, obj.ref)
        self._memo[id(value)] = (value, ok, part, self.unresolved - before, attr)
        return ok, part

    def _value(self, ref: LazyRef) -> Any:
        """``resolver.value(ref)`` once per reference object and plan."""
        hit = self._values.get(id(ref))
        if hit is not None and hit[0] is ref:
            return hit[1]
        found = self.resolver.value(ref)
        self._values[id(ref)] = (ref, found)
        return found

    def _slow(self, attr: str, value: Any, row: dict[str, Any], obj: InventoryObject) -> bool:
        """Set ``attr`` in ``row`` when it needs coercion or resolution; False: skip ``obj``."""
        h = self._handlers.get(attr) or self._handler(attr)
        kind = h[0]
        if kind == _COL:
            if type(value) is LazyRef:
                value = self._value(value)
            row[attr] = self.coerce(attr, value, obj.ref)
        elif kind == _REF:
            if h[5] or (type(value) is not LazyRef and type(value) is not InventoryObject):
                return self._ref(attr, value, h, row, obj.ref)  # ancestry paths: never memoised
            ok, part = self._resolved(attr, value, h, obj)
            if ok:
                row.update(part)
            return ok
        return True

    def _power_of(self, raw: Any) -> str:
        power = self._power.get(raw)
        if power is None:
            assert self.power_states is not None
            power = self._power[raw] = self.power_states(raw)
        return power

    def build(self, obj: InventoryObject) -> dict[str, Any] | None:
        """The row ``obj`` should have (deferred and many-to-many attributes left out): by the
        generated builder of its attribute names where there is one, else ``build_one``."""
        keys = tuple(obj.data)
        fn = self._builders.get(keys, _NO_BUILDER)
        if fn is _NO_BUILDER:
            fn = compile_builder(self, keys) if len(self._builders) < MAX_BUILDERS else None
            self._builders[keys] = fn
        if fn is not None:
            row = fn(obj)
            if row is not SLOW:
                return row
        return self.build_one(obj)

    def build_one(self, obj: InventoryObject) -> dict[str, Any] | None:
        """``build`` attribute by attribute."""
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
                row["power_state"] = self._power_of(raw)
        return row

    def key(self, obj: InventoryObject) -> tuple[Any, ...] | None:
        """``row_key(build(obj), key_cols)`` from the manager_ref attributes alone; None when
        only ``build`` can tell (a manager_ref reference that resolves to nothing, or another
        attribute that writes a key column)."""
        data = obj.data
        if self._key_attr is not None:
            value = data.get(self._key_attr)
            if type(value) is str:
                return (value,)
        for col in self._clash:
            if col in data:
                return None
        base = self.base
        row = {c: base[c] for c in self.key_cols if c in base}
        before = self.unresolved
        try:
            for attr in self.cdef.manager_ref:
                if attr in data:
                    value = data[attr]
                    exp = self._plain.get(attr)
                    if exp is not None and (value is None or type(value) is exp):
                        row[attr] = value
                    elif not self._slow(attr, value, row, obj):
                        return None
                elif attr in self._fixed_defaults:
                    row[attr] = self._fixed_defaults[attr]
                elif attr in self._other_defaults and not self._slow(
                    attr, self._other_defaults[attr], row, obj
                ):
                    return None
        finally:
            self.unresolved = before
        return row_key(row, self.key_cols)

    def keys(self, objs: Sequence[InventoryObject]) -> list[tuple[Any, ...] | None]:
        """``key`` of every object (a single plain key column: read in C)."""
        attr = self._key_attr
        if attr is not None:
            values = list(map(dict.get, map(_DATA, objs), repeat(attr)))
            if set(map(type, values)) <= {str}:
                return list(zip(values))
        return list(map(self.key, objs))

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
