"""Parse: turn collected records into inventory objects through the spec's mappings.

Takes: a ``Spec`` and a ``CollectResult``. Gives: ``ParsedInventory`` (objects by collection,
first build of a manager_ref wins, lazy references as ``LazyRef``; completeness per collection).
Each attribute rule is compiled once into a small function; plain field paths are read
directly. Raises ``MappingError`` naming the spec location, collection, attribute and record.
No I/O.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from .collect import CollectResult
from .errors import MappingError
from .inventory import CollectionDef
from .model import Attribute, CollectionMapping, Source, Spec
from .objects import InventoryObject, LazyRef, ParsedInventory

Scope = dict[str, Any]
Rule = Callable[[Any, Scope], Any]

MANAGER_CLASS = {"cloud": "CloudManager", "network": "NetworkManager",
                 "storage": "StorageManager", "infra": "InfraManager",
                 "automation": "AutomationManager", "configuration": "ConfigurationManager",
                 "container": "ContainerManager", "physical": "PhysicalInfraManager"}


def camelize(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.split("_"))


def sti_type(spec: Spec, coll: CollectionDef) -> str:
    """ManageIQ's provider subclass name, e.g. ManageIQ::Providers::AwesomeCloud::CloudManager::Vm."""
    kind = coll.manager if coll.manager in MANAGER_CLASS else spec.provider.manager_type
    if kind not in spec.provider.child_managers and kind != spec.provider.manager_type:
        kind = spec.provider.manager_type
    return (f"ManageIQ::Providers::{camelize(spec.provider.name)}::{MANAGER_CLASS[kind]}::"
            f"{coll.model_class}")


def _ref_value(value: Any) -> Any:
    """Manager_ref values compare as strings, like ManageIQ's ``"__"``-joined keys."""
    if value is None or isinstance(value, LazyRef | str):
        return value
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    return str(value)


def _apply_map(attr: Attribute, base: Rule) -> Rule:
    table = attr.value_map
    match = attr.match
    default, has_default = attr.default, attr.has_default
    if table is None and not match:
        if not has_default:
            return base
        return lambda r, s: (v if (v := base(r, s)) is not None else default)

    def mapped(r: Any, s: Scope) -> Any:
        raw = base(r, s)
        if table is not None:
            if raw in table:
                return table[raw]
            key = str(raw).lower() if isinstance(raw, bool) else str(raw)
            if key in table:
                return table[key]
        if match and raw is not None:
            text = str(raw)
            for pattern, value in match:
                if pattern.search(text):
                    return value
        return default if has_default else raw

    return mapped


def compile_rule(attr: Attribute, spec: Spec) -> Rule:
    """One function computing the attribute from (record, scope)."""
    if attr.kind == "const":
        value = attr.value
        return lambda r, s: value
    if attr.kind == "template":
        tpl = attr.template
        assert tpl is not None
        return _apply_map(attr, lambda r, s: tpl.render({**s, "item": r}))
    if attr.kind == "expr":
        expr = attr.expression
        assert expr is not None
        if expr.roots:
            return _apply_map(attr, lambda r, s: expr.search(r, s))
        search = expr.search
        return _apply_map(attr, lambda r, s: search(r))
    return _lazy_rule(attr, spec)


def _lazy_rule(attr: Attribute, spec: Spec) -> Rule:
    target = spec.catalogue.collections[attr.lazy or ""]
    order = target.secondary_refs.get(attr.by, ()) if attr.by else target.manager_ref
    parts = dict(attr.ref_parts)
    exprs = [parts[name] for name in order] if "" not in parts else [parts[""]]
    name, key, default, by = target.name, attr.key, attr.default, attr.by

    def one(values: tuple[Any, ...]) -> LazyRef | Any:
        if any(v is None for v in values):
            return default
        return LazyRef(name, tuple(_ref_value(v) for v in values), key, default, by)

    if attr.kind == "lazy_many":
        expr = exprs[0]

        def many(r: Any, s: Scope) -> list[Any]:
            found = expr.search(r, s) if expr.roots else expr.search(r)
            if not found:
                return []
            items = found if isinstance(found, list) else [found]
            return [ref for v in items if isinstance(ref := one((v,)), LazyRef)]

        return many

    if len(exprs) == 1:
        expr = exprs[0]
        if expr.roots:
            return lambda r, s: one((expr.search(r, s),))
        search = expr.search
        return lambda r, s: one((search(r),))
    return lambda r, s: one(tuple(e.search(r, s) if e.roots else e.search(r) for e in exprs))


def _describe(record: Any) -> str:
    if isinstance(record, dict):
        for key in ("id", "name", "uid", "ems_ref"):
            if key in record:
                return f"{key}={record[key]!r}"
    text = json.dumps(record, default=str)
    return text[:60] + ("..." if len(text) > 60 else "")


class SourceParser:
    def __init__(self, spec: Spec, coll: CollectionDef, mapping: CollectionMapping,
                 source: Source) -> None:
        self.spec, self.coll, self.source = spec, coll, source
        self.rules = [(a, compile_rule(a, spec)) for a in source.attributes]
        self.names = [a.name for a in source.attributes]
        self.ref_names = coll.manager_ref
        self.sti = sti_type(spec, coll) if coll.sti and "type" not in self.names else None
        self.needs_scope = any(
            (a.expression is not None and a.expression.roots) or a.kind in ("template",)
            or any(e.roots for _, e in a.ref_parts)
            for a in source.attributes
        ) or bool(source.where and source.where.roots) or bool(
            source.each and source.each.roots)

    def run(self, records: list[Any], parents: list[Any] | None, base: Scope,
            inventory: ParsedInventory) -> None:
        source = self.source
        for index, record in enumerate(records):
            parent = parents[index] if parents is not None else None
            if source.each is not None:
                scope = {**base, "parent": parent, "index": index}
                found = source.each.search(record, scope) if source.each.roots else (
                    source.each.search(record))
                items = found if isinstance(found, list) else ([] if found is None else [found])
                for i, item in enumerate(items):
                    self.one(item, {**base, "parent": record, "index": i}, inventory)
            else:
                scope = {**base, "parent": parent, "index": index} if self.needs_scope else base
                self.one(record, scope, inventory)

    def one(self, record: Any, scope: Scope, inventory: ParsedInventory) -> None:
        where = self.source.where
        if where is not None:
            ok = where.search(record, scope) if where.roots else where.search(record)
            if not ok:
                return
        data: dict[str, Any] = {}
        for attr, rule in self.rules:
            try:
                data[attr.name] = rule(record, scope)
            except Exception as exc:  # any evaluation failure becomes a located MappingError
                raise MappingError(
                    f"{attr.location}: collections.{self.coll.name}.{attr.name}: "
                    f"{type(exc).__name__}: {exc} (record {_describe(record)})"
                ) from None
        if self.sti is not None:
            data["type"] = self.sti
        ref = tuple(_ref_value(data.get(n)) for n in self.ref_names)
        if any(v is None for v, n in zip(ref, self.ref_names, strict=True)
               if n not in self.coll.manager_ref_allowed_nil):
            return  # ManageIQ cannot index an object without its manager_ref; skip it
        inventory.build(InventoryObject(self.coll.name, ref, data))


def parse(spec: Spec, collected: CollectResult, context: Mapping[str, Any] | None = None
          ) -> ParsedInventory:
    """Build every collection of the spec from the collected records.

    ``context`` is the session's template context (region, settings, provider); expressions
    read it as ``$region``, ``$settings``, ``$provider``; ``$calls.<name>`` is a call's records.
    """
    ctx = context or {}
    inventory = ParsedInventory()
    base: Scope = {
        "region": ctx.get("region", {}),
        "provider": ctx.get("provider", {"name": spec.provider.name,
                                         "vendor": spec.provider.vendor}),
        "settings": ctx.get("settings", dict(spec.provider.settings)),
        "calls": {name: res.records for name, res in collected.calls.items()},
    }
    for name, mapping in spec.collections.items():
        coll = spec.catalogue.collections[name]
        inventory.objects.setdefault(name, {})
        complete = mapping.complete
        for source in mapping.sources:
            res = collected.calls.get(source.call)
            if res is None:
                complete = False
                continue
            complete = complete and res.complete
            SourceParser(spec, coll, mapping, source).run(res.records, res.parents, base,
                                                          inventory)
        inventory.complete[name] = complete
    return inventory
