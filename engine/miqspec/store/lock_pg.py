"""A provider's refresh lock on PostgreSQL: a session-level advisory lock on a connection of its
own, which the server releases when that session ends, however the holder died.

Takes: a PostgreSQL engine and the provider's manager row id.
Gives: ``AdvisoryLock`` with ``try_acquire`` (None when taken, else the ``Holder`` in the way),
``still_held``, ``release``, ``holder`` and ``break_lock``, and ``lock_key(ems_id)`` (the 64-bit
key: a digest of ``miqspec refresh <id>``). While held, the lock's connection is in autocommit
(it holds no transaction) and its ``application_name`` reads ``miqspec refresh <pid> <epoch>
<host>``, which ``holder`` reads back from ``pg_stat_activity`` to name the holder.
Raises: ``DatabaseError`` when the server refuses. Does database I/O; ``break_lock`` ends the
holder's session (``pg_terminate_backend``).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import time
from datetime import UTC, datetime

import sqlalchemy as sa

from miqspec.errors import DatabaseError
from miqspec.store.lock_holder import Holder, this_host

APP_PREFIX = "miqspec refresh"
_HOLDER_SQL = sa.text(
    "SELECT a.pid, a.application_name, host(a.client_addr) FROM pg_locks l "
    "JOIN pg_stat_activity a ON a.pid = l.pid "
    "WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 "
    "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
    "AND l.classid::bigint = :hi AND l.objid::bigint = :lo"
)


def lock_key(ems_id: int) -> int:
    """The signed 64-bit advisory lock key of provider ``ems_id``."""
    digest = hashlib.blake2b(f"miqspec refresh {ems_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _reason(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _holder(backend: int, app: str | None, addr: str | None) -> Holder:
    parts = (app or "").removeprefix(APP_PREFIX + " ").split(" ", 2)
    if (app or "").startswith(APP_PREFIX) and len(parts) == 3 and parts[0].isdigit():
        since = None
        if parts[1].isdigit():
            since = datetime.fromtimestamp(int(parts[1]), UTC).replace(tzinfo=None)
        return Holder(parts[2], int(parts[0]), since, backend=backend)
    return Holder(addr or "a local socket", None, backend=backend)


class AdvisoryLock:
    """The advisory lock of one provider, on a connection held while it is."""

    def __init__(self, engine: sa.Engine, ems_id: int) -> None:
        self.engine, self.ems_id = engine, ems_id
        self.key = lock_key(ems_id)
        self.conn: sa.Connection | None = None

    def holder(self) -> Holder | None:
        params = {"hi": (self.key >> 32) & 0xFFFFFFFF, "lo": self.key & 0xFFFFFFFF}
        try:
            with self.engine.connect() as conn:
                row = conn.execute(_HOLDER_SQL, params).first()
        except sa.exc.SQLAlchemyError as exc:
            raise DatabaseError(f"cannot read the refresh lock: {_reason(exc)}") from None
        return None if row is None else _holder(int(row[0]), row[1], row[2])

    def try_acquire(self) -> Holder | None:
        """Take the lock on a connection of its own: None when taken, else who holds it."""
        app = f"{APP_PREFIX} {os.getpid()} {int(time.time())} {this_host()}"[:63]
        try:
            conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        except sa.exc.SQLAlchemyError as exc:
            raise DatabaseError(f"cannot take the refresh lock: {_reason(exc)}") from None
        try:
            conn.execute(sa.text("SELECT set_config('application_name', :a, false)"), {"a": app})
            got = conn.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": self.key})
            if got.scalar():
                self.conn = conn
                return None
            conn.execute(sa.text("RESET application_name"))
        except sa.exc.SQLAlchemyError as exc:
            conn.invalidate()
            conn.close()
            raise DatabaseError(f"cannot take the refresh lock: {_reason(exc)}") from None
        conn.close()
        return self.holder() or Holder("another session", None)

    def still_held(self, _conn: sa.Connection | None = None) -> bool:
        """True while the lock's session is alive (``provider unlock`` may have ended it)."""
        if self.conn is None:
            return False
        try:
            self.conn.execute(sa.text("SELECT 1"))
        except sa.exc.SQLAlchemyError:
            return False
        return True

    def release(self) -> None:
        """Unlock and give the connection back; a broken one is discarded (its session, and
        with it the lock, is gone anyway)."""
        conn, self.conn = self.conn, None
        if conn is None:
            return
        try:
            conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": self.key})
            conn.execute(sa.text("RESET application_name"))
        except sa.exc.SQLAlchemyError:
            with contextlib.suppress(sa.exc.SQLAlchemyError):
                conn.invalidate()
        with contextlib.suppress(sa.exc.SQLAlchemyError):
            conn.close()

    def break_lock(self, holder: Holder, wait: float = 5.0) -> None:
        """End the session holding the lock and wait (up to ``wait`` seconds) until the
        server has released it."""
        if holder.backend is None:
            return
        try:
            with self.engine.connect() as conn:
                conn.execute(sa.text("SELECT pg_terminate_backend(:p)"), {"p": holder.backend})
        except sa.exc.SQLAlchemyError as exc:
            raise DatabaseError(
                f"cannot end the session holding the lock: {_reason(exc)}"
            ) from None
        deadline = time.monotonic() + wait
        while self.holder() is not None and time.monotonic() < deadline:
            time.sleep(0.05)
