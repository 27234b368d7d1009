"""Provisioning: a request of N tasks, each creating one object through the spec's create call.

Takes: the database engine, the provider's ``ProviderSession``, ``Spec`` and manager row, the
form values (``--set``), how many objects, whether to wait, the provider's stored rows by
collection (the dialog's choices) and who asks.
Gives: ``provision`` -> ``ProvisionOutcome`` (the request id and per task its name, the new
ems_ref, its error): the values are checked against the dialog (``dialog.check_values``), the
request and its tasks stored ``pending`` (``requests``), then per task (at most the
connection's ``concurrency`` at once) ``active``, the create request sent (templates read
``options``: the values with this task's ``vm_name``, and ``task``: index, number, name,
count) and the new object's ems_ref read by ``new_ref``; once every create is sent, with
``wait``, each task's ``wait`` polled (so the objects are made side by side). A task that
fails (the API refuses, a quota, no new id, a time-out) is finished with status Error and the
message; the others go on. ``complete_tasks`` (after the refresh that
brings the new objects in) links each task to its new row (``destination_id``), finishes it
Ok, and finishes the request; a task whose object the inventory does not hold is an Error
when it was waited for, else stays active.
Raises: ``UsageError`` (no provisioning section, bad values or count), ``DatabaseError``;
per-task failures are in the outcome. Does network and database I/O.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from miqspec.connect import ProviderSession
from miqspec.errors import ApiError, MappingError, MiqspecError, NotFoundError, UsageError
from miqspec.operations.dialog import Rows, check_values
from miqspec.operations.execute import scope_of
from miqspec.operations.requests import create_request, finish_request, task_name, update_task
from miqspec.operations.rows import find_row
from miqspec.operations.send import send
from miqspec.operations.tables import ACTIVE, ERROR, FINISHED, OK
from miqspec.operations.wait import wait_for
from miqspec.spec import COUNT_FIELD, NAME_FIELD, CollectionDef, Provisioning, Spec

MANAGER_CLASS = {"cloud": "CloudManager", "infra": "InfraManager"}


@dataclass
class TaskOutcome:
    task_id: int
    name: str
    ems_ref: str | None = None
    error: str | None = None
    ready: bool = False  # its wait held
    row_id: int | None = None  # the new row, once the inventory holds it


@dataclass
class ProvisionOutcome:
    request_id: int
    provider: str
    tasks: list[TaskOutcome] = field(default_factory=list)
    waited: bool = False
    seconds: dict[str, float] = field(default_factory=dict)  # create, tasks (+ wait), refresh
    request: dict[str, Any] = field(default_factory=dict)  # state, status, message at the end

    @property
    def failed(self) -> list[TaskOutcome]:
        return [t for t in self.tasks if t.error]


def section(spec: Spec) -> Provisioning:
    prov: Provisioning | None = spec.provisioning
    if prov is None:
        raise UsageError(f"spec {spec.provider.name} declares no provisioning section")
    return prov


def provision(
    engine: sa.Engine,
    session: ProviderSession,
    spec: Spec,
    ems: Mapping[str, Any],
    values: Mapping[str, Any],
    count: int | None,
    *,
    wait: bool,
    rows: Rows | None,
    userid: str = "admin",
) -> ProvisionOutcome:
    """Store the request and run its tasks (module doc)."""
    prov = section(spec)
    checked = check_values(prov, values, rows)
    count = int(count if count is not None else checked.get(COUNT_FIELD) or 1)
    if not 1 <= count <= prov.max_count:
        raise UsageError(
            f"count must be 1 to {prov.max_count} (provisioning.max_count), got {count}"
        )
    checked[COUNT_FIELD] = count
    name = checked.get(NAME_FIELD)
    if not isinstance(name, str) or not name.strip():
        raise UsageError(f"the new objects need a name: --set {NAME_FIELD}=NAME")
    names = [task_name(name.strip(), i, count) for i in range(count)]
    kind = MANAGER_CLASS.get(spec.provider.manager_type, "CloudManager")
    request_id, task_ids = create_request(
        engine, ems, f"{spec.provider.namespace}::{kind}::Provision", checked, names, userid
    )
    out = ProvisionOutcome(request_id, str(ems["name"]), waited=wait and prov.wait is not None)
    out.tasks = [TaskOutcome(t, n) for t, n in zip(task_ids, names, strict=True)]
    scope = scope_of(session)
    started = time.monotonic()

    def extra(index: int) -> dict[str, Any]:
        name = out.tasks[index].name
        return {
            "options": {**checked, NAME_FIELD: name},
            "task": {"index": index, "number": index + 1, "name": name, "count": count},
        }

    def create(index: int) -> None:
        task = out.tasks[index]
        try:
            update_task(engine, task.task_id, state=ACTIVE, message="Creating")
            answer = send(session, prov.request, extra(index), "provisioning.request")
            try:
                ref = prov.new_ref.search(answer.body, scope)
            except MappingError as exc:
                raise MappingError(f"{prov.location}: provisioning.new_ref: {exc}") from None
            if ref in (None, "") or isinstance(ref, dict | list):
                raise ApiError(
                    f"the create answer gives no new id (provisioning.new_ref "
                    f"{prov.new_ref.text!r} is {ref!r})"
                )
            task.ems_ref = str(ref)
            update_task(
                engine, task.task_id, {"ems_ref": task.ems_ref},
                message=f"Created {task.ems_ref}", phase="created",
            )  # fmt: skip
        except MiqspecError as exc:
            task.error = str(exc)
            update_task(engine, task.task_id, state=FINISHED, status=ERROR, message=str(exc))

    def await_ready(index: int) -> None:
        task = out.tasks[index]
        if task.error or prov.wait is None:
            return
        try:
            target = {"ems_ref": task.ems_ref, "name": task.name}
            wait_for(session, prov.wait, {**extra(index), "target": target}, scope, "provisioning")
            task.ready = True
            update_task(engine, task.task_id, message="Ready", phase="ready")
        except MiqspecError as exc:
            task.error = str(exc)
            update_task(engine, task.task_id, state=FINISHED, status=ERROR, message=str(exc))

    # every create first, then every wait: the objects are made side by side at the provider
    workers = max(1, min(session.spec.connection.concurrency, count))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(create, range(count)))
        out.seconds["create"] = time.monotonic() - started
        if out.waited:
            list(pool.map(await_ready, range(count)))
    out.seconds["tasks"] = time.monotonic() - started
    return out


def complete_tasks(
    engine: sa.Engine,
    out: ProvisionOutcome,
    table: sa.Table,
    coll: CollectionDef,
    owner_id: int,
    namespace: str,
    refreshed: bool,
) -> dict[str, Any]:
    """Link the tasks to their new rows and finish the request (module doc); gives the
    request's state, status and message."""
    for task in out.tasks:
        if task.error or task.ems_ref is None:
            continue
        try:
            found = find_row(engine, table, coll, owner_id, task.ems_ref, namespace)
        except NotFoundError:
            found = None
        if found is not None and not found.archived:
            task.row_id = int(found.row["id"])
            update_task(
                engine, task.task_id, state=FINISHED, status=OK, destination_id=task.row_id,
                message=f"{task.name} provisioned ({task.ems_ref})", phase="done",
            )  # fmt: skip
        elif out.waited and refreshed:
            task.error = f"{task.name} ({task.ems_ref}) is not in the inventory after the refresh"
            update_task(engine, task.task_id, state=FINISHED, status=ERROR, message=task.error)
        else:
            update_task(
                engine, task.task_id,
                message=f"Created {task.ems_ref}; the next refresh brings it into the inventory",
            )  # fmt: skip
    out.request = finish_request(engine, out.request_id)
    return out.request
