"""Attribute rules for the parser: each mapping attribute compiled once into a small function.

Takes: a model ``Attribute`` (and the ``Spec`` for lazy targets and STI names).
Gives: ``compile_rule(attr, spec) -> Rule``, a function of (record, scope) computing the
attribute (constants, expressions with ``map``/``match``/``default``, templates, ``switch``
/``cases``, lazy references with composite refs whose parts may be nested rules such as an
inner lazy; equal references are one shared ``LazyRef``); ``lazy_field`` (a lazy over one
record field, for :mod:`miqspec.parse.fast`); ``ref_value`` (manager_ref values as compared
strings), ``secondary_key``, ``sti_type``/``class_prefix`` (ManageIQ's provider class names),
``attribute_templates``.
Raises nothing at compile time for a checked spec; rules raise whatever an expression or
template raises (the parser adds the location). No I/O.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from miqspec.parse.objects import LazyRef
from miqspec.spec import Attribute, CollectionDef, Spec, Template, case_key, lazy_target

Scope = dict[str, Any]
Rule = Callable[[Any, Scope], Any]
LazyMaker = Callable[[tuple[Any, ...]], Any]

MANAGER_CLASS = {
    "cloud": "CloudManager",
    "network": "NetworkManager",
    "storage": "StorageManager",
    "infra": "InfraManager",
    "automation": "AutomationManager",
    "configuration": "ConfigurationManager",
    "container": "ContainerManager",
    "physical": "PhysicalInfraManager",
}


def camelize(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.split("_"))


def class_prefix(spec: Spec, coll: CollectionDef) -> str:
    """``<namespace>::<Manager>::`` for the manager owning ``coll``: the namespace is
    ``provider.class_namespace``, else ``ManageIQ::Providers::<Provider>``."""
    kind = coll.manager if coll.manager in MANAGER_CLASS else spec.provider.manager_type
    if kind not in spec.provider.child_managers and kind != spec.provider.manager_type:
        kind = spec.provider.manager_type
    return f"{spec.provider.namespace}::{MANAGER_CLASS[kind]}::"


def sti_type(spec: Spec, coll: CollectionDef) -> str:
    """ManageIQ's provider subclass, e.g. ManageIQ::Providers::AwesomeCloud::CloudManager::Vm;
    the ``type`` a collection's scope fixes (two models on one table told apart by it)."""
    scoped = coll.scope.get("type")
    if isinstance(scoped, str):
        return scoped
    return class_prefix(spec, coll) + coll.model_class


def ref_value(value: Any) -> Any:
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


def secondary_key(value: Any) -> tuple[Any, ...] | None:
    """The index key of a computed secondary ref value (a list gives a composite key)."""
    parts = value if isinstance(value, list) else [value]
    if not parts or any(v is None for v in parts):
        return None
    return tuple(ref_value(v) for v in parts)


def attribute_templates(attr: Attribute) -> Iterator[Template]:
    """The templates of an attribute rule, nested ref parts included."""
    if attr.template is not None:
        yield attr.template
    for _, part in attr.ref_parts:
        if isinstance(part, Attribute):
            yield from attribute_templates(part)


def _lookup(table: Any, raw: Any) -> tuple[bool, Any]:
    """(found, value) of ``raw`` in a ``map``/``cases`` table: as is, then as its string."""
    try:
        if raw in table:
            return True, table[raw]
    except TypeError:  # an unhashable value (object, array)
        pass
    key = case_key(raw)
    return (True, table[key]) if key in table else (False, None)


def _apply_map(attr: Attribute, base: Rule) -> Rule:
    table = attr.value_map
    match = attr.match
    default, has_default = attr.default, attr.has_default
    if table is None and not match:
        if not has_default:
            return base
        return lambda r, s: v if (v := base(r, s)) is not None else default

    def mapped(r: Any, s: Scope) -> Any:
        raw = base(r, s)
        if table is not None:
            found, value = _lookup(table, raw)
            if found:
                return value
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
    if attr.kind == "switch":
        return _switch_rule(attr)
    return _lazy_rule(attr, spec)


def _switch_rule(attr: Attribute) -> Rule:
    switch, cases, fallback = attr.expression, attr.cases or {}, attr.default_expression
    assert switch is not None

    def rule(r: Any, s: Scope) -> Any:
        raw = switch.search(r, s)
        found, expr = (False, None) if raw is None else _lookup(cases, raw)
        if found and expr is not None:
            return expr.search(r, s)
        return None if fallback is None else fallback.search(r, s)

    return rule


def _part_rule(part: Any, spec: Spec) -> Rule:
    if isinstance(part, Attribute):
        return compile_rule(part, spec)
    if part.roots:
        return lambda r, s: part.search(r, s)
    search = part.search
    return lambda r, s: search(r)


def _lazy_parts(
    attr: Attribute, spec: Spec
) -> tuple[list[Any], LazyMaker, Callable[[Any], Any], dict[str, LazyRef]]:
    """The ref parts a lazy reads (in the target's manager_ref or secondary-ref order), the
    function making its reference from their values (and from one value), and the references
    made from one string value so far, by that value. Equal references are one shared object
    (persist resolves each reference object once)."""
    target = spec.catalogue.collections[lazy_target(attr.lazy or "")]
    secondary = target.secondary_refs.get(attr.by, ()) if attr.by else ()
    order = secondary if attr.by else target.manager_ref
    parts = dict(attr.ref_parts)
    chosen = [parts[name] for name in order] if "" not in parts else [parts[""]]
    # an alias (vms_and_templates) stays in the reference until parse resolves it (aliases)
    name, key, default, by = attr.lazy or "", attr.key, attr.default, attr.by
    made: dict[tuple[Any, ...], LazyRef] = {}
    by_str: dict[str, LazyRef] = {}

    def shared(ref: tuple[Any, ...]) -> LazyRef:
        try:
            found = made.get(ref)
            if found is None:
                found = made[ref] = LazyRef(name, ref, key, default, by)
        except TypeError:  # an unhashable part
            return LazyRef(name, ref, key, default, by)
        return found

    def one(values: tuple[Any, ...]) -> LazyRef | Any:
        if any(v is None for v in values):
            return default  # also when an inner lazy found nothing to point at
        return shared(tuple(ref_value(v) for v in values))

    def one_value(value: Any) -> LazyRef | Any:
        if value is None:
            return default
        if type(value) is str:
            found = by_str.get(value)
            if found is None:
                found = by_str[value] = shared((value,))
            return found
        return shared((ref_value(value),))

    return chosen, one, one_value, by_str


def lazy_field(
    attr: Attribute, spec: Spec
) -> tuple[str, Callable[[Any], Any], dict[str, LazyRef]] | None:
    """For a ``lazy`` whose ref is one plain field of the record: that field's name, the
    function of its value giving what the attribute's rule gives, and the references it made
    from string values by value (a hit there is what the function returns; else None)."""
    if attr.kind != "lazy":
        return None
    chosen, _, one_value, by_str = _lazy_parts(attr, spec)
    part = chosen[0]
    if len(chosen) != 1 or isinstance(part, Attribute) or part.kind != "field":
        return None
    return part.ast["value"], one_value, by_str


def _lazy_rule(attr: Attribute, spec: Spec) -> Rule:
    chosen, one, one_value, _ = _lazy_parts(attr, spec)

    if attr.kind == "lazy_many":
        refs = chosen[0]
        assert not isinstance(refs, Attribute)

        def many(r: Any, s: Scope) -> list[Any]:
            found = refs.search(r, s) if refs.roots else refs.search(r)
            if not found:
                return []
            items = found if isinstance(found, list) else [found]
            return [ref for v in items if isinstance(ref := one_value(v), LazyRef)]

        return many

    if len(chosen) == 1 and not isinstance(chosen[0], Attribute):
        expr = chosen[0]
        if expr.roots:
            return lambda r, s: one_value(expr.search(r, s))
        search = expr.search
        return lambda r, s: one_value(search(r))
    rules = [_part_rule(part, spec) for part in chosen]
    return lambda r, s: one(tuple(rule(r, s) for rule in rules))
