"""What a targeted save leaves of the fast paths' state: the untouched rows' digests and
record-map entries, so the next full refresh still skips those rows.

Takes: the run's ``Db``, a collection, its owner id and the ids of the rows a targeted save
loaded, wrote, deleted or disconnected.
Gives: ``forget_rows``: the collection's stored row digests (``miqspec_digests``) and record
map (``miqspec_record_maps``, kind ``records``) without those rows, its page map dropped
(a page's records may now describe rows that changed). A full refresh then compares the
touched rows in full and carries or skips the others as before. The packed arrays are cut in
place (a scan per touched row, no mapping of every row built), so a targeted save of a few
rows stays cheap next to 100,000 stored ones. Nothing in a dry run.
Raises ``DatabaseError`` (through ``Db``). Does database I/O.
"""

from __future__ import annotations

import base64
import sys
from array import array
from collections.abc import Collection

import sqlalchemy as sa

from miqspec.persist.db import Db
from miqspec.persist.digest import DIGEST_TABLE
from miqspec.persist.maps import MAPS_TABLE, PAGES, RECORDS, maps_table


def _arrays(raw: bytes, first: str, second: str) -> tuple[array[int], array[int]] | None:
    """The two equal halves of a packed pair of 64-bit arrays (None: not that)."""
    if not raw or len(raw) % 16:
        return None
    half = len(raw) // 2
    a, b = array(first), array(second)
    a.frombytes(raw[:half])
    b.frombytes(raw[half:])
    if sys.byteorder == "big":
        a.byteswap()
        b.byteswap()
    return a, b


def _joined(a: array[int], b: array[int]) -> bytes:
    if sys.byteorder == "big":
        a.byteswap()
        b.byteswap()
    return a.tobytes() + b.tobytes()


def _cut(keys: array[int], values: array[int], gone: set[int], by: array[int]) -> bool:
    """Remove the pairs whose ``by`` (``keys`` or ``values``) is in ``gone``; True if any."""
    cut = False
    for target in gone:
        while True:
            try:
                at = by.index(target)
            except ValueError:
                break
            del keys[at], values[at]
            cut = True
    return cut


def forget_rows(db: Db, owner: int, name: str, ids: Collection[int]) -> None:
    """Drop rows ``ids`` of (``owner``, ``name``) from its digests and record map."""
    if db.dry_run:
        return
    gone = set(ids)
    digests = db.metadata.tables.get(DIGEST_TABLE)
    if digests is not None and gone:
        with db.errors(DIGEST_TABLE):
            if sa.inspect(db.conn).has_table(DIGEST_TABLE):
                where = sa.and_(digests.c.ems_id == owner, digests.c.collection == name)
                for row_id, text in db.conn.execute(
                    sa.select(digests.c.id, digests.c.digests).where(where)
                ).all():
                    try:
                        pair = _arrays(base64.b64decode(text or "", validate=True), "q", "q")
                    except ValueError:
                        pair = None
                    if pair is not None and _cut(pair[0], pair[1], gone, pair[0]):
                        packed = base64.b64encode(_joined(*pair)).decode("ascii")
                        db.conn.execute(
                            digests.update().where(digests.c.id == row_id).values(digests=packed)
                        )
    maps = maps_table(db)
    if maps is None:
        return
    where = sa.and_(maps.c.ems_id == owner, maps.c.collection == name)
    with db.errors(MAPS_TABLE):
        db.conn.execute(maps.delete().where(where, maps.c.kind == PAGES))
        if not gone:
            return
        for row_id, data in db.conn.execute(
            sa.select(maps.c.id, maps.c.data).where(where, maps.c.kind == RECORDS)
        ).all():
            pair = _arrays(bytes(data or b""), "Q", "q")
            if pair is not None and _cut(pair[0], pair[1], gone, pair[1]):
                db.conn.execute(
                    maps.update().where(maps.c.id == row_id).values(data=_joined(*pair))
                )
