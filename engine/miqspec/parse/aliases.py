"""Resolve lazy references to a collection alias (``vms_and_templates``) after parsing.

Takes: the ``Spec`` and the ``ParsedInventory`` every source built. Gives:
``resolve_aliases``: each ``LazyRef`` to an alias (``spec.LAZY_ALIASES``), also one nested in
another reference's manager_ref, points at the alias's collection that built the object
(``vms`` or ``miq_templates``; the first, ``vms``, when none did: persist then looks it up
there). Objects whose manager_ref held such a reference are re-keyed. Only collections whose
rules hold an alias lazy are visited (none for most specs: nothing is done). No I/O, raises
nothing.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from miqspec.parse.objects import LazyRef, ParsedInventory
from miqspec.spec import LAZY_ALIASES, Attribute, Spec


def _walk(attr: Attribute) -> Iterator[Attribute]:
    yield attr
    for _, part in attr.ref_parts:
        if isinstance(part, Attribute):
            yield from _walk(part)


def alias_users(spec: Spec) -> set[str]:
    """The collections some rule of which is a lazy to an alias (at any depth)."""
    return {
        name
        for name, mapping in spec.collections.items()
        for source in mapping.all_sources or mapping.sources
        for attr in source.attributes
        if any(a.lazy in LAZY_ALIASES for a in _walk(attr))
    }


def resolve_aliases(spec: Spec, inventory: ParsedInventory) -> None:
    users = alias_users(spec)
    if not users:
        return
    homes: dict[str, dict[tuple[Any, ...], str]] = {}
    for alias, members in LAZY_ALIASES.items():
        found = homes[alias] = {}
        for member in reversed(members):  # the first member wins a ref both built
            found.update(dict.fromkeys(inventory.objects.get(member, {}), member))
    memo: dict[LazyRef, LazyRef] = {}

    def fix_ref(ref: LazyRef) -> LazyRef:
        try:
            done = memo.get(ref)
        except TypeError:  # an unhashable part: not shared
            done = None
        if done is not None:
            return done
        parts = tuple(fix(v) for v in ref.ref)
        collection = ref.collection
        if collection in LAZY_ALIASES:
            members = LAZY_ALIASES[collection]
            try:
                collection = homes[collection].get(parts, members[0])
            except TypeError:
                collection = members[0]
        done = LazyRef(collection, parts, ref.key, ref.default, ref.secondary)
        with contextlib.suppress(TypeError):  # an unhashable part: not shared
            memo[ref] = done
        return done

    def fix(value: Any) -> Any:
        if isinstance(value, LazyRef):
            return fix_ref(value)
        if isinstance(value, list):
            return [fix(v) for v in value]
        return value

    for name in users:
        bucket = inventory.objects.get(name)
        if not bucket:
            continue
        rekeyed: dict[tuple[Any, ...], Any] = {}
        for obj in bucket.values():
            obj.data = {k: fix(v) for k, v in obj.data.items()}
            obj.ref = tuple(fix(v) for v in obj.ref)
            rekeyed.setdefault(obj.ref, obj)
        inventory.objects[name] = rekeyed
        for index in inventory.secondary.get(name, {}).values():
            fixed = {tuple(fix(v) for v in key): obj for key, obj in index.items()}
            index.clear()
            index.update(fixed)
