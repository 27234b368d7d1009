"""Record carry in persist: keep the rows of records carried unparsed, and store the maps.

Takes: a persist ``Db``, a collection's ``RowPlan``, its opened ``CollectionDigests``, its
``Carried`` records (``miqspec.parse``) and parsed objects, and the collections saved so far.
Gives: ``lean_ids`` (the carried rows whose keys need not be read); ``carried_rows`` (the
identity keys of the carried rows, or None when the collection must parse every record after
all); ``store_maps`` (each collection's maps of this refresh, written when they changed,
``persist.maps``).
Raises: ``DatabaseError`` (through ``Db``). Does database I/O.

A carried record's row is kept as it is when the row is in scope with a stored row digest
(``persist.digest``: the row is what the record's object gave when it was saved), every
collection its references point at was saved in this refresh with nothing created, updated,
reconnected or left to sweep (its references resolve as they did), and no object parsed from
another record claims the row. Otherwise the collection is parsed in full and takes the
row-digest path. A map entry is stored only for a record whose object this refresh saved.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from itertools import chain, compress, repeat
from operator import is_not, itemgetter
from typing import Any

import sqlalchemy as sa

from miqspec.parse import Carried, InventoryObject
from miqspec.persist.db import CHUNK, Db
from miqspec.persist.digest import CollectionDigests
from miqspec.persist.items import Saved
from miqspec.persist.maps import PAGES, RECORDS, maps_table, pack_pages, pack_records, write_map
from miqspec.persist.rows import RowPlan
from miqspec.persist.values import mem_key

_SECOND = itemgetter(1)


def lean_ids(carried: Carried | None, plan: RowPlan) -> set[int] | None:
    """The ids of carried rows whose identity keys persist need not read (nothing points at
    the collection, its key is one string column); None: read every key."""
    if carried is None or not carried.pairs or carried.referenced or len(plan.key_cols) != 1:
        return None
    if not isinstance(plan.table.c[plan.key_cols[0]].type, sa.String):
        return None  # keys are looked up as strings (``_claimed``)
    return set(map(_SECOND, carried.pairs))


def carried_rows(
    db: Db,
    saved: Mapping[str, Saved],
    name: str,
    plan: RowPlan,
    sums: CollectionDigests,
    carried: Carried,
    objs: Sequence[InventoryObject],
) -> list[tuple[Any, ...]] | None:
    """The identity keys of the carried rows (in ``carried.pairs`` order; none when ``sums``
    is lean: nothing needs them), or None: parse the collection in full (see the module
    docstring)."""
    ids = [rid for _, rid in carried.pairs]
    if not all(map(sums.stored.__contains__, ids)):
        return None
    keys: list[Any] = []
    if sums.lean:
        if not set(sums.ids).issuperset(ids):  # a row gone from scope
            return None
    else:
        key_of: Any = sums.key_of().get
        keys = list(map(key_of, ids))
        if None in keys:  # a row gone from scope
            return None
    for target in dict.fromkeys(t for _, t in carried.refs):
        done = saved.get(target)
        if done is None or not done.settled():
            return None
    if objs and _claimed(db, name, plan, sums, set(ids), objs):
        return None
    return keys


def _claimed(
    db: Db,
    name: str,
    plan: RowPlan,
    sums: CollectionDigests,
    carried: set[int],
    objs: Sequence[InventoryObject],
) -> bool:
    """True when an object parsed from another record has the key of a carried row."""
    known: Any = sums.known.get
    keys = plan.keys(objs)
    if not carried.isdisjoint(map(known, keys)):
        return True
    if not sums.lean:
        return False
    # a lean ``known`` lacks the carried rows: look the parsed objects' other keys up
    column = plan.table.c[plan.key_cols[0]]
    wanted = sorted({k[0] for k in keys if k is not None and known(k) is None and k[0]})
    for start in range(0, len(wanted), CHUNK):
        part = column.in_(wanted[start : start + CHUNK])
        rows, _ = db.select(name, ["id"], sa.and_(db.scope(name), part))
        if not carried.isdisjoint(r[0] for r in rows):
            return True
    return False


def store_maps(
    db: Db,
    carried: Mapping[str, Carried],
    owners: Mapping[str, int],
    usable: Callable[[str], bool],
    ids: Mapping[str, Mapping[tuple[Any, ...], int]],
) -> int:
    """Write each carrying collection's record map and page map of this refresh where they
    changed; return how many maps were written. ``usable(name)``: the collection was saved
    with row digests (else it loses both maps); ``ids``: the row id of each saved object by
    collection and in-memory key (``Resolver.ids``)."""
    table = None if db.dry_run or not carried else maps_table(db)
    if table is None:
        return 0
    written = 0
    for name, records in carried.items():
        owner = owners.get(name)
        if owner is None:
            continue
        ok = usable(name)
        if not ok or records.pages_changed:
            data = pack_pages(records.pages) if ok and records.pages else None
            write_map(db, table, owner, name, PAGES, records.fingerprint, data)
            written += 1
        if ok and not records.parsed and len(records.pairs) == len(records.stored):
            continue  # every record carried: the map is the stored one
        mapping: dict[int, int] = {}
        if ok:
            mapping.update(records.pairs)
            mapping.update(_parsed_rows(ids.get(name, {}), records.parsed))
        if mapping != records.stored:
            data = pack_records(mapping) if mapping else None
            write_map(db, table, owner, name, RECORDS, records.fingerprint, data)
            written += 1
    return written


def _parsed_rows(
    ids: Mapping[tuple[Any, ...], int], parsed: Sequence[tuple[int, tuple[Any, ...]]]
) -> Iterator[tuple[int, int]]:
    """(record digest, row id) of the parsed records whose object was saved (``ids``: row id
    by in-memory key); a ref of strings only is its own key (``mem_key``), so those are
    looked up in C."""
    if not parsed:
        return iter(())
    digests, refs = zip(*parsed, strict=True)
    plain = set(map(type, chain.from_iterable(refs))) <= {str}
    rids: list[Any] = list(map(ids.get, refs if plain else map(mem_key, refs)))
    return compress(zip(digests, rids, strict=True), map(is_not, rids, repeat(None)))
