"""A provider's refresh lock as a row in ``miqspec_refresh_locks`` (SQLite and other databases
without session locks), kept alive by a heartbeat and taken over when its holder is gone.

Takes: a database engine and the provider's manager row id.
Gives: ``RowLock`` with ``try_acquire`` (None when taken, else the ``Holder`` in the way),
``still_held(conn)``, ``release``, ``holder`` and ``break_lock``; the row holds
``host:pid:token``, ``acquired_at`` and ``heartbeat_at``, which a daemon thread refreshes every
``HEARTBEAT_S`` seconds while the lock is held. A row is abandoned, and taken over, when its
process is gone from this host (``os.kill(pid, 0)``), when it names this very process but no
lock this process holds, or when its heartbeat is older than ``STALE_AFTER`` (a holder on
another host, or a process id reused).
Raises: ``DatabaseError`` when the database refuses the lock row. Does database I/O.
"""

from __future__ import annotations

import os
import secrets
import threading
from datetime import datetime, timedelta

import sqlalchemy as sa

from miqspec.errors import DatabaseError
from miqspec.store.clock import now
from miqspec.store.lock_holder import Holder, this_host
from miqspec.store.tables_cache import build_metadata_cached

HEARTBEAT_S = 10.0
STALE_AFTER = timedelta(seconds=120)
_HELD: set[str] = set()  # holder texts of the locks this process holds


def parse_holder(raw: str, acquired: datetime | None, heartbeat: datetime | None) -> Holder:
    """A lock row as a ``Holder`` (``host:pid[:token]``; older rows have no token and no
    heartbeat: their ``acquired_at`` stands for it)."""
    host, _, rest = raw.partition(":")
    pid_text = rest.partition(":")[0]
    pid = int(pid_text) if pid_text.isdigit() else None
    return Holder(host, pid, acquired, heartbeat or acquired, raw)


def abandoned(holder: Holder) -> bool:
    """True when nobody holds the lock of this row any more (see the module doc)."""
    if holder.heartbeat is None or holder.heartbeat < now() - STALE_AFTER:
        return True
    if holder.pid is None or holder.host != this_host():
        return False
    if holder.pid == os.getpid():
        return holder.raw not in _HELD
    return holder.alive() is False


def _reason(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class RowLock:
    """The lock row of one provider, with its heartbeat thread while held."""

    def __init__(self, engine: sa.Engine, ems_id: int) -> None:
        self.engine, self.ems_id = engine, ems_id
        self.table = build_metadata_cached().tables["miqspec_refresh_locks"]
        self.me = f"{this_host()}:{os.getpid()}:{secrets.token_hex(4)}"
        self.lost = threading.Event()
        self.heartbeat_s = HEARTBEAT_S
        self._stop = threading.Event()
        self._beat: threading.Thread | None = None

    def holder(self) -> Holder | None:
        t = self.table
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(t.c.holder, t.c.acquired_at, t.c.heartbeat_at).where(
                    t.c.ems_id == self.ems_id
                )
            ).first()
        return None if row is None else parse_holder(str(row[0]), row[1], row[2])

    def try_acquire(self) -> Holder | None:
        """Insert the lock row (first removing an abandoned one): None when this process holds
        the lock now, else who does."""
        t = self.table
        try:
            current = self.holder()
            if current is not None and not abandoned(current):
                return current
            stamp = now()
            with self.engine.begin() as conn:
                if current is not None:
                    conn.execute(
                        t.delete().where(t.c.ems_id == self.ems_id, t.c.holder == current.raw)
                    )
                conn.execute(
                    t.insert().values(
                        ems_id=self.ems_id, holder=self.me, acquired_at=stamp, heartbeat_at=stamp
                    )
                )
        except sa.exc.IntegrityError:  # another process took it first
            return self.holder() or Holder("another process", None)
        except sa.exc.SQLAlchemyError as exc:
            raise DatabaseError(f"cannot take the refresh lock: {_reason(exc)}") from None
        _HELD.add(self.me)
        self._stop.clear()
        self.lost.clear()
        self._beat = threading.Thread(
            target=self._heartbeat, name=f"miqspec-lock-{self.ems_id}", daemon=True
        )
        self._beat.start()
        return None

    def _heartbeat(self) -> None:
        t = self.table
        mine = sa.and_(t.c.ems_id == self.ems_id, t.c.holder == self.me)
        while not self._stop.wait(self.heartbeat_s):
            try:
                with self.engine.begin() as conn:
                    done = conn.execute(t.update().where(mine).values(heartbeat_at=now()))
                if done.rowcount == 0:
                    self.lost.set()  # unlocked, or taken over
                    return
            except sa.exc.SQLAlchemyError:
                continue  # the database is busy (a long write): beat again later

    def still_held(self, conn: sa.Connection) -> bool:
        """True when the lock row is still this process's (read in ``conn``'s transaction)."""
        if self.lost.is_set():
            return False
        t = self.table
        found = conn.execute(sa.select(t.c.holder).where(t.c.ems_id == self.ems_id)).scalar()
        return found == self.me

    def release(self) -> None:
        """Stop the heartbeat and delete the lock row if it is still this process's; a
        database error leaves the row, which the next refresh finds abandoned."""
        self._stop.set()
        if self._beat is not None:
            self._beat.join(timeout=self.heartbeat_s + 1)
            self._beat = None
        _HELD.discard(self.me)
        t = self.table
        try:
            with self.engine.begin() as conn:
                conn.execute(t.delete().where(t.c.ems_id == self.ems_id, t.c.holder == self.me))
        except sa.exc.SQLAlchemyError:
            pass

    def break_lock(self, holder: Holder) -> None:
        """Delete ``holder``'s lock row (``provider unlock``)."""
        t = self.table
        try:
            with self.engine.begin() as conn:
                conn.execute(t.delete().where(t.c.ems_id == self.ems_id, t.c.holder == holder.raw))
        except sa.exc.SQLAlchemyError as exc:
            raise DatabaseError(f"cannot remove the refresh lock: {_reason(exc)}") from None
