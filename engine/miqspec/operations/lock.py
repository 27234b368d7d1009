"""One operation at a time per object: a row in ``miqspec_operation_locks`` while one runs.

Takes: a database engine, the object's table name and row id, the operation's name, its
display name (for messages) and how long it may hold the lock at most (its wait deadline plus
a margin).
Gives: ``OperationLock``, a context manager: entering inserts the lock row (unique per object,
on SQLite and PostgreSQL alike), leaving deletes it. A row whose ``expires_at`` has passed,
or whose holder is a process of this host that is gone, is abandoned and taken over.
Raises: ``OperationBusyError`` (exit 8) when another operation holds the object,
``DatabaseError``. Does database I/O.
"""

from __future__ import annotations

import os
import secrets
import socket
from datetime import timedelta
from types import TracebackType

import sqlalchemy as sa

from miqspec.errors import RefreshBusyError
from miqspec.operations.rows import db_failed
from miqspec.operations.tables import LOCKS
from miqspec.store import now


class OperationBusyError(RefreshBusyError):
    """Another operation runs on the same object (exit 8, like a busy refresh)."""


def _gone(holder: str) -> bool:
    """True when ``holder`` (``host:pid:token``) is a process of this host that has ended."""
    host, _, rest = holder.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


class OperationLock:
    """The lock of one object while an operation runs on it (module doc)."""

    def __init__(
        self, engine: sa.Engine, table: str, row_id: int, operation: str, what: str, hold: float
    ) -> None:
        self.engine, self.table, self.row_id = engine, table, int(row_id)
        self.operation, self.what, self.hold = operation, what, hold
        self.me = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"

    def _mine(self) -> sa.ColumnElement[bool]:
        return sa.and_(LOCKS.c.resource_type == self.table, LOCKS.c.resource_id == self.row_id)

    def __enter__(self) -> OperationLock:
        stamp = now()
        try:
            with self.engine.begin() as conn:
                held = conn.execute(
                    sa.select(LOCKS.c.holder, LOCKS.c.operation, LOCKS.c.expires_at).where(
                        self._mine()
                    )
                ).first()
                if held is not None:
                    expired = held.expires_at is not None and held.expires_at < stamp
                    if not (expired or _gone(str(held.holder))):
                        raise OperationBusyError(
                            f"{self.what} is busy: operation '{held.operation}' runs on it "
                            f"(held by {held.holder}); nothing was done, try again when it ends"
                        )
                    conn.execute(LOCKS.delete().where(self._mine(), LOCKS.c.holder == held.holder))
                conn.execute(
                    LOCKS.insert().values(
                        resource_type=self.table,
                        resource_id=self.row_id,
                        operation=self.operation,
                        holder=self.me,
                        acquired_at=stamp,
                        expires_at=stamp + timedelta(seconds=self.hold),
                    )
                )
        except sa.exc.IntegrityError:  # another process inserted it first
            raise OperationBusyError(
                f"{self.what} is busy: another operation started on it at the same time; "
                "nothing was done"
            ) from None
        except sa.exc.SQLAlchemyError as exc:
            raise db_failed("taking the operation lock", exc) from None
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            with self.engine.begin() as conn:
                conn.execute(LOCKS.delete().where(self._mine(), LOCKS.c.holder == self.me))
        except sa.exc.SQLAlchemyError:
            pass  # left behind: it expires
