"""Refresh targets and the plan of a targeted refresh: which calls stand for which, and what
is saved with which semantics.

Takes: a ``Spec`` and targets (``Target``: collection + manager_ref, e.g. from
``--target vms:ID`` or from events). Gives: ``Target``, ``parse_target`` ("vms:ID" ->
``Target``), ``group_targets`` (collection -> refs, first-seen order, duplicates merged) and
``plan_targeted`` -> ``TargetedPlan``: a derived spec (each targeted collection's
``target.call`` put in the place of the call it ``replaces``, so fan-outs below that call run
for the targets only, and its ``gone_on`` statuses skip), the calls to collect per target,
the collections in scope (every collection with a source reading a replaced call or a
fan-out below one: the targets' dependents; only those sources are parsed, so another
listing or an ``items:`` source builds nothing untargeted) and each one's completeness (targeted
collections and owner-less children sweep what the API says is gone, within the targets;
other dependents create and update only). Raises ``UsageError`` for a malformed target, a
collection the spec does not map, or one without a ``target`` rule. No I/O.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from miqspec.errors import UsageError
from miqspec.spec import Attribute, CollectionMapping, Source, Spec


@dataclass(frozen=True)
class Target:
    """One object to refresh: ``collection`` and its manager_ref value ``ref``."""

    collection: str
    ref: str

    def __str__(self) -> str:
        return f"{self.collection}:{self.ref}"


def parse_target(text: str) -> Target:
    """``"vms:ID"`` -> ``Target("vms", "ID")`` (the ref may hold colons)."""
    collection, sep, ref = text.partition(":")
    if not sep or not collection.strip() or not ref:
        raise UsageError(f"target {text!r} is not COLLECTION:MANAGER_REF (e.g. vms:i-123)")
    return Target(collection.strip(), ref)


def group_targets(targets: Iterable[Target]) -> dict[str, list[str]]:
    """collection -> refs in first-seen order, each once."""
    out: dict[str, dict[str, None]] = {}
    for t in targets:
        out.setdefault(t.collection, {})[t.ref] = None
    return {name: list(refs) for name, refs in out.items()}


@dataclass(frozen=True)
class TargetedPlan:
    """What a targeted refresh of ``refs`` collects and saves (module docstring)."""

    spec: Spec  # the derived spec: target calls in the place of the calls they replace
    refs: Mapping[str, list[str]]  # targeted collection -> manager_refs
    roots: Mapping[str, tuple[str, ...]]  # targeted collection -> calls to run per target
    replaced: Mapping[str, str]  # targeted collection -> the (replaced) call giving its records
    scope: tuple[str, ...]  # collections saved
    complete: Mapping[str, bool]  # per collection in scope: whether it sweeps (within targets)


def covered_calls(spec: Spec, root: str) -> set[str]:
    """``root`` and every fan-out call below it."""
    covered = {root}
    grew = True
    while grew:
        grew = False
        for name, call in spec.calls.items():
            if name not in covered and call.for_each and call.for_each.call in covered:
                covered.add(name)
                grew = True
    return covered


def plan_targeted(spec: Spec, targets: Iterable[Target]) -> TargetedPlan:
    """The plan of a targeted refresh of ``targets`` (``UsageError`` for a bad target)."""
    refs = group_targets(targets)
    if not refs:
        raise UsageError("a targeted refresh needs at least one target")
    calls = dict(spec.calls)
    replaced: dict[str, str] = {}
    covered: dict[str, set[str]] = {}
    for name in refs:
        if name not in spec.collections:
            known = ", ".join(sorted(spec.targets)) or "none"
            raise UsageError(
                f"target collection {name!r} is not mapped by spec {spec.provider.name!r} "
                f"(collections with a target rule: {known})"
            )
        rule = spec.targets.get(name)
        if rule is None:
            known = ", ".join(sorted(spec.targets)) or "none"
            raise UsageError(
                f"collection {name!r} has no target rule in spec {spec.provider.name!r}: only "
                f"a full refresh collects it (collections with one: {known})"
            )
        own = spec.calls[rule.call]
        skip = tuple(dict.fromkeys((*own.skip_on, *rule.gone_on)))
        calls[rule.replaces] = dataclasses.replace(own, name=rule.replaces, skip_on=skip)
        replaced[name] = rule.replaces
        for listing, stand_in in rule.with_calls.items():
            calls[listing] = dataclasses.replace(spec.calls[stand_in], name=listing)
    for name in refs:
        rule = spec.targets[name]
        # the target call and the fan-outs below it; of the calls it brings (with:), those
        # calls alone (a fan-out below a listing it stands in for is not wanted unless named)
        below = covered_calls(spec, rule.replaces) if rule.fan_outs else {rule.replaces}
        covered[name] = below | set(rule.with_calls)
    every = set().union(*covered.values())
    scope: list[str] = []
    mappings = {}
    roots: dict[str, list[str]] = {name: [] for name in refs}
    for name, mapping in spec.collections.items():
        every_source = mapping.all_sources or mapping.sources
        kept = [s for s in every_source if s.call in every]
        if _constant(mapping):
            continue  # below: when a refreshed collection refers to it
        if not kept:
            continue
        # only the sources reading replaced calls (or fan-outs below them) are parsed: the
        # others (another listing, an items: source) would build objects nobody targeted
        mappings[name] = derived = dataclasses.replace(
            mapping,
            sources=tuple(s for s in mapping.sources if s.call in every),
            all_sources=tuple(kept),
        )
        scope.append(name)
        sources = {s.call for s in kept}
        for target, cov in covered.items():
            if sources & cov:  # a $calls read of a call not collected reads null
                roots[target].extend(c for c in derived.calls if c in every)
    referred = {a.lazy for m in mappings.values() for src in m.all_sources
                for a in src.attributes if a.lazy}  # fmt: skip
    for name, mapping in spec.collections.items():
        if name in referred and name not in mappings and _constant(mapping):
            # items only, reading no call (a synthetic zone a refreshed row refers to)
            mappings[name] = mapping
            scope.append(name)
    for name in scope:  # lazies by a computed secondary ref of a collection not refreshed
        mappings[name] = _without_computed_lazies(spec, mappings[name], set(scope))
    complete = {}
    for name in scope:
        cdef = spec.catalogue.collections[name]
        complete[name] = name in refs or cdef.owner == "none"
    return TargetedPlan(
        spec=dataclasses.replace(spec, calls=calls, collections=mappings),
        refs=refs,
        roots={n: tuple(dict.fromkeys(r)) for n, r in roots.items()},
        replaced=replaced,
        scope=tuple(scope),
        complete=complete,
    )


def _computed_refs(spec: Spec, collection: str) -> set[str]:
    mapping = spec.collections.get(collection)
    if mapping is None:
        return set()
    return {n for src in mapping.all_sources or mapping.sources for n, _ in src.secondary_refs}


def _without_computed_lazies(spec: Spec, mapping: CollectionMapping, scope: set[str]) -> Any:
    """``mapping`` without the lazies found by a secondary ref that another collection's
    mapping computes, when that collection is not refreshed (a computed ref is never stored:
    nothing to find; the attribute is left out, so the stored column keeps its value)."""

    def drops(attr: Attribute) -> bool:
        return (
            attr.lazy is not None
            and attr.lazy not in scope
            and attr.by is not None
            and attr.by in _computed_refs(spec, attr.lazy)
        )

    def clean(source: Source) -> Source:
        kept = tuple(a for a in source.attributes if not drops(a))
        return (
            source
            if len(kept) == len(source.attributes)
            else dataclasses.replace(source, attributes=kept)
        )

    return dataclasses.replace(
        mapping,
        sources=tuple(clean(s) for s in mapping.sources),
        all_sources=tuple(clean(s) for s in mapping.all_sources),
    )


def _constant(mapping: CollectionMapping) -> bool:
    """Every source an ``items:`` source reading no call (the same rows on every refresh)."""
    return all(
        not s.call and s.items is not None and not s.items.calls
        for s in mapping.all_sources or mapping.sources
    )
