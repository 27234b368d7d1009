"""Following provisioning requests nobody waits for: ManageIQ's workers finishing its tasks.

Takes: a database engine, the key ring, a provider name (None: every provider with open
tasks) and an HTTP adapter (recorded traffic; None: live).
Gives: ``follow_requests`` -> ``FollowResult``: for each provider, each provisioning task
still pending or active is checked once (``operations.check_task``: one request of the
spec's wait rule, never a blocking wait); one past its deadline, or whose provider reports a
failure, ends finished with status Error and the message, its object never brought into the
inventory; the objects of the tasks that are ready are refreshed in one go (a targeted
refresh of those objects when the spec declares the collection's ``target`` call, else a
full refresh), each task is linked to its new row (``destination_id``) and finished Ok, and
a request whose tasks are all finished is finished (Ok, Warn or Error). A task whose object
the refresh could not bring in stays active (checked again next time) unless it ran past
its deadline. The worker calls it every tick; ``miqspec requests --follow`` once.
Every provider (no name): one that fails is a warning, the others go on.
Raises (one provider named): ``NotFoundError`` (no such provider), ``CredentialsError`` (its
credentials were last found invalid, or the provider refuses them: nothing is changed),
``MappingError``, ``DatabaseError``. Does network and database I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from miqspec import operations
from miqspec.errors import MiqspecError
from miqspec.operations import FINISHED, OK, OpenTask, OperationOutcome, ProvisionOutcome
from miqspec.pipeline.operations import (
    OperationResult,
    _check_credentials,
    _collection,
    _refresh,
    scope,
)
from miqspec.pipeline.session import make_session
from miqspec.store import Engine, KeyRing, ProviderStore, spec_metadata


@dataclass
class FollowedTask:
    provider: str
    request_id: int
    task_id: int
    name: str
    ems_ref: str | None
    state: str  # active | finished
    status: str  # Ok | Error
    message: str
    row_id: int | None = None


@dataclass
class FollowResult:
    checked: int = 0  # tasks checked
    waiting: int = 0  # tasks still open after the check
    finished: list[FollowedTask] = field(default_factory=list)  # ended now, Ok or Error
    requests: dict[int, dict[str, Any]] = field(default_factory=dict)  # finished now
    refreshed: dict[str, str] = field(default_factory=dict)  # provider -> targeted | full
    warnings: list[str] = field(default_factory=list)

    @property
    def failed(self) -> list[FollowedTask]:
        return [t for t in self.finished if t.status != OK]


def follow_requests(
    engine: Engine, keyring: KeyRing, name: str | None = None, *, adapter: Any = None
) -> FollowResult:
    """Check every open provisioning task once (module doc)."""
    out = FollowResult()
    store = ProviderStore(engine)
    names = [name] if name is not None else store.names()
    for each in names:
        try:
            tasks = operations.open_tasks(engine, int(store.row(each)["id"]))
            if tasks:
                _follow_provider(engine, keyring, each, tasks, adapter, out)
        except MiqspecError as exc:
            if name is not None:
                raise
            out.warnings.append(f"{each}: tasks not followed: {exc}")
    return out


def _follow_provider(
    engine: Engine,
    keyring: KeyRing,
    name: str,
    tasks: list[OpenTask],
    adapter: Any,
    out: FollowResult,
) -> None:
    sc = scope(engine, name)
    prov = sc.spec.provisioning
    if prov is None:  # the spec lost its section: nothing can tell when they are done
        for task in tasks:
            message = f"spec {sc.spec.provider.name} declares no provisioning section any more"
            _end(engine, name, task, message, out)
        _settle(engine, {t.request_id for t in tasks}, out)
        return
    _check_credentials(sc, name)
    session = make_session(sc.spec, sc.store.args(sc.ems, keyring), adapter, provider=sc.ems)
    ready: list[OpenTask] = []
    late: set[int] = set()
    try:
        for task in tasks:
            out.checked += 1
            check = operations.check_task(session, prov, task, operations.scope_of(session))
            if check.error:
                _end(engine, name, task, check.error, out)
            elif check.ready:
                ready.append(task)
                if check.late:
                    late.add(task.task_id)
            else:
                out.waiting += 1
                if check.note:
                    operations.note_task(engine, task, f"Created {task.ems_ref}; {check.note}")
    finally:
        session.close()
    if ready:
        _bring_in(engine, keyring, name, sc, ready, late, adapter, out)
    _settle(engine, {t.request_id for t in tasks}, out)


def _bring_in(
    engine: Engine,
    keyring: KeyRing,
    name: str,
    sc: Any,
    ready: list[OpenTask],
    late: set[int],
    adapter: Any,
    out: FollowResult,
) -> None:
    """Refresh the ready tasks' objects and link each task to its row; one past its
    deadline whose object did not come in ends with Error."""
    coll = _collection(sc, sc.spec.provisioning.collection)
    holder = OperationResult(name, OperationOutcome("provision", coll.name, None, None, 0))
    refs = [str(t.ems_ref) for t in ready]
    _refresh(engine, name, keyring, adapter, holder, sc.spec, coll.name, refs)
    out.warnings.extend(f"{name}: {w}" for w in holder.warnings)
    if holder.refreshed:
        out.refreshed[name] = holder.refreshed
    table = spec_metadata(engine, sc.spec).tables[coll.table]
    by_request: dict[int, list[OpenTask]] = {}
    for task in ready:
        by_request.setdefault(task.request_id, []).append(task)
    for request_id, tasks in by_request.items():
        done = ProvisionOutcome(request_id, name, waited=False)
        done.tasks = [
            operations.TaskOutcome(t.task_id, t.name, t.ems_ref, ready=True) for t in tasks
        ]
        operations.complete_tasks(
            engine, done, table, coll, sc.owners[coll.name], sc.spec.provider.namespace, False
        )
        for task, outcome in zip(tasks, done.tasks, strict=True):
            if outcome.row_id is not None:
                message = f"{task.name} provisioned ({task.ems_ref})"
                out.finished.append(
                    FollowedTask(
                        name,
                        request_id,
                        task.task_id,
                        task.name,
                        task.ems_ref,
                        FINISHED,
                        OK,
                        message,
                        outcome.row_id,
                    )
                )
            elif task.task_id in late:
                message = (
                    f"{task.name} ({task.ems_ref}) is ready at the provider but not in the "
                    "inventory after the refresh, past its deadline"
                )
                _end(engine, name, task, message, out)
            else:
                out.waiting += 1


def _end(engine: Engine, name: str, task: OpenTask, message: str, out: FollowResult) -> None:
    operations.end_task(engine, task, message)
    out.finished.append(
        FollowedTask(
            name,
            task.request_id,
            task.task_id,
            task.name,
            task.ems_ref,
            FINISHED,
            operations.ERROR,
            message,
        )
    )


def _settle(engine: Engine, request_ids: set[int], out: FollowResult) -> None:
    for request_id in sorted(request_ids):
        values = operations.finish_request(engine, request_id)
        if values.get("state") == FINISHED:
            out.requests[request_id] = values
