"""Record maps for persist: keep the rows of records carried unparsed, and store the maps.

Takes: a connection, the metadata and the ``CarryPlan``s with each collection's owner id
(``load_maps``, before parse); during persist, the ``Persister``, a collection's opened
``CollectionDigests`` and its ``Carried`` records.
Gives: ``load_maps`` (collection -> record digest -> row id, and collection -> page digest ->
its records' digests, as the last refresh stored them under the same fingerprint);
``lean_ids`` (the carried rows whose keys need not be read); ``carried_rows`` (the identity
keys of the carried rows, or None when the collection must parse every record after all);
``store_maps`` (each collection's maps of this refresh, written when they changed, one row
of ``miqspec_record_maps`` per manager, collection and kind, as little-endian 64-bit
integers); ``pack_records``/``unpack_records``, ``pack_pages``/``unpack_pages``.
Raises: ``DatabaseError`` (through ``Db``). Does database I/O.

A carried record's row is kept as it is when the row is in scope with a stored row digest
(``persist_digest``: the row is what the record's object gave when it was saved), every
collection its references point at was saved in this refresh with nothing created, updated,
reconnected or left to sweep (its references resolve as they did), and no object parsed from
another record claims the row. Otherwise the collection is parsed in full and takes the
row-digest path. A map entry is stored only for a record whose object this refresh saved.
"""

from __future__ import annotations

import sys
from array import array
from collections.abc import Iterator, Mapping, Sequence
from itertools import chain, compress, repeat
from operator import is_not, itemgetter
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from miqspec.errors import DatabaseError
from miqspec.parse import Carried, CarryPlan, InventoryObject
from miqspec.persist.db import CHUNK
from miqspec.persist.digest import CollectionDigests
from miqspec.persist.values import mem_key

_SECOND = itemgetter(1)
MAPS_TABLE = "miqspec_record_maps"
RECORDS, PAGES = "records", "pages"  # the two kinds of map a collection has

if TYPE_CHECKING:
    from miqspec.persist.persister import Persister
    from miqspec.persist.rows import RowPlan


def load_maps(
    conn: sa.Connection,
    metadata: sa.MetaData,
    plans: Mapping[str, CarryPlan],
    owners: Mapping[str, int],
) -> tuple[dict[str, dict[int, int]], dict[str, dict[int, list[int]]]]:
    """The stored record maps of ``plans``' collections and their page maps (page digest ->
    the record digests of that page), empty where none matches the plan's fingerprint."""
    table = metadata.tables.get(MAPS_TABLE)
    records: dict[str, dict[int, int]] = {name: {} for name in plans}
    pages: dict[str, dict[int, list[int]]] = {name: {} for name in plans}
    if table is None or not plans:
        return records, pages
    try:
        if not sa.inspect(conn).has_table(MAPS_TABLE):
            return records, pages
        rows = conn.execute(
            sa.select(
                table.c.ems_id, table.c.collection, table.c.kind, table.c.fingerprint, table.c.data
            )
            .where(table.c.collection.in_(sorted(plans)))
            .order_by(table.c.id)
        ).all()
    except sa.exc.SQLAlchemyError as exc:
        raise DatabaseError(
            f"{MAPS_TABLE}: cannot read record maps: {type(exc).__name__}"
        ) from None
    for ems_id, name, kind, fp, data in rows:
        plan = plans.get(name)
        if plan is None or ems_id != owners.get(name) or fp != plan.fingerprint:
            continue
        if kind == RECORDS:
            records[name] = unpack_records(data)
        elif kind == PAGES:
            pages[name] = unpack_pages(data)
    return records, pages


def _ints(data: bytes | None, code: str) -> array[int] | None:
    if not data or len(data) % 8:
        return None
    arr = array(code)
    arr.frombytes(bytes(data))
    if sys.byteorder == "big":
        arr.byteswap()
    return arr


def _bytes(*parts: array[int]) -> bytes:
    out = []
    for arr in parts:
        if sys.byteorder == "big":
            arr.byteswap()
        out.append(arr.tobytes())
    return b"".join(out)


def pack_records(mapping: Mapping[int, int]) -> bytes:
    """A record map (unsigned record digest -> row id) as bytes: the digests, then the ids."""
    return _bytes(array("Q", mapping.keys()), array("q", mapping.values()))


def unpack_records(data: bytes | None) -> dict[int, int]:
    """What ``pack_records`` wrote; empty when the bytes are not that."""
    raw = bytes(data or b"")
    half = len(raw) // 2
    if len(raw) % 16:
        return {}
    digests, ids = _ints(raw[:half], "Q"), _ints(raw[half:], "q")
    if digests is None or ids is None:
        return {}
    return dict(zip(digests, ids, strict=True))


def pack_pages(pages: Sequence[tuple[int, Sequence[int]]]) -> bytes:
    """Page digests with their record digests (all unsigned), as bytes: [page, count,
    records...]..."""
    arr = array("Q")
    for page, digests in pages:
        arr.append(page)
        arr.append(len(digests))
        arr.extend(digests)
    return _bytes(arr)


def unpack_pages(data: bytes | None) -> dict[int, list[int]]:
    """What ``pack_pages`` wrote, by page digest; empty when the bytes are not that."""
    arr = _ints(data, "Q")
    if arr is None:
        return {}
    out: dict[int, list[int]] = {}
    at = 0
    while at + 2 <= len(arr):
        count = arr[at + 1]
        if at + 2 + count > len(arr):
            return {}
        out[arr[at]] = arr[at + 2 : at + 2 + count].tolist()
        at += 2 + count
    return out if at == len(arr) else {}


def lean_ids(carried: Carried | None, plan: RowPlan) -> set[int] | None:
    """The ids of carried rows whose identity keys persist need not read (nothing points at
    the collection, its key is one string column); None: read every key."""
    if carried is None or not carried.pairs or carried.referenced or len(plan.key_cols) != 1:
        return None
    if not isinstance(plan.table.c[plan.key_cols[0]].type, sa.String):
        return None  # keys are looked up as strings (``_claimed``)
    return set(map(_SECOND, carried.pairs))


def carried_rows(
    p: Persister,
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
        saved = p.saved.get(target)
        if saved is None or saved.unmatched:
            return None
        if any(item.state != "unchanged" for item in saved.items):
            return None
    if objs and _claimed(p, name, plan, sums, set(ids), objs):
        return None
    return keys


def _claimed(
    p: Persister,
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
        rows, _ = p.db.select(name, ["id"], sa.and_(p.db.scope(name), part))
        if not carried.isdisjoint(r[0] for r in rows):
            return True
    return False


def store_maps(p: Persister) -> None:
    """Write each carrying collection's record map and page map of this refresh where they
    changed (a collection saved without row digests loses both)."""
    table = p.db.metadata.tables.get(MAPS_TABLE)
    if table is None or p.db.dry_run or not p.inventory.carried:
        return
    with p.db.errors(MAPS_TABLE):
        if not sa.inspect(p.db.conn).has_table(MAPS_TABLE):
            return  # a database not migrated yet
    for name, carried in p.inventory.carried.items():
        owner = p.owners.get(name)
        if owner is None:
            continue
        usable = p.digests.open_.get(name) is not None and name in p.saved
        if not usable or carried.pages_changed:
            data = pack_pages(carried.pages) if usable and carried.pages else None
            _write(p, table, owner, name, PAGES, carried.fingerprint, data)
        if usable and not carried.parsed and len(carried.pairs) == len(carried.stored):
            continue  # every record carried: the map is the stored one
        mapping: dict[int, int] = {}
        if usable:
            mapping.update(carried.pairs)
            mapping.update(_parsed_rows(p.resolver.ids.get(name, {}), carried.parsed))
        if mapping != carried.stored:
            data = pack_records(mapping) if mapping else None
            _write(p, table, owner, name, RECORDS, carried.fingerprint, data)


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


def _write(
    p: Persister,
    table: sa.Table,
    owner: int,
    name: str,
    kind: str,
    fingerprint: str,
    data: bytes | None,
) -> None:
    """Replace the map of (owner, collection, kind) by ``data`` (None: no map)."""
    where = sa.and_(table.c.ems_id == owner, table.c.collection == name, table.c.kind == kind)
    with p.db.errors(MAPS_TABLE):
        p.db.conn.execute(table.delete().where(where))
        if data is not None:
            p.db.conn.execute(
                table.insert().values(
                    ems_id=owner, collection=name, kind=kind, fingerprint=fingerprint, data=data
                )
            )
    p.digests.written += 1
