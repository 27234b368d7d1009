"""Record maps for persist: keep the rows of records carried unparsed, and store the maps.

Takes: a connection, the metadata and the ``CarryPlan``s with each collection's owner id
(``load_maps``, before parse); during persist, the ``Persister``, a collection's opened
``CollectionDigests`` and its ``Carried`` records.
Gives: ``load_maps`` (collection -> record digest -> row id, as the last refresh stored them
under the same fingerprint); ``carried_rows`` (the identity keys of the carried rows, or None
when the collection must parse every record after all); ``store_maps`` (each collection's map
of this refresh, written when it changed). Raises: ``DatabaseError`` (through ``Db``). Does
database I/O.

A carried record's row is kept as it is when the row is in scope with a stored row digest
(``persist_digest``: the row is what the record's object gave when it was saved), every
collection its references point at was saved in this refresh with nothing created, updated,
reconnected or left to sweep (its references resolve as they did), and no object parsed from
another record claims the row. Otherwise the collection is parsed in full and takes the
row-digest path. A map entry is stored only for a record whose object this refresh saved.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from .errors import DatabaseError
from .objects import Carried, InventoryObject
from .parse_carry import SUFFIX, CarryPlan
from .persist_digest import DIGEST_TABLE, CollectionDigests, pack, unpack
from .persist_values import mem_key

if TYPE_CHECKING:
    from .persist import Persister
    from .persist_rows import RowPlan


def load_maps(
    conn: sa.Connection,
    metadata: sa.MetaData,
    plans: Mapping[str, CarryPlan],
    owners: Mapping[str, int],
) -> dict[str, dict[int, int]]:
    """The stored record maps of ``plans``' collections (empty where none matches)."""
    table = metadata.tables.get(DIGEST_TABLE)
    out: dict[str, dict[int, int]] = {name: {} for name in plans}
    if table is None or not plans:
        return out
    try:
        if not sa.inspect(conn).has_table(DIGEST_TABLE):
            return out
        wanted = {(owners.get(n), n + SUFFIX): n for n in plans}
        rows = conn.execute(
            sa.select(table.c.ems_id, table.c.collection, table.c.fingerprint, table.c.digests)
            .where(table.c.collection.in_([n + SUFFIX for n in plans]))
            .order_by(table.c.id)
        ).all()
    except sa.exc.SQLAlchemyError as exc:
        raise DatabaseError(
            f"{DIGEST_TABLE}: cannot read record maps: {type(exc).__name__}"
        ) from None
    for ems_id, collection, fp, text in rows:
        name = wanted.get((ems_id, collection))
        if name is not None and fp == plans[name].fingerprint:
            out[name] = unpack(text)
    return out


def carried_rows(
    p: Persister,
    name: str,
    plan: RowPlan,
    sums: CollectionDigests,
    carried: Carried,
    objs: Sequence[InventoryObject],
) -> list[tuple[Any, ...]] | None:
    """The identity keys of the carried rows (in ``carried.pairs`` order), or None: parse
    the collection in full (see the module docstring)."""
    ids = [rid for _, rid in carried.pairs]
    stored = sums.stored
    if not all(map(stored.__contains__, ids)):
        return None
    key_of: Any = sums.key_of().get
    keys: list[Any] = list(map(key_of, ids))
    if None in keys:  # a row gone from scope
        return None
    for target in dict.fromkeys(t for _, t in carried.refs):
        saved = p.saved.get(target)
        if saved is None or saved.unmatched:
            return None
        if any(item.state != "unchanged" for item in saved.items):
            return None
    if objs:
        known: Any = sums.known.get
        if not set(ids).isdisjoint(map(known, plan.keys(objs))):
            return None
    return keys


def store_maps(p: Persister) -> None:
    """Write each carrying collection's record map of this refresh where it changed (a
    collection saved without row digests loses its map)."""
    db, table = p.db, p.digests.table
    if table is None or db.dry_run:
        return
    for name, carried in p.inventory.carried.items():
        owner = p.owners.get(name)
        if owner is None:
            continue
        sums = p.digests.open_.get(name)
        mapping: dict[int, int] = {}
        if sums is not None and name in p.saved:
            mapping.update(carried.pairs)
            ids = p.resolver.ids.get(name, {})
            for digest, ref in carried.parsed:
                rid = ids.get(mem_key(ref))
                if rid is not None:
                    mapping[digest] = rid
        if mapping == carried.stored:
            continue
        where = sa.and_(table.c.ems_id == owner, table.c.collection == name + SUFFIX)
        with db.errors(DIGEST_TABLE):
            db.conn.execute(table.delete().where(where))
            if mapping:
                db.conn.execute(
                    table.insert().values(
                        ems_id=owner,
                        collection=name + SUFFIX,
                        fingerprint=carried.fingerprint,
                        digests=pack(mapping),
                    )
                )
        p.digests.written += 1
