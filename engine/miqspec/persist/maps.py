"""Record maps: what the last refresh stored of each carrying collection's records.

Takes: a connection, the metadata and the ``CarryPlan``s with each collection's owner id
(``load_maps``, before parse); a ``Db`` and a map's bytes (``write_map``).
Gives: ``load_maps`` (collection -> record digest -> row id, and collection -> page digest ->
its records' digests, as the last refresh stored them under the same fingerprint);
``maps_table`` (the table of ``miqspec_record_maps``, None when the database has none yet);
``write_map`` (one row of ``miqspec_record_maps`` per manager, collection and kind, replaced);
``forget_maps`` (a collection's maps dropped);
``pack_records``/``unpack_records``, ``pack_pages``/``unpack_pages`` (the maps as
little-endian 64-bit integers; damaged bytes read as no map).
Raises: ``DatabaseError`` on a database error. Does database I/O.
"""

from __future__ import annotations

import sys
from array import array
from collections.abc import Mapping, Sequence

import sqlalchemy as sa

from miqspec.errors import DatabaseError
from miqspec.parse import CarryPlan
from miqspec.persist.db import Db

MAPS_TABLE = "miqspec_record_maps"
RECORDS, PAGES = "records", "pages"  # the two kinds of map a collection has


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


def maps_table(db: Db) -> sa.Table | None:
    """The record maps' table, None when the metadata or the database has none (a database
    not migrated yet)."""
    table = db.metadata.tables.get(MAPS_TABLE)
    if table is None:
        return None
    with db.errors(MAPS_TABLE):
        return table if sa.inspect(db.conn).has_table(MAPS_TABLE) else None


def write_map(
    db: Db,
    table: sa.Table,
    owner: int,
    name: str,
    kind: str,
    fingerprint: str,
    data: bytes | None,
) -> None:
    """Replace the map of (owner, collection, kind) by ``data`` (None: no map)."""
    where = sa.and_(table.c.ems_id == owner, table.c.collection == name, table.c.kind == kind)
    with db.errors(MAPS_TABLE):
        db.conn.execute(table.delete().where(where))
        if data is not None:
            db.conn.execute(
                table.insert().values(
                    ems_id=owner, collection=name, kind=kind, fingerprint=fingerprint, data=data
                )
            )


def forget_maps(db: Db, owner: int, name: str) -> None:
    """Drop both maps of (owner, collection): its rows were saved without them."""
    table = None if db.dry_run else maps_table(db)
    if table is None:
        return
    where = sa.and_(table.c.ems_id == owner, table.c.collection == name)
    with db.errors(MAPS_TABLE):
        db.conn.execute(table.delete().where(where))
