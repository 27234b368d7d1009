"""What a targeted save leaves of the fast paths' state: the untouched rows' digests and
record-map entries, so the next full refresh still skips those rows.

Takes: the run's ``Db``, a collection, its owner id and the ids of the rows a targeted save
loaded, wrote, deleted or disconnected.
Gives: ``forget_rows``: the collection's stored row digests (``miqspec_digests``) and record
map (``miqspec_record_maps``, kind ``records``) without those rows, its page map dropped
(a page's records may now describe rows that changed). A full refresh then compares the
touched rows in full and carries or skips the others as before. Nothing in a dry run.
Raises ``DatabaseError`` (through ``Db``). Does database I/O.
"""

from __future__ import annotations

from collections.abc import Collection

import sqlalchemy as sa

from miqspec.persist.db import Db
from miqspec.persist.digest import DIGEST_TABLE, pack, unpack
from miqspec.persist.maps import (
    MAPS_TABLE,
    PAGES,
    RECORDS,
    maps_table,
    pack_records,
    unpack_records,
)


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
                    mapping = unpack(text)
                    kept = {k: v for k, v in mapping.items() if k not in gone}
                    if len(kept) != len(mapping):
                        db.conn.execute(
                            digests.update()
                            .where(digests.c.id == row_id)
                            .values(digests=pack(kept))
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
            records = unpack_records(data)
            kept = {k: v for k, v in records.items() if v not in gone}
            if len(kept) != len(records):
                db.conn.execute(
                    maps.update().where(maps.c.id == row_id).values(data=pack_records(kept))
                )
