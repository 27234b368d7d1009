"""Lazy-reference resolution for persist: a reference to a row id, or to an attribute value.

Takes: the catalogue, the parsed inventory, the names of the collections saved in this refresh,
their tables and two read-only lookup callbacks into the database that ``persist`` provides.
Gives: ``Resolver`` (lazy reference -> row id, or an attribute of the target with ``key``, else
``default``; in memory first, then stored rows when the target was not refreshed or is
incomplete, or the refresh is targeted; a lookup ``by`` a mapping's computed secondary ref is
in memory only, and ``key`` through any secondary ref gives the found object's attribute).
``ids`` holds the row id of every object saved so far, by collection and in-memory identity key.
Raises: ``MappingError`` for a reference to an unknown collection or secondary ref, and for a
``key`` lazy on a plain column whose key is itself a reference. Does no I/O itself.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from miqspec.errors import MappingError
from miqspec.parse import InventoryObject, LazyRef, ParsedInventory
from miqspec.persist.values import REF_TYPES, coercer, mem_key, poly_type, secondary_value
from miqspec.spec import Catalogue, CollectionDef

#: the stored row of a collection by its manager_ref columns' values (None: none)
DbRow = Callable[[str, tuple[Any, ...]], Mapping[str, Any] | None]
#: rows by secondary ref value: id, model class, the columns ``key`` lazies read
SecondaryRows = Callable[
    [str, str], Mapping[tuple[Any, ...], tuple[int, str | None, Mapping[str, Any]]]
]


class Resolver:
    """Resolves lazy references to row ids or attribute values, in memory then in the DB."""

    def __init__(
        self,
        catalogue: Catalogue,
        inventory: ParsedInventory,
        saved: set[str],
        tables: Mapping[str, sa.Table],
        db_row: DbRow,
        secondary_rows: SecondaryRows,
        *,
        targeted: bool = False,
    ) -> None:
        self.catalogue = catalogue
        self.inventory = inventory
        self.saved = saved
        self.tables = tables
        self.db_row = db_row
        self.secondary_rows = secondary_rows
        self.targeted = targeted  # memory holds the targets only: stored rows count too
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
        """True when memory is the whole truth for ``name`` (saved now and complete; never in
        a targeted refresh, where a row outside the targets stays as stored)."""
        return not self.targeted and name in self.saved and self.inventory.complete.get(name, True)

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
        return self.db_row(cdef.name, tuple(parts))

    def _secondary_object(self, cdef: CollectionDef, ref: LazyRef) -> InventoryObject | None:
        """The object of this refresh a secondary-ref lazy finds (first built wins): by a
        computed secondary ref of the mappings, else by the catalogue's attribute list."""
        name = ref.secondary or ""
        if self.inventory.computed_secondary(cdef.name, name):
            wanted = tuple(secondary_value(v) for v in ref.ref)
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
                index[self.secondary_key(cdef, name, [obj.data.get(a) for a in attrs])] = obj
        return index.get(self.secondary_key(cdef, name, ref.ref))

    def secondary_key(self, cdef: CollectionDef, name: str, values: Sequence[Any]) -> Any:
        """The comparable form of a catalogue secondary ref's values, whatever form they were
        written in: each value converted to its column's type, then ``secondary_value`` (an
        API's ``5`` or ``"5.0"`` finds a stored ``5``, a time string a stored datetime); a
        reference by the row id it resolves to. ``MappingError`` when the number of values
        is not the ref's."""
        attrs = cdef.secondary_refs[name]
        if len(values) != len(attrs):
            raise MappingError(
                f"lookup of {cdef.name!r} by {name!r} takes {len(attrs)} value(s) "
                f"({', '.join(attrs)}), got {len(values)}"
            )
        table = self.tables.get(cdef.name)
        out: list[Any] = []
        for attr, value in zip(attrs, values, strict=True):
            if isinstance(value, REF_TYPES):
                value = self.ref_id(value)[0]
            elif value is not None and table is not None:
                rdef = cdef.references.get(attr)
                col = rdef.column if rdef is not None else attr
                if col in table.c:
                    with contextlib.suppress(ValueError, TypeError, ArithmeticError):
                        value = coercer(table.c[col])[1](value)
            out.append(secondary_value(value))
        return tuple(out)

    def _secondary(self, cdef: CollectionDef, ref: LazyRef) -> tuple[int | None, str | None]:
        hit_obj = self._secondary_object(cdef, ref)
        if hit_obj is not None:
            if ref.key is not None:  # the found object's reference attribute (transitive)
                inner = hit_obj.data.get(ref.key)
                return self.ref_id(inner) if isinstance(inner, REF_TYPES) else (None, None)
            found = self.ids.get(cdef.name, {}).get(mem_key(hit_obj.ref))
            return (found, poly_type(cdef)) if found is not None else (None, None)
        row = self._secondary_row(cdef, ref)
        if row is None:
            return None, None
        if ref.key is None:
            return row[0], row[1]
        rdef = cdef.references.get(ref.key)  # the found row's reference attribute
        if rdef is None or row[2].get(rdef.column) is None:
            return None, None
        typ = row[2].get(rdef.type_column) if rdef.type_column else None
        if typ is None and rdef.collections:
            typ = poly_type(self.cdef(rdef.collections[0]))
        return row[2][rdef.column], typ

    def _secondary_row(
        self, cdef: CollectionDef, ref: LazyRef
    ) -> tuple[int, str | None, Mapping[str, Any]] | None:
        """The stored row a catalogue secondary-ref lazy finds (none for a computed one, or
        when this refresh's objects are the whole truth)."""
        name = ref.secondary or ""
        if self._final(cdef.name) or self.inventory.computed_secondary(cdef.name, name):
            return None
        return self.secondary_rows(cdef.name, name).get(self.secondary_key(cdef, name, ref.ref))

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

    def class_of(self, value: Any) -> str | None:
        """The STI class (``type``) of the object or row a reference points at, for type
        columns that hold it (``type_value: class``); None when it cannot tell."""
        if type(value) is InventoryObject:
            return _class(value.data.get("type"))
        if type(value) is not LazyRef or value.key is not None:
            return None
        cdef = self.cdef(value.collection)
        if value.secondary is not None:
            obj = self._secondary_object(cdef, value)
        else:
            obj = self.find_object(cdef.name, value.ref)
        if obj is not None:
            return _class(obj.data.get("type"))
        if value.secondary is not None:  # a stored row found by a catalogue secondary ref
            hit = self._secondary_row(cdef, value)
            return None if hit is None else _class(hit[2].get("type"))
        if self._final(cdef.name):
            return None
        row = self._db_row(cdef, value.ref)
        return None if row is None else _class(row.get("type"))

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
        elif ref.secondary is not None:  # a stored row found by the secondary ref: its column
            hit = self._secondary_row(cdef, ref)
            found = None if hit is None else hit[2].get(ref.key)
        elif self._final(cdef.name):
            found = None
        else:
            row = self._db_row(cdef, ref.ref)
            found = None if row is None else row.get(ref.key)
        if isinstance(found, REF_TYPES):
            raise MappingError(f"lazy key {ref.key!r} of {ref.collection!r} is a reference")
        return ref.default if found is None else found


def _class(value: Any) -> str | None:
    return value if type(value) is str and value else None
