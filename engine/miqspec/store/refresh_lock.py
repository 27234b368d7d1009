"""One writer per provider, across processes: a row in ``miqspec_refresh_locks``.

Takes: a database engine, the provider's manager row id and its name (for the message).
Gives: ``RefreshLock``, a context manager that inserts the lock row on entry (first removing a
lock older than ``LOCK_STALE_AFTER``, left by a process that died) and deletes it on exit.
Raises: ``RefreshBusyError`` when another process holds the provider's lock. Does database I/O.
"""

from __future__ import annotations

import os
import socket
from datetime import timedelta

import sqlalchemy as sa

from miqspec.errors import RefreshBusyError
from miqspec.store.providers import build_metadata_cached, now

LOCK_STALE_AFTER = timedelta(hours=2)


class RefreshLock:
    """Row in ``miqspec_refresh_locks``: one writer per provider, across processes."""

    def __init__(self, engine: sa.Engine, ems_id: int, name: str) -> None:
        self.engine, self.ems_id, self.name = engine, ems_id, name
        self.table = build_metadata_cached().tables["miqspec_refresh_locks"]

    def __enter__(self) -> RefreshLock:
        holder = f"{socket.gethostname()}:{os.getpid()}"
        t = self.table
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    t.delete().where(
                        t.c.ems_id == self.ems_id, t.c.acquired_at < now() - LOCK_STALE_AFTER
                    )
                )
                conn.execute(
                    t.insert().values(ems_id=self.ems_id, holder=holder, acquired_at=now())
                )
        except sa.exc.IntegrityError:
            with self.engine.connect() as conn:
                other = conn.execute(
                    sa.select(t.c.holder, t.c.acquired_at).where(t.c.ems_id == self.ems_id)
                ).first()
            since = f" ({other[0]} since {other[1]:%Y-%m-%d %H:%M:%S})" if other else ""
            raise RefreshBusyError(
                f"provider {self.name!r} is being refreshed by another "
                f"process{since}; try again when it finishes"
            ) from None
        return self

    def __exit__(self, *exc: object) -> None:
        with self.engine.begin() as conn:
            conn.execute(self.table.delete().where(self.table.c.ems_id == self.ems_id))
