"""One writer per provider, across processes and hosts, with a lock that dies with its holder.

Takes: a database engine, the provider's manager row id and its name (for messages), and how
long to wait for the lock (``wait`` seconds; 0: one try).
Gives: ``RefreshLock``, a context manager holding the provider's lock while a refresh (or a
delete) runs: on PostgreSQL a session-level advisory lock on a connection of its own
(:mod:`miqspec.store.lock_pg`), elsewhere a lock row with a heartbeat that is taken over when
its process is gone (:mod:`miqspec.store.lock_row`); ``confirm(conn)``, called in the inventory
transaction before it commits, checks that the lock is still held and the provider still
exists. ``lock_holder`` tells who holds a provider's lock; ``unlock_refresh`` removes it
(``miqspec provider unlock``).
Raises: ``RefreshBusyError`` (another process holds the lock, or the lock was lost before
commit), ``NotFoundError`` (the provider was deleted during the refresh), ``DatabaseError``.
Does database I/O.
"""

from __future__ import annotations

import time
from types import TracebackType

import sqlalchemy as sa

from miqspec.errors import NotFoundError, RefreshBusyError
from miqspec.store.lock_holder import Holder
from miqspec.store.lock_pg import AdvisoryLock
from miqspec.store.lock_row import STALE_AFTER, RowLock
from miqspec.store.tables_cache import build_metadata_cached

POLL_S = 0.2  # how often a waiting lock tries again


def _impl(engine: sa.Engine, ems_id: int) -> AdvisoryLock | RowLock:
    if engine.dialect.name == "postgresql":
        return AdvisoryLock(engine, ems_id)
    return RowLock(engine, ems_id)


def _unlock_hint(name: str) -> str:
    return f"if that process is gone, `miqspec provider unlock {name}` releases the lock"


class RefreshLock:
    """The provider's lock, held while the block runs (see the module doc)."""

    def __init__(
        self,
        engine: sa.Engine,
        ems_id: int,
        name: str,
        *,
        wait: float = 0.0,
        purpose: str = "refresh",
    ) -> None:
        self.engine, self.ems_id, self.name = engine, ems_id, name
        self.wait, self.purpose = max(0.0, wait), purpose
        self.impl = _impl(engine, ems_id)

    def __enter__(self) -> RefreshLock:
        deadline = time.monotonic() + self.wait
        while True:
            holder = self.impl.try_acquire()
            if holder is None:
                return self
            left = deadline - time.monotonic()
            if left <= 0:
                raise self._busy(holder)
            time.sleep(min(POLL_S, left))

    def _busy(self, holder: Holder) -> RefreshBusyError:
        waited = f"; waited {self.wait:g}s for it to finish" if self.wait else ""
        then = "try again when it finishes" if self.purpose == "refresh" else "deleted nothing"
        return RefreshBusyError(
            f"provider {self.name!r} is being refreshed by {holder.describe()}{waited}; "
            f"{then} ({_unlock_hint(self.name)})"
        )

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.impl.release()

    def confirm(self, conn: sa.Connection) -> None:
        """Before the inventory transaction ``conn`` commits: the lock must still be this
        process's and the provider must still exist (its row is share-locked on PostgreSQL
        until the commit)."""
        if not self.impl.still_held(conn):
            raise RefreshBusyError(
                f"the {self.purpose} of provider {self.name!r} lost its lock (removed by "
                f"`miqspec provider unlock`, or taken over after "
                f"{STALE_AFTER.total_seconds():g}s without a heartbeat); nothing was saved"
            )
        ems = build_metadata_cached().tables["ext_management_systems"]
        query = sa.select(ems.c.id).where(ems.c.id == self.ems_id)
        if conn.dialect.name == "postgresql":
            query = query.with_for_update(read=True)
        if conn.execute(query).first() is None:
            raise NotFoundError(
                f"provider {self.name!r} was deleted during the {self.purpose}; nothing was saved"
            )


def lock_holder(engine: sa.Engine, ems_id: int) -> Holder | None:
    """Who holds provider ``ems_id``'s lock (None: nobody)."""
    return _impl(engine, ems_id).holder()


def unlock_refresh(
    engine: sa.Engine, ems_id: int, name: str, *, force: bool = False
) -> Holder | None:
    """Remove provider ``name``'s lock, whoever holds it, and give its holder (None: it was
    not locked). A holder that is a live process on this host keeps it unless ``force``
    (``RefreshBusyError``); elsewhere, whether it lives cannot be told, so it is removed (a
    refresh that loses its lock saves nothing). On PostgreSQL the holder's session is ended;
    lock rows left by earlier versions go too."""
    impl = _impl(engine, ems_id)
    holder = impl.holder()
    legacy = None
    if isinstance(impl, AdvisoryLock):  # rows of versions before advisory locks mean nothing
        rows = RowLock(engine, ems_id)
        legacy = rows.holder()
        if legacy is not None:
            rows.break_lock(legacy)
    if holder is None:
        return legacy
    if holder.alive() and not force:
        raise RefreshBusyError(
            f"provider {name!r} is locked by {holder.describe()}, which is running; stop it "
            "first, or use --force"
        )
    impl.break_lock(holder)
    return holder
