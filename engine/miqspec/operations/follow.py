"""Following provisioning tasks nobody waits for: one check per task, never a blocking wait.

Takes: a database engine and a provider's manager row id (``open_tasks``); the provider's
``ProviderSession``, the spec's ``Provisioning`` section (or an ``Operation``), one task and
the expression scope (``check_task``, ``check_op_task``).
Gives: ``open_tasks`` -> the provider's tasks still ``pending`` or ``active`` (``OpenTask``:
task and request ids, name, the new object's ems_ref when its create answered, options,
``created_on``), oldest first; ``end_task`` (finished, Error, the message) and
``note_task`` (the message only); ``check_task`` -> ``Check``: ``ready`` (the wait's ``until``
held or a ``done_on`` status came; a provisioning without ``wait`` is ready at once),
``error`` (the message the task ends with: ``failed_when`` held, or its deadline, counted
from the task's creation, passed before it was ready, or no create answer was recorded by
then: 600 s without a wait rule) or neither (not yet: check it again later); ``note`` says
why a check could not tell (an API error: tried again until the deadline). One request at
most per call. ``check_op_task``: the same for an operation task (``op_tasks.OpTask``: its
operation's wait rule, ``target`` the row as the operation saw it); ``check_wait``: one
request of any ``Wait``.
Raises: ``CredentialsError`` (the provider refuses the credentials: stop following it),
``MappingError`` (a template or expression of the spec failing). Does network I/O through
the session, database I/O in ``open_tasks``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from miqspec.connect import ProviderSession
from miqspec.errors import CredentialsError, MappingError, MiqspecError
from miqspec.operations.op_tasks import OpTask
from miqspec.operations.requests import update_task
from miqspec.operations.rows import db_failed
from miqspec.operations.send import send
from miqspec.operations.supports import truthy
from miqspec.operations.tables import ACTIVE, ERROR, FINISHED, PENDING, REQUESTS, TASKS
from miqspec.spec import Expression, Operation, Provisioning, Wait
from miqspec.store import now

NO_WAIT_DEADLINE = 600.0  # seconds a task without a wait rule may take to record its new id


@dataclass(frozen=True)
class OpenTask:
    task_id: int
    request_id: int
    name: str
    ems_ref: str | None
    options: Mapping[str, Any]
    created_on: datetime | None


@dataclass
class Check:
    ready: bool = False
    error: str | None = None
    note: str | None = None  # why this check could not tell (an API error), for the message
    late: bool = False  # its deadline has passed (ready, yet its object must come in now)
    body: Any = field(default=None, repr=False)


def open_tasks(engine: sa.Engine, ems_id: int) -> list[OpenTask]:
    """Provider ``ems_id``'s provisioning tasks still pending or active (module doc)."""
    query = (
        sa.select(TASKS)
        .join(REQUESTS, REQUESTS.c.id == TASKS.c.miq_request_id)
        .where(REQUESTS.c.source_id == ems_id, TASKS.c.state.in_([PENDING, ACTIVE]))
        .order_by(TASKS.c.id)
    )
    try:
        with engine.connect() as conn:
            rows = [dict(r) for r in conn.execute(query).mappings()]
    except sa.exc.SQLAlchemyError as exc:
        raise db_failed("reading open provisioning tasks", exc) from None
    out = []
    for row in rows:
        options = json.loads(row["options"] or "{}")
        ref = options.get("ems_ref")
        out.append(
            OpenTask(
                int(row["id"]),
                int(row["miq_request_id"]),
                str(options.get("vm_name") or row["description"] or row["id"]),
                None if ref in (None, "") else str(ref),
                options,
                row["created_on"],
            )
        )
    return out


def _search(expr: Expression, body: Any, scope: Mapping[str, Any], label: str) -> Any:
    try:
        return expr.search(body, scope) if expr.roots else expr.search(body)
    except MappingError as exc:
        raise MappingError(f"{label}: {exc}") from None


def check_task(
    session: ProviderSession,
    prov: Provisioning,
    task: OpenTask,
    scope: Mapping[str, Any],
    at: datetime | None = None,
) -> Check:
    """One check of ``task`` (module doc)."""
    wait = prov.wait
    deadline = wait.poll.deadline if wait is not None else NO_WAIT_DEADLINE
    age = ((at or now()) - task.created_on).total_seconds() if task.created_on else 0.0
    late = age > deadline
    if task.ems_ref is None:  # its create runs still, or the process sending it died
        if late:
            return Check(
                error=f"{task.name}: no answer to its create request was recorded "
                f"within {deadline:g} s"
            )
        return Check()
    if wait is None:
        return Check(ready=True, late=late)
    count = int(task.options.get("number_of_vms") or 1)
    number = int(task.options.get("pass") or 1)
    extra = {
        "options": dict(task.options),
        "task": {"index": number - 1, "number": number, "name": task.name, "count": count},
        "target": {"ems_ref": task.ems_ref, "name": task.name},
    }
    what = f"{task.name}, {task.ems_ref}"
    return check_wait(session, wait, extra, scope, late, "provisioning", what)


def check_op_task(
    session: ProviderSession,
    op: Operation,
    task: OpTask,
    scope: Mapping[str, Any],
    at: datetime | None = None,
) -> Check:
    """One check of operation task ``task``: its operation's wait rule, ``target`` the row
    as the operation saw it; no wait rule: ready at once."""
    if op.wait is None:
        return Check(ready=True)
    age = ((at or now()) - task.created_on).total_seconds() if task.created_on else 0.0
    late = age > op.wait.poll.deadline
    label = f"operations.{task.collection}.{task.operation}"
    extra = {"target": dict(task.target)}
    return check_wait(session, op.wait, extra, scope, late, label, task.name)


def check_wait(
    session: ProviderSession,
    wait: Wait,
    extra: Mapping[str, Any],
    scope: Mapping[str, Any],
    late: bool,
    label: str,
    what: str,
) -> Check:
    """One request of ``wait`` (templates read ``extra``): ready, failed, or not yet; not
    ready and ``late`` (past its deadline): the time-out error naming ``what``."""
    full_scope = {**scope, **extra}
    until = wait.poll.until.text
    try:
        answer = send(session, wait.request, extra, f"{label}.wait", wait.done_on)
    except (CredentialsError, MappingError):
        raise
    except MiqspecError as exc:  # an API error, the provider unreachable: not yet known
        note = str(exc)
        if late:
            return Check(error=_timed_out(label, wait.poll.deadline, until, what, note))
        return Check(note=note)
    if answer.status in wait.done_on:
        return Check(ready=True, late=late)
    if wait.failed_when is not None:
        failed = _search(wait.failed_when, answer.body, full_scope, f"{label}.wait.failed_when")
        if truthy(failed):
            text = failed if isinstance(failed, str) else "failed_when holds"
            return Check(error=f"{label}: the provider reports a failure: {text}")
    if truthy(_search(wait.poll.until, answer.body, full_scope, f"{label}.wait.until")):
        return Check(ready=True, late=late, body=answer.body)
    if late:
        return Check(error=_timed_out(label, wait.poll.deadline, until, what, None))
    return Check(body=answer.body)


def _timed_out(label: str, deadline: float, until: str, what: str, note: str | None) -> str:
    return f"{label}: timed out after {deadline:g} s waiting for {until!r} ({what})" + (
        f"; last check: {note}" if note else ""
    )


def end_task(engine: sa.Engine, task: OpenTask, message: str) -> None:
    """Finish ``task`` with status Error and ``message`` (its request is settled by
    ``requests.finish_request``)."""
    update_task(engine, task.task_id, state=FINISHED, status=ERROR, message=message)


def note_task(engine: sa.Engine, task: OpenTask, message: str) -> None:
    """Set ``task``'s message (it stays open)."""
    update_task(engine, task.task_id, message=message)
