"""What a saved collection tells the resolver: the row id (and ``ancestry`` path) of each object.

Takes: the ``Resolver`` (its ``ids`` and ``ancestry`` maps), the catalogue, a collection's
``RowPlan``, what the save strategy kept (``Known``: carried or digest-unchanged rows), the
items saved with their row positions, and the aliases (later objects with a first one's key).
Gives: ``remember_ids``, which fills the resolver so later collections' references find these
rows. Raises nothing; no I/O.
"""

from __future__ import annotations

from operator import attrgetter
from typing import Any

from miqspec.persist.items import Item
from miqspec.persist.rows import Resolver, RowPlan
from miqspec.persist.strategy import Known
from miqspec.persist.values import ancestry_column, mem_key
from miqspec.spec import Catalogue

__all__ = ["Alias", "remember_ids"]

_REF = attrgetter("ref")
_MKEY, _ID = attrgetter("mkey"), attrgetter("id")
Alias = tuple[tuple[Any, ...], Item | int]  # a later object's key, and the first one's


def remember_ids(
    resolver: Resolver,
    catalogue: Catalogue,
    name: str,
    plan: RowPlan,
    known: Known,
    items: list[Item],
    pos: dict[str, int],
    aliases: list[Alias],
) -> None:
    """Tell ``resolver`` the row id (and ``ancestry`` path) of every object of ``name`` saved."""
    ids = resolver.ids.setdefault(name, {})
    paths_of, table = resolver.ancestry, plan.table.name
    kept = known.kept
    n_objs = len(kept.objs)
    ids.update(zip(map(mem_key, map(_REF, kept.objs)), kept.ids[:n_objs], strict=True))
    if known.keys:  # carried rows: string keys; none when nothing refers to the collection
        ids.update(zip(known.keys, kept.ids[n_objs:], strict=True))
    ancestry = ancestry_column(catalogue, table)
    if ancestry and known.paths:  # unchanged by digest: the stored path is theirs
        for rid in kept.ids:
            path = known.paths.get(rid)
            if path is not None:
                paths_of[(table, rid)] = path
    ids.update(zip(map(_MKEY, items), map(_ID, items), strict=True))
    if ancestry:
        for item in items:
            path = None if item.old is None else item.old[pos[ancestry]]
            paths_of[(table, item.id)] = item.row.get(ancestry, path)
    for mkey, first in aliases:
        ids.setdefault(mkey, first if type(first) is int else first.id)  # type: ignore[union-attr]
