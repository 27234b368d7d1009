"""Parse: turn collected records into inventory objects through the spec's mappings.

Takes: a ``Spec`` and a ``CollectResult``. Gives: ``ParsedInventory`` (objects by collection,
first build of a manager_ref wins, lazy references as ``LazyRef``; completeness per collection;
the computed secondary-ref indexes). Each attribute rule is compiled once
(:mod:`miqspec.parse.rules`); plain field paths are read directly. Raises ``MappingError``
naming the spec location, collection, attribute and record. No I/O.

Sources: a call's records (``from``) or ``items`` evaluated once (roots ``$region``,
``$provider``, ``$settings``, ``$calls``). ``each`` is one expression or a list of levels:
level k runs on each item of level k-1 (level 1 on the record). Scopes: ``$parent`` is the
enclosing item (the record for level-1 items; the fan-out parent outside ``each``), and
``$ancestors`` is ``[$parent, its parent, ..., the record, the record's fan-out parents...]``.
Work for ``$ancestors`` is only done by sources that use it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from miqspec.collect import CollectResult
from miqspec.parse.aliases import resolve_aliases
from miqspec.parse.ancestry import Ancestry
from miqspec.parse.carry import Carry, CarryPlan, page_digests, split
from miqspec.parse.objects import Carried, ParsedInventory
from miqspec.parse.rules import (
    MANAGER_CLASS,
    camelize,
    sti_type,
)
from miqspec.parse.source import Scope, SourceParser
from miqspec.spec import (
    Spec,
    find_by_indexes,
)

__all__ = ["MANAGER_CLASS", "Ancestry", "SourceParser", "camelize", "parse", "sti_type"]


def parse(
    spec: Spec,
    collected: CollectResult,
    context: Mapping[str, Any] | None = None,
    carry: Carry | None = None,
) -> ParsedInventory:
    """Build every collection of the spec from the collected records.

    ``context`` is the session's template context (region, settings, provider); expressions
    read it as ``$region``, ``$settings``, ``$provider``, ``$login`` (login results);
    ``$calls.<name>`` is a call's records.
    ``carry``: the collections of ``carry.plans`` take record digests, and leave unparsed the
    records whose digest their stored map holds (``ParsedInventory.carried``).
    """
    ctx = context or {}
    inventory = ParsedInventory()
    base: Scope = {
        "region": ctx.get("region", {}),
        "provider": ctx.get(
            "provider", {"name": spec.provider.name, "vendor": spec.provider.vendor}
        ),
        "settings": ctx.get("settings", dict(spec.provider.settings)),
        "calls": {name: res.records for name, res in collected.calls.items()},
        "login": ctx.get("login") or {},
    }
    ancestry = Ancestry(spec, collected)
    with find_by_indexes():
        for name, mapping in spec.collections.items():
            coll = spec.catalogue.collections[name]
            inventory.objects.setdefault(name, {})
            complete = mapping.complete
            for source in mapping.all_sources or mapping.sources:
                for key_name, _ in source.secondary_refs:
                    inventory.declare_secondary(name, key_name)
                parser = SourceParser(spec, coll, mapping, source)
                if source.items is not None:
                    records, ok = parser.items(base, collected.calls)
                    complete = complete and ok
                    parser.run(records, None, None, base, inventory)
                    continue
                res = collected.calls.get(source.call)
                if res is None:
                    complete = False
                    continue
                complete = complete and res.complete
                if carry is not None and name in carry.plans:
                    plan = carry.plans[name]
                    digests, pages, changed = page_digests(
                        res.records, res.page_digests, carry.pages.get(name, {}), plan.fields
                    )
                    carried = _carry(
                        parser,
                        plan,
                        res.records,
                        digests,
                        carry.stored.get(name, {}),
                        base,
                        inventory,
                    )
                    carried.pages, carried.pages_changed = pages, changed
                    inventory.carried[name] = carried
                    continue
                chains = ancestry.chains(source.call) if parser.needs_ancestors else None
                parser.run(res.records, res.parents, chains, base, inventory)
            inventory.complete[name] = complete
    resolve_aliases(spec, inventory)  # lazies to vms_and_templates: where the object is
    return inventory


def _carry(
    parser: SourceParser,
    plan: CarryPlan,
    records: list[Any],
    digests: list[int | None],
    stored: dict[int, int],
    base: Scope,
    inventory: ParsedInventory,
) -> Carried:
    """Parse the records of a carrying collection whose digest (``digests[i]`` is record
    i's) ``stored`` lacks (the parser needs no scope beyond ``base``: ``carry_plans`` saw to
    it)."""
    pairs, rest = split(records, digests, stored)
    name = plan.collection

    def build(todo: list[tuple[Any, int | None]]) -> list[tuple[int, tuple[Any, ...]]]:
        return parser.digested(todo, base, inventory)

    carried = Carried(
        plan.refs, plan.fingerprint, stored, pairs, build(rest), lambda: None, plan.referenced
    )

    def expand() -> None:  # every record, in order: what a plain parse builds
        if not carried.pairs:
            return
        inventory.objects[name] = {}
        inventory.dropped.pop(name, None)  # every record is parsed again: counted again
        carried.pairs = []
        carried.parsed = build(list(zip(records, digests, strict=True)))

    carried.expand = expand
    return carried
