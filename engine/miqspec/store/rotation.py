"""Key rotation: a new newest key, and every stored secret re-encrypted with it.

Takes: a database engine (and optionally the ``KeyRing`` whose key file to rotate). Gives: the
number of values re-encrypted. A missing key file is created only for a database without
encrypted secrets (``key_guard.open_keyring``). Raises ``KeyRingError`` (key file problems),
``KeyFileBusyError`` (another rotation held the lock past the timeout) and ``DatabaseError``.
Holds an exclusive ``flock`` on ``<key file>.lock`` from reading the key file to committing, so
rotations in separate processes run one after the other (each reads the keys the previous one
wrote) instead of both writing a key file with their own new key, losing one. Writes the key
file and the authentications table in one transaction (the key file keeps old keys, so a failed
transaction loses nothing).
"""

from __future__ import annotations

import sqlalchemy as sa

from miqspec.errors import DatabaseError
from miqspec.store.credentials import (
    LOCK_TIMEOUT,
    KeyRing,
    default_key_path,
    is_encrypted,
    key_file_lock,
)
from miqspec.store.key_guard import open_keyring
from miqspec.store.provider_credentials import ENCRYPTED
from miqspec.store.providers import build_metadata_cached


def rotate_credentials(
    engine: sa.Engine, ring: KeyRing | None = None, *, lock_timeout: float = LOCK_TIMEOUT
) -> int:
    """Rotate the key file (``ring``'s, else the default one) and re-encrypt, under its lock;
    the keys are read again once the lock is held. A ring without a file rotates in memory."""
    if ring is None:
        path = default_key_path()
    elif ring.path is None:  # no file that another process could rotate too
        return _recrypt_all(engine, ring.rotate())
    else:
        path = ring.path
    with key_file_lock(path, lock_timeout):
        return _recrypt_all(engine, open_keyring(engine, path).rotate())


def _recrypt_all(engine: sa.Engine, new_ring: KeyRing) -> int:
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
