"""Key rotation: a new newest key, and every stored secret re-encrypted with it.

Takes: a database engine. Gives: the number of values re-encrypted. Raises ``KeyRingError``
(key file problems) and ``DatabaseError``. Writes the key file and the authentications table
in one transaction (the key file keeps old keys, so a failed transaction loses nothing).
"""

from __future__ import annotations

import sqlalchemy as sa

from .credentials import KeyRing, is_encrypted
from .errors import DatabaseError
from .providers import ENCRYPTED, build_metadata_cached


def rotate_credentials(engine: sa.Engine, ring: KeyRing | None = None) -> int:
    new_ring = (ring or KeyRing.load()).rotate()
    auths = build_metadata_cached().tables["authentications"]
    cols = [auths.c[c] for c in sorted(ENCRYPTED)]
    count = 0
    try:
        with engine.begin() as conn:
            for row in conn.execute(sa.select(auths.c.id, *cols)).mappings().all():
                values = {
                    c: new_ring.recrypt(row[c])
                    for c in ENCRYPTED
                    if isinstance(row[c], str) and is_encrypted(row[c])
                }
                if values:
                    conn.execute(auths.update().where(auths.c.id == row["id"]).values(**values))
                    count += len(values)
    except sa.exc.SQLAlchemyError as exc:
        raise DatabaseError(f"re-encrypting credentials failed: {type(exc).__name__}") from None
    return count
