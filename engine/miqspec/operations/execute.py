"""Run one operation on one stored row: check it is supported, send it, mark it, wait for it.

Takes: the database engine, the provider's ``ProviderSession`` and ``Spec``, the collection's
table and ``CollectionDef``, the row (``rows.Found``), the ``Operation`` (None: undeclared)
and whether to wait for its end.
Gives: ``check_supported`` (raises ``UnsupportedError`` with ManageIQ's reason) and
``execute`` -> ``OperationOutcome``: the request sent (``target`` in its templates is the row
as ``rows.plain`` gives it), the transitional ``raw_power_state`` written at once, and with
``wait`` the polls until ``wait.until`` held; an operation that ``removes`` its object has
exactly that row deleted or disconnected (the collection's delete rule) once it is over.
Raises: ``UnsupportedError`` (nothing sent, nothing written), ``CredentialsError``,
``ApiError`` (the provider refused the request: nothing written; a failure or time-out while
waiting: the transitional state stays, as ManageIQ leaves it until the next refresh),
``UnreachableError``, ``MappingError``, ``DatabaseError``. Does network and database I/O.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from miqspec.connect import ProviderSession
from miqspec.errors import UnsupportedError
from miqspec.operations.rows import Found, plain, remove_row, write_power_state
from miqspec.operations.send import send
from miqspec.operations.supports import noun, unsupported_reason
from miqspec.operations.wait import wait_for
from miqspec.spec import CollectionDef, Operation, Spec


@dataclass
class OperationOutcome:
    """What running one operation did."""

    operation: str
    collection: str
    name: str | None
    ems_ref: str | None
    row_id: int
    status: int = 0  # the HTTP status of the operation's request
    raw_power_state: str | None = None  # the transitional state written
    waited: bool = False
    finished: bool = False  # the wait's condition held (or no wait was declared)
    polls: int = 0
    seconds: float = 0.0
    removed: str | None = None  # "deleted" | "disconnected" (operations that remove)
    answer: Any = None  # the body of the last answer (the operation's, or the wait's)
    warnings: list[str] = field(default_factory=list)


def scope_of(session: ProviderSession) -> dict[str, Any]:
    """The roots of operation expressions: ``$provider``, ``$settings``, ``$region``."""
    ctx = session.ctx
    return {k: ctx.get(k) for k in ("provider", "settings", "region")}


def describe(collection: str, row: Mapping[str, Any]) -> str:
    """``VM 'web-1'`` for messages."""
    return f"{noun(collection)} {row.get('name') or row.get('ems_ref')!r}"


def check_supported(
    collection: str,
    op_name: str,
    op: Operation | None,
    found: Found,
    scope: Mapping[str, Any],
) -> None:
    """``UnsupportedError`` with ManageIQ's reason when ``op`` cannot run on the row."""
    reason = unsupported_reason(collection, op, plain(found.row), found.archived, scope)
    if reason:
        raise UnsupportedError(
            f"{op_name} is not supported for {describe(collection, found.row)}: {reason}; "
            "nothing was done"
        )


def execute(
    engine: sa.Engine,
    session: ProviderSession,
    spec: Spec,
    table: sa.Table,
    coll: CollectionDef,
    found: Found,
    op: Operation,
    *,
    wait: bool,
) -> OperationOutcome:
    """Run ``op`` on the row (module doc); support is checked again first."""
    scope = scope_of(session)
    check_supported(coll.name, op.name, op, found, scope)
    row = plain(found.row)
    ref = coll.manager_ref[0]
    out = OperationOutcome(op.name, coll.name, row.get("name"), row.get(ref), int(found.row["id"]))
    label = f"operations.{coll.name}.{op.name}"
    extra = {"target": row}
    started = time.monotonic()
    answer = send(session, op.request, extra, label)
    out.status, out.answer = answer.status, answer.body
    if op.raw_power_state and "raw_power_state" in table.c:
        write_power_state(engine, table, out.row_id, op.raw_power_state, spec.provider.power_state)
        out.raw_power_state = op.raw_power_state
    if op.wait is None:
        out.finished = True
    elif wait:
        waited = wait_for(session, op.wait, extra, scope, label)
        out.waited = out.finished = True
        out.polls = waited.polls
        if waited.body is not None:
            out.answer = waited.body
    if op.removes and out.finished and (wait or op.wait is None):
        out.removed = remove_row(engine, table, coll, out.row_id, spec.provider.power_state)
    out.seconds = time.monotonic() - started
    return out
