"""What a targeted save leaves of the fast paths' state: the untouched rows' digests and
record-map entries, so the next full refresh still skips those rows.

Takes: the run's ``Db``, a collection, its owner id and the ids of the rows a targeted save
loaded, wrote, deleted or disconnected; or a connection, the metadata and catalogue and the
owners of a full refresh about to load its maps.
Gives: ``note_touched`` (a targeted save: its page map dropped, at once, since a page's
records may now describe rows that changed; the touched ids appended to a ``touched`` entry
of ``miqspec_record_maps``, cheap: a few ids); ``settle_touched`` (before a full refresh
reads digests and maps: each collection's touched rows leave its row digests
(``miqspec_digests``) and record map (kind ``records``), the entry goes) and
``forget_rows`` (that, for one collection). The full refresh then compares the touched rows
in full and carries or skips the others as before; rewriting the packed digests of 100,000
rows is its cost (tens of ms), not the targeted save's. The packed arrays are cut in place (a
scan per touched row). Nothing in a dry run.
Raises ``DatabaseError`` (through ``Db``). Does database I/O.
"""

from __future__ import annotations

import base64
import sys
from array import array
from collections.abc import Collection, Mapping

import sqlalchemy as sa

from miqspec.persist.db import Db
from miqspec.persist.digest import DIGEST_TABLE
from miqspec.persist.maps import MAPS_TABLE, PAGES, RECORDS, maps_table
from miqspec.spec import Catalogue

TOUCHED = "touched"  # the kind of the record-maps entry holding rows to settle


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


def note_touched(db: Db, owner: int, name: str, ids: Collection[int]) -> None:
    """A targeted save of (``owner``, ``name``): page map dropped, ``ids`` kept to settle."""
    maps = None if db.dry_run else maps_table(db)
    if maps is None:
        return
    where = sa.and_(maps.c.ems_id == owner, maps.c.collection == name)
    with db.errors(MAPS_TABLE):
        db.conn.execute(maps.delete().where(where, maps.c.kind == PAGES))
        if not ids:
            return
        found = db.conn.execute(
            sa.select(maps.c.id, maps.c.data).where(where, maps.c.kind == TOUCHED)
        ).first()
        more = array("q", sorted(set(ids)))
        if sys.byteorder == "big":
            more.byteswap()
        if found is None:
            db.conn.execute(
                maps.insert().values(
                    ems_id=owner, collection=name, kind=TOUCHED, fingerprint="",
                    data=more.tobytes(),
                )
            )  # fmt: skip
        else:
            data = bytes(found[1] or b"") + more.tobytes()
            db.conn.execute(maps.update().where(maps.c.id == found[0]).values(data=data))


def settle_touched(
    conn: sa.Connection, metadata: sa.MetaData, catalogue: Catalogue, owners: Mapping[str, int]
) -> int:
    """Before a full refresh of ``owners``' manager(s) reads its maps: every ``touched``
    entry applied (``forget_rows``) and removed; how many entries were."""
    db = Db(conn, metadata, catalogue, owners, False)
    maps = maps_table(db)
    if maps is None:
        return 0
    ems_ids = sorted(set(owners.values()))
    with db.errors(MAPS_TABLE):
        found = conn.execute(
            sa.select(maps.c.id, maps.c.ems_id, maps.c.collection, maps.c.data).where(
                maps.c.kind == TOUCHED, maps.c.ems_id.in_(ems_ids)
            )
        ).all()
    for row_id, owner, name, data in found:
        ids = array("q")
        raw = bytes(data or b"")
        ids.frombytes(raw[: len(raw) - len(raw) % 8])
        if sys.byteorder == "big":
            ids.byteswap()
        forget_rows(db, int(owner), str(name), set(ids))
        with db.errors(MAPS_TABLE):
            conn.execute(maps.delete().where(maps.c.id == row_id))
    return len(found)
