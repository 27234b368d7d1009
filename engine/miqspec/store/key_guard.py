"""The key ring of a database: never a new key while the database holds secrets of the old one.

Takes: a database engine and a key file path (None: ``MIQSPEC_KEY_FILE``, else
``$MIQSPEC_HOME/v2_key``).
Gives: ``open_keyring(engine, path)``: the key file's ``KeyRing``; a missing key file is created
with one new key only when no ``v2:{...}`` value is stored in ``authentications``
(``encrypted_count``), since a new key cannot decrypt those and would silently leave them
unreadable.
Raises: ``KeyRingError`` (exit 11: the key file is missing while encrypted secrets exist, saying
how to restore it; or it cannot be used), ``DatabaseError``. Reads (and may create) the key
file; reads the database.
"""

from __future__ import annotations

import os
from pathlib import Path

import sqlalchemy as sa

from miqspec.errors import DatabaseError
from miqspec.store.credentials import KeyRing, KeyRingError, default_key_path
from miqspec.store.provider_credentials import ENCRYPTED
from miqspec.store.tables_cache import build_metadata_cached


def encrypted_count(engine: sa.Engine) -> int:
    """How many ``v2:{...}`` values the ``authentications`` table holds."""
    auths = build_metadata_cached().tables["authentications"]
    total = 0
    try:
        with engine.connect() as conn:
            if not sa.inspect(conn).has_table(auths.name):
                return 0
            for column in sorted(ENCRYPTED):
                query = sa.select(sa.func.count()).where(auths.c[column].like("v2:{%"))
                total += int(conn.execute(query).scalar() or 0)
    except sa.exc.SQLAlchemyError as exc:
        raise DatabaseError(f"cannot count stored credentials: {type(exc).__name__}") from None
    return total


def open_keyring(engine: sa.Engine, path: str | Path | None = None) -> KeyRing:
    """The key ring for ``engine``'s secrets (see the module doc)."""
    target = Path(path).expanduser() if path is not None else default_key_path()
    if os.path.lexists(target):
        return KeyRing.load(target, create=False)
    count = encrypted_count(engine)
    if count:
        raise KeyRingError(
            f"key file {target} is missing, but the database holds {count} credential "
            "value(s) encrypted with it; put the key file back at that path (from your "
            "backup), or set MIQSPEC_KEY_FILE to where it is. No new key was created: it "
            "could not decrypt them"
        )
    return KeyRing.load(target)
