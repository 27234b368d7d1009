"""One source of one collection: its records (and nested items) -> inventory objects.

Takes: the spec, the collection's catalogue entry and mapping, one ``Source`` (a call's
records or an ``items`` expression, ``each`` levels, ``where``), the records with their
fan-out parents and ancestor chains, and the base scope (``$region``, ``$provider``,
``$settings``, ``$calls``, ``$login``). Gives: ``SourceParser`` (``run`` builds every object
into a ``ParsedInventory``; ``digested`` builds the records a carrying collection must parse,
with their digests; ``items`` evaluates an ``items`` source), ``Scope`` and ``label_pairs``
(a ``tags.from`` value as (name, value) pairs). A ``merge: true`` source merges its
attributes into the object built before with the same manager_ref (a non-null value wins, a
null never erases; ManageIQ's ``find_or_build`` + ``assign_attributes``), or builds it; a
source with ``tags`` keeps each object's labels in ``ParsedInventory.labels`` (a merged
object's add up). Records that give no object are counted in ``ParsedInventory.dropped``
with the reason. Raises ``MappingError``
naming the spec location, collection, attribute and record. No I/O.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from miqspec.collect import CallResult
from miqspec.errors import MappingError
from miqspec.parse.ancestry import Chains
from miqspec.parse.fast import compile_data
from miqspec.parse.objects import InventoryObject, ParsedInventory
from miqspec.parse.rules import (
    attribute_templates,
    class_prefix,
    compile_rule,
    ref_value,
    secondary_key,
    sti_type,
)
from miqspec.spec import (
    CollectionDef,
    CollectionMapping,
    Source,
    Spec,
    source_expressions,
    template_references,
)

__all__ = ["Scope", "SourceParser"]

Scope = dict[str, Any]

NO_REF = "manager_ref null"
NO_FK = "manager_ref reference null"
DUPLICATE = "manager_ref built before with other values (duplicate)"


def _describe(record: Any) -> str:
    if isinstance(record, dict):
        for key in ("id", "name", "uid", "ems_ref"):
            if key in record:
                return f"{key}={record[key]!r}"
    text = json.dumps(record, default=str)
    return text[:60] + ("..." if len(text) > 60 else "")


def label_pairs(found: Any) -> list[tuple[str, str]]:
    """(name, value) pairs of a ``tags.from`` value: an object of name -> value, or a list of
    ``{name, value}`` (or ``{key, value}``) objects; null values and names are left out."""
    if isinstance(found, dict):
        items = list(found.items())
    else:
        items = [
            (i.get("name", i.get("key")), i.get("value"))
            for i in _as_list(found)
            if isinstance(i, dict)
        ]
    return [(str(n), _text(v)) for n, v in items if n is not None and v is not None]


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _as_list(found: Any) -> list[Any]:
    return found if isinstance(found, list) else ([] if found is None else [found])


class SourceParser:
    """Builds the objects of one source of one collection."""

    def __init__(
        self, spec: Spec, coll: CollectionDef, mapping: CollectionMapping, source: Source
    ) -> None:
        self.spec, self.coll, self.source = spec, coll, source
        self.where_at = f"{source.location}: collections.{coll.name}"
        self.rules = [(a, compile_rule(a, spec)) for a in source.attributes]
        self.named_rules = [(a.name, rule) for a, rule in self.rules]
        # all rules in one generated call for JSON-object records (parse_fast)
        self.fast = compile_data(spec, source.attributes, [r for _, r in self.rules], self.where_at)
        names = [a.name for a in source.attributes]
        self.ref_names = coll.manager_ref
        # ManageIQ keeps an object with a null manager_ref part, unless the part is a foreign
        # key (a reference) not in manager_ref_allowed_nil; a manager_ref all null is no identity
        allowed_nil = set(coll.manager_ref_allowed_nil)
        self.fk_parts = {n for n in coll.manager_ref if n in coll.references} - allowed_nil
        self.sti = sti_type(spec, coll) if coll.sti and "type" not in names else None
        # STI shorthand: a type without "::" is a class of this provider's manager
        self.type_prefix = class_prefix(spec, coll) if coll.sti and "type" in names else None
        self._types: dict[str, str] = {}
        exprs = [e for e in source_expressions(source) if e is not source.items]
        roots: set[str] = set().union(*(e.roots for e in exprs)) if exprs else set()
        templates = [t for a in source.attributes for t in attribute_templates(a)]
        self.needs_scope = bool(roots) or bool(templates)
        self.needs_ancestors = "ancestors" in roots or any(
            any(ref.split(".")[0] == "ancestors" for ref in template_references(t.text))
            for t in templates
        )
        self.secondary = source.secondary_refs
        self.tags = source.tags  # labels kept per object (``label``), None for most sources

    def run(
        self,
        records: list[Any],
        parents: list[Any] | None,
        chains: Chains | None,
        base: Scope,
        inventory: ParsedInventory,
    ) -> None:
        """Build from ``records`` (``parents[i]`` is record i's fan-out parent, ``chains(i)``
        its fan-out ancestors)."""
        levels = self.source.each
        if not levels:
            if not self.needs_scope:
                for record in records:
                    self.one(record, base, inventory)
                return
            for index, record in enumerate(records):
                scope = {
                    **base,
                    "parent": parents[index] if parents is not None else None,
                    "index": index,
                }
                if self.needs_ancestors:
                    scope["ancestors"] = chains(index) if chains is not None else []
                self.one(record, scope, inventory)
            return
        if len(levels) == 1 and not self.needs_ancestors:
            for index, record in enumerate(records):
                parent = parents[index] if parents is not None else None
                found = self.level(0, record, {**base, "parent": parent, "index": index})
                for i, item in enumerate(found):
                    self.one(item, {**base, "parent": record, "index": i}, inventory)
            return
        for index, record in enumerate(records):
            if self.needs_ancestors:
                chain = chains(index) if chains is not None else []
            else:
                chain = [parents[index]] if parents is not None else []
            self.descend(record, chain, 0, index, base, inventory)

    def descend(
        self,
        subject: Any,
        chain: list[Any],
        depth: int,
        index: int,
        base: Scope,
        inventory: ParsedInventory,
    ) -> None:
        """Evaluate level ``depth`` on ``subject`` (whose enclosing items are ``chain``)."""
        scope = {**base, "parent": chain[0] if chain else None, "index": index}
        if self.needs_ancestors:
            scope["ancestors"] = chain
        found = self.level(depth, subject, scope)
        inner = [subject, *chain]
        if depth == len(self.source.each) - 1:
            for i, item in enumerate(found):
                final = {**base, "parent": subject, "index": i}
                if self.needs_ancestors:
                    final["ancestors"] = inner
                self.one(item, final, inventory)
        else:
            for i, item in enumerate(found):
                self.descend(item, inner, depth + 1, i, base, inventory)

    def level(self, depth: int, subject: Any, scope: Scope) -> list[Any]:
        expr = self.source.each[depth]
        try:
            return _as_list(expr.search(subject, scope) if expr.roots else expr.search(subject))
        except Exception as exc:  # any evaluation failure becomes a located MappingError
            path = "each" if len(self.source.each) == 1 else f"each[{depth}]"
            raise self.error(path, exc, subject) from None

    def error(self, what: str, exc: Exception, record: Any) -> MappingError:
        return MappingError(
            f"{self.where_at}.{what}: {type(exc).__name__}: {exc} (record {_describe(record)})"
        )

    def one(self, record: Any, scope: Scope, inventory: ParsedInventory) -> InventoryObject | None:
        """Build ``record``'s object; it, or None when the record gives none (filtered out,
        no manager_ref, or its ref was built before)."""
        where = self.source.where
        if where is not None:
            try:
                ok = where.search(record, scope) if where.roots else where.search(record)
            except Exception as exc:  # any evaluation failure becomes a located MappingError
                raise self.error("where", exc, record) from None
            if not ok:
                return None
        try:
            data = self.fast(record, scope)
        except Exception:  # the rules one by one (``data``) say which attribute failed
            data = None
        if data is None:
            data = self.data(record, scope)
        if self.sti is not None:
            data["type"] = self.sti
        elif self.type_prefix is not None:
            short = data.get("type")
            if type(short) is str and "::" not in short:
                full = self._types.get(short)
                if full is None:
                    full = self._types[short] = self.type_prefix + short
                data["type"] = full
        ref = tuple([v if type(v) is str else ref_value(v) for v in map(data.get, self.ref_names)])
        if None in ref:
            why = self.null_identity(ref)
            if why is not None:
                inventory.drop(self.coll.name, why)
                return None
        obj = InventoryObject(self.coll.name, ref, data)
        kept = inventory.build(obj)
        if kept is not obj:
            if self.source.merge:  # find_or_build: a non-null value wins, a null never erases
                kept.data.update({k: v for k, v in data.items() if v is not None})
                obj = kept
            else:
                if kept.data != data:  # the same object again loses nothing
                    inventory.drop(self.coll.name, DUPLICATE)
                return None
        if self.secondary:
            self.index(obj, inventory)
        if self.tags is not None:
            self.label(obj, record, scope, inventory)
        return obj

    def null_identity(self, ref: tuple[Any, ...]) -> str | None:
        """Why a manager_ref with a null part gives no object (None: it gives one)."""
        nulls = [n for v, n in zip(ref, self.ref_names, strict=True) if v is None]
        if self.fk_parts.intersection(nulls):
            return NO_FK  # ManageIQ refuses an object whose foreign key part is null
        allowed = self.coll.manager_ref_allowed_nil
        if len(nulls) == len(ref) and not all(n in allowed for n in nulls):
            return NO_REF  # no identity at all
        return None

    def digested(
        self, todo: list[tuple[Any, int | None]], scope: Scope, inventory: ParsedInventory
    ) -> list[tuple[int, tuple[Any, ...]]]:
        """``one`` of each (record, digest) of ``todo``, in order; (digest, ref) of each object
        built from a record with a digest. A source without ``where``, type shorthand or
        computed secondary refs whose manager_ref is one attribute does ``one``'s work inline
        (the generated call, the STI type, the ref, the object); a record the generated call
        does not take (not an object, a rule failing) goes through ``one``."""
        parsed: list[tuple[int, tuple[Any, ...]]] = []
        append = parsed.append
        one = self.one
        inline = (
            self.source.where is None
            and self.type_prefix is None
            and not self.secondary
            and len(self.ref_names) == 1
        )
        fast, sti, key, name = self.fast, self.sti, self.ref_names[0], self.coll.name
        nil_ok = key in self.coll.manager_ref_allowed_nil
        objects = inventory.objects
        for record, digest in todo:
            data = None
            if inline:
                try:
                    data = fast(record, scope)
                except Exception:  # ``one`` runs the rules one by one and names the failure
                    data = None
            if data is None:
                obj = one(record, scope, inventory)
                if obj is not None and digest is not None:
                    append((digest, obj.ref))
                continue
            if sti is not None:
                data["type"] = sti
            value = data.get(key)
            ref = (value if type(value) is str else ref_value(value),)
            if ref[0] is None and not nil_ok:
                inventory.drop(name, NO_FK if key in self.fk_parts else NO_REF)
                continue  # no manager_ref: ``one`` skips it too
            bucket = objects.get(name)
            if bucket is None:
                bucket = objects[name] = {}
            elif ref in bucket:  # an object with this ref was built before: the first wins
                if bucket[ref].data != data:  # the same object again loses nothing
                    inventory.drop(name, DUPLICATE)
                continue
            bucket[ref] = InventoryObject(name, ref, data)
            if digest is not None:
                append((digest, ref))
        return parsed

    def data(self, record: Any, scope: Scope) -> dict[str, Any]:
        """The attributes of ``record``, rule by rule (a failure names its attribute)."""
        data: dict[str, Any] = {}
        try:
            for name, rule in self.named_rules:
                data[name] = rule(record, scope)
        except Exception as exc:  # any evaluation failure becomes a located MappingError
            attr = self.rules[len(data)][0]
            raise MappingError(
                f"{attr.location}: collections.{self.coll.name}.{attr.name}: "
                f"{type(exc).__name__}: {exc} (record {_describe(record)})"
            ) from None
        return data

    def index(self, obj: InventoryObject, inventory: ParsedInventory) -> None:
        for name, expr in self.secondary:
            try:
                key = secondary_key(expr.search(obj.data))
            except Exception as exc:  # any evaluation failure becomes a located MappingError
                raise self.error(f"secondary_refs.{name}", exc, obj.data) from None
            if key is not None:
                inventory.index_secondary(obj, name, key)

    def label(
        self, obj: InventoryObject, record: Any, scope: Scope, inventory: ParsedInventory
    ) -> None:
        """Keep ``obj``'s labels (``tags.from`` on ``record``; a merged object's add up)."""
        expr = self.tags
        assert expr is not None
        try:
            found = expr.search(record, scope) if expr.roots else expr.search(record)
        except Exception as exc:  # any evaluation failure becomes a located MappingError
            raise self.error("tags.from", exc, record) from None
        pairs = label_pairs(found)
        labels = inventory.labels.setdefault(self.coll.name, {})
        labels[obj.ref] = tuple(sorted({*labels.get(obj.ref, ()), *pairs}))

    def items(self, base: Scope, calls: Mapping[str, CallResult]) -> tuple[list[Any], bool]:
        """An ``items`` source's records, and whether every call it reads completed."""
        expr = self.source.items
        assert expr is not None
        try:
            found = _as_list(expr.search({}, base))  # no record: `{}`, so that [..] and {..} work
        except Exception as exc:  # any evaluation failure becomes a located MappingError
            raise self.error("items", exc, None) from None
        names = set(calls) if "*" in expr.calls else expr.calls
        return found, all(n in calls and calls[n].complete for n in names)
