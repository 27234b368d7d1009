"""One source, two collections: ``route:`` and the lazy targets that span collections.

ManageIQ builds VMs and templates through one ``vms_and_templates`` collection and picks the
class per record. A mapping says it with ``route: {<collection>: <condition>, ...}``: each
record goes to the first collection whose condition holds, else stays in the mapping's own
collection (all of them share one table and manager_ref). The model keeps one
``CollectionMapping`` per collection: the mapping's sources are built once per collection
with their ``where`` narrowed to the records routed there, so parse, carry and persist see
ordinary collections.

A lazy to ``vms_and_templates`` (``LAZY_ALIASES``) points at whichever of ``vms`` and
``miq_templates`` built the referenced object in this refresh (``vms`` when neither did), so
dependents (hardwares, disks, operating_systems, ...) are declared once.

Takes/gives plain data; no I/O, raises nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: lazy targets that are any of several collections of one table: name -> its collections
LAZY_ALIASES: Mapping[str, tuple[str, ...]] = {"vms_and_templates": ("vms", "miq_templates")}


def lazy_target(name: str) -> str:
    """The catalogue collection whose definition a lazy to ``name`` uses (an alias's first)."""
    members = LAZY_ALIASES.get(name)
    return members[0] if members else name


def routes(craw: Mapping[str, Any]) -> list[tuple[str, str]]:
    """A mapping's ``route:`` as (collection, condition) pairs, in order."""
    raw = craw.get("route")
    if not isinstance(raw, Mapping):
        return []
    return [(str(k), v) for k, v in raw.items() if isinstance(v, str)]


def routed_where(where: str | None, conds: list[tuple[str, str]], chosen: int | None) -> str | None:
    """The ``where`` of a source's copy for route ``chosen`` (None: the mapping's own
    collection): the source's own condition, no earlier route's, and the chosen one's."""
    parts = [f"({where})"] if where else []
    for i, (_, cond) in enumerate(conds):
        if i == chosen:
            parts.append(f"!!({cond})")
            break
        parts.append(f"!({cond})")
    return " && ".join(parts) or None
