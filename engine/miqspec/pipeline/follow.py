"""Following the tasks nobody waits for (provisioning, operations): ManageIQ's workers'
follow-up until each task finishes.

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
its deadline. Operation tasks (``miq_tasks``: an operation run without waiting) likewise:
the operation's wait rule checked once; once over, an operation that removes its object
removes or disconnects exactly its row, any other's row is refreshed (targeted, else full),
the task Finished Ok; one that failed or ran past its deadline ends Error and its row is
refreshed too, so no transitional state stays behind. The worker calls it every tick;
``miqspec requests --follow`` once.
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
from miqspec.operations import (
    FINISHED,
    OK,
    Check,
    OpenTask,
    OperationOutcome,
    OpTask,
    ProvisionOutcome,
)
from miqspec.pipeline.operations import (
    OperationResult,
    check_credentials,
    collection_def,
    declared,
    refresh_objects,
    scope,
)
from miqspec.pipeline.session import make_session
from miqspec.spec import Spec
from miqspec.store import Engine, KeyRing, ProviderStore, spec_metadata


@dataclass
class FollowedTask:
    provider: str
    request_id: int | None  # None: an operation task (miq_tasks)
    task_id: int
    name: str
    ems_ref: str | None
    state: str  # active | finished
    status: str  # Ok | Error
    message: str
    row_id: int | None = None
    kind: str = "provisioning"  # provisioning (miq_request_tasks) | operation (miq_tasks)


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
            ems_id = int(store.row(each)["id"])
            tasks = operations.open_tasks(engine, ems_id)
            op_tasks = operations.open_op_tasks(engine, ems_id)
            if tasks or op_tasks:
                _follow_provider(engine, keyring, each, tasks, op_tasks, adapter, out)
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
    op_tasks: list[OpTask],
    adapter: Any,
    out: FollowResult,
) -> None:
    sc = scope(engine, name)
    prov = sc.spec.provisioning
    if prov is None and tasks:  # the spec lost its section: nothing can tell when they end
        for task in tasks:
            message = f"spec {sc.spec.provider.name} declares no provisioning section any more"
            _end(engine, name, task, message, out)
        _settle(engine, {t.request_id for t in tasks}, out)
        tasks = []
    if not tasks and not op_tasks:
        return
    check_credentials(sc, name)
    session = make_session(sc.spec, sc.store.args(sc.ems, keyring), adapter, provider=sc.ems)
    ready: list[OpenTask] = []
    late: set[int] = set()
    try:
        for task in tasks:
            assert prov is not None
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
        op_checks = [(t, _check_op(session, sc.spec, t)) for t in op_tasks]
        out.checked += len(op_checks)
    finally:
        session.close()
    if ready:
        _bring_in(engine, keyring, name, sc, ready, late, adapter, out)
    if tasks:
        _settle(engine, {t.request_id for t in tasks}, out)
    if op_checks:
        _end_operations(engine, keyring, name, sc, op_checks, adapter, out)


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
    coll = collection_def(sc, sc.spec.provisioning.collection)
    holder = OperationResult(name, OperationOutcome("provision", coll.name, None, None, 0))
    refs = [str(t.ems_ref) for t in ready]
    refresh_objects(engine, name, keyring, adapter, holder, sc.spec, coll.name, refs)
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


def _check_op(session: Any, spec: Spec, task: OpTask) -> Check:
    op = declared(spec, task.collection).get(task.operation)
    if op is None:  # the spec no longer declares it: nothing can tell when it ends
        return Check(error=f"{task.name}: spec {spec.provider.name} declares no operation "
                           f"{task.operation!r} for {task.collection} any more")  # fmt: skip
    return operations.check_op_task(session, op, task, operations.scope_of(session))


def _end_operations(
    engine: Engine,
    keyring: KeyRing,
    name: str,
    sc: Any,
    checks: list[tuple[OpTask, Check]],
    adapter: Any,
    out: FollowResult,
) -> None:
    """Finish the operation tasks that ended: an operation that removes its object removes
    or disconnects exactly its row; the others' rows, and those of failed ones (their
    transitional state), are refreshed (targeted, else full); a refresh that cannot run is a
    warning, the task's end stands."""
    refresh: dict[str, list[str]] = {}
    ended: list[tuple[OpTask, str, str]] = []  # task, status, message
    for task, check in checks:
        if not (check.ready or check.error):
            out.waiting += 1
            continue
        op = declared(sc.spec, task.collection).get(task.operation)
        if check.ready and op is not None and op.removes:
            coll = collection_def(sc, task.collection)
            table = spec_metadata(engine, sc.spec).tables[coll.table]
            removed = operations.remove_row(
                engine, table, coll, task.row_id, sc.spec.provider.power_state
            )
            ended.append((task, OK, f"{task.name}: done; row {removed}"))
            continue
        if task.ems_ref is not None and sc.spec.catalogue.get(task.collection) is not None:
            refresh.setdefault(task.collection, []).append(task.ems_ref)
        if check.error:
            ended.append((task, operations.ERROR, check.error))
        else:
            ended.append((task, OK, f"{task.name}: done"))
    for collection, refs in refresh.items():
        holder = OperationResult(name, OperationOutcome("follow", collection, None, None, 0))
        refresh_objects(engine, name, keyring, adapter, holder, sc.spec, collection, refs)
        out.warnings.extend(f"{name}: {w}" for w in holder.warnings)
        if holder.refreshed:
            out.refreshed[name] = holder.refreshed
    for task, status, message in ended:
        operations.finish_op_task(engine, task.task_id, status, message)
        followed = FollowedTask(
            name, None, task.task_id, task.name, task.ems_ref, operations.TASK_FINISHED,
            status, message, task.row_id, kind="operation",
        )  # fmt: skip
        out.finished.append(followed)
