"""Operations and provisioning wired: the provider, its credentials, the lock, the refresh after.

Takes: a database engine, a provider name, the key ring, a collection and an object (name or
ems_ref), an operation name or provisioning values, whether to wait, an HTTP adapter for
recorded traffic.
Gives: ``object_rows`` and ``find_object`` (rows as ``vm list``/``show`` read them, with each
declared operation's unsupported reason), ``run_operation`` -> ``OperationResult`` (the
``operations.OperationOutcome``, the row after, how it was refreshed; one not waited for is
recorded as a ``miq_tasks`` row, ``task_id``, which ``follow`` finishes), ``provision`` ->
``operations.ProvisionOutcome``, ``provisioning_rows`` (the dialog's choices),
``requests_of`` and ``tasks_of``.
Safety: nothing runs for a provider whose stored credentials were last found invalid
(``CredentialsError``) or on an archived row (``UnsupportedError``); one operation at a time
per object (``OperationLock``); an operation that finished is followed by a targeted refresh
of its row (``refresh_targets``, when the spec declares the collection's ``target`` call;
else a full refresh), except one that removed its object, whose row alone was deleted or
disconnected; provisioning refreshes the objects of the tasks that succeeded, never those of
failed ones; a refresh that cannot run (another holds the lock, it fails) is a warning, the
operation stays done.
Raises: ``NotFoundError``, ``UsageError``, ``UnsupportedError``, ``OperationBusyError``,
``CredentialsError``, ``ApiError``, ``DatabaseError``. Does network and database I/O.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from miqspec import operations
from miqspec.errors import CredentialsError, MiqspecError, NotFoundError
from miqspec.events import Target
from miqspec.operations import Found, OperationOutcome, ProvisionOutcome
from miqspec.pipeline.refresh import owners_for, refresh_provider
from miqspec.pipeline.session import make_session
from miqspec.pipeline.targeted import refresh_targets
from miqspec.spec import Operation, Spec
from miqspec.store import Engine, KeyRing, ProviderStore, spec_for, spec_metadata

WAIT_MARGIN = 60.0  # seconds an operation lock outlives the operation's wait deadline


@dataclass
class OperationResult:
    provider: str
    outcome: OperationOutcome
    row: dict[str, Any] | None = None  # the row after the operation (and its refresh)
    refreshed: str | None = None  # "targeted" | "full" | None
    warnings: list[str] = field(default_factory=list)
    task_id: int | None = None  # the miq_tasks row of an operation not waited for


@dataclass(frozen=True)
class Scope:
    store: ProviderStore
    ems: Mapping[str, Any]
    spec: Spec
    owners: Mapping[str, int]


def scope(engine: Engine, name: str) -> Scope:
    store = ProviderStore(engine)
    ems = store.row(name)
    spec = spec_for(ems)
    return Scope(store, ems, spec, owners_for(spec, ems["id"], store.children(ems["id"])))


def collection_def(sc: Scope, collection: str) -> Any:
    coll = sc.spec.catalogue.get(collection)
    if coll is None:
        raise NotFoundError(f"unknown collection {collection!r}")
    return coll


def declared(spec: Spec, collection: str) -> Mapping[str, Operation]:
    ops: Mapping[str, Operation] = spec.operations.get(collection, {})
    return ops


def object_rows(engine: Engine, name: str, collection: str) -> tuple[Spec, list[dict[str, Any]]]:
    """Provider ``name``'s rows of ``collection``, plain, each with ``supports``: operation
    -> None (supported) or ManageIQ's reason."""
    sc = scope(engine, name)
    coll = collection_def(sc, collection)
    table = spec_metadata(engine, sc.spec).tables[coll.table]
    session_scope = {"provider": dict(sc.ems), "settings": sc.spec.provider.settings}
    rows = []
    for row in operations.list_rows(engine, table, coll, sc.owners[collection]):
        out = operations.plain(row)
        out["supports"] = _supports(sc.spec, collection, out, False, session_scope)
        rows.append(out)
    return sc.spec, rows


def _supports(
    spec: Spec, collection: str, row: Mapping[str, Any], archived: bool, sc: Mapping[str, Any]
) -> dict[str, str | None]:
    return {
        op: operations.unsupported_reason(collection, rule, row, archived, sc)
        for op, rule in declared(spec, collection).items()
    }


def find_object(engine: Engine, name: str, collection: str, key: str) -> dict[str, Any]:
    """One row (by ems_ref or name; an archived one too, flagged ``archived``), plain, with
    ``supports`` as in ``object_rows``."""
    sc = scope(engine, name)
    coll = collection_def(sc, collection)
    table = spec_metadata(engine, sc.spec).tables[coll.table]
    found = operations.find_row(
        engine, table, coll, sc.owners[collection], key, sc.spec.provider.namespace
    )
    out = operations.plain(found.row)
    out["archived"] = found.archived
    session_scope = {"provider": dict(sc.ems), "settings": sc.spec.provider.settings}
    out["supports"] = _supports(sc.spec, collection, out, found.archived, session_scope)
    return out


def check_credentials(sc: Scope, name: str) -> None:
    info = sc.store.info(name)
    if (info.auth_status or "").lower() == "invalid":
        why = info.auth_status_details or "the last verify failed"
        raise CredentialsError(
            f"provider {name!r} has invalid credentials ({why}); nothing was done: fix them "
            "(miqspec provider edit) and verify"
        )


def run_operation(
    engine: Engine,
    name: str,
    keyring: KeyRing,
    collection: str,
    key: str,
    op_name: str,
    *,
    wait: bool = False,
    adapter: Any = None,
    refresh: bool = True,
    userid: str = "admin",
) -> OperationResult:
    """Run operation ``op_name`` on one object of provider ``name`` (module doc)."""
    sc = scope(engine, name)
    coll = collection_def(sc, collection)
    table = spec_metadata(engine, sc.spec).tables[coll.table]
    owner = sc.owners[collection]
    found = operations.find_row(engine, table, coll, owner, key, sc.spec.provider.namespace)
    op = declared(sc.spec, collection).get(op_name)
    static_scope = {"provider": dict(sc.ems), "settings": sc.spec.provider.settings}
    operations.check_supported(collection, op_name, op, found, static_scope)
    assert op is not None  # check_supported refuses an undeclared operation
    check_credentials(sc, name)
    hold = (op.wait.poll.deadline if op.wait else 0.0) + WAIT_MARGIN
    what = operations.describe(collection, found.row)
    with operations.OperationLock(engine, coll.table, found.row["id"], op_name, what, hold):
        found = _reread(engine, table, coll, owner, found, sc)  # what the lock now protects
        _refuse_open_task(engine, int(sc.ems["id"]), collection, found, what)
        session = make_session(sc.spec, sc.store.args(sc.ems, keyring), adapter, provider=sc.ems)
        try:
            outcome = operations.execute(
                engine, session, sc.spec, table, coll, found, op, wait=wait
            )
        finally:
            session.close()
        result = OperationResult(name, outcome)
        if not outcome.finished:  # not waited for: a task the worker follows to its end
            result.task_id = operations.record_task(
                engine, sc.ems, collection, coll.table, found.row, coll.manager_ref[0], op_name,
                f"{op_name} of {what}", userid,
            )  # fmt: skip
        if refresh and outcome.finished and outcome.removed is None and (wait or not op.wait):
            ref = str(outcome.ems_ref)
            refresh_objects(engine, name, keyring, adapter, result, sc.spec, collection, [ref])
    if outcome.removed is None:
        try:
            result.row = find_object(engine, name, collection, str(outcome.ems_ref or key))
        except NotFoundError:
            result.row = None
    return result


def _refuse_open_task(
    engine: Engine, ems_id: int, collection: str, found: Found, what: str
) -> None:
    """An operation sent without ``--wait`` holds its object until its task ends (the worker
    or ``requests --follow`` ends it): a second one is refused, never interleaved."""
    row_id = int(found.row["id"])
    for task in operations.open_op_tasks(engine, ems_id):
        if task.collection == collection and task.row_id == row_id:
            raise operations.OperationBusyError(
                f"{what} is busy: operation '{task.operation}' (task {task.task_id}) has not "
                "ended; nothing was done, try again when it ends (miqspec vm tasks)"
            )


def _reread(engine: Engine, table: Any, coll: Any, owner: int, found: Found, sc: Scope) -> Found:
    ref = str(found.row[coll.manager_ref[0]])
    return operations.find_row(engine, table, coll, owner, ref, sc.spec.provider.namespace)


def refresh_objects(
    engine: Engine,
    name: str,
    keyring: KeyRing,
    adapter: Any,
    result: Any,
    spec: Spec,
    collection: str,
    refs: list[str],
) -> None:
    """Bring ``refs`` of ``collection`` up to date: a targeted refresh of those objects when
    the spec declares the collection's ``target`` call, else a full refresh."""
    try:
        if collection in spec.targets:
            targeted = refresh_targets(
                engine, name, keyring, [Target(collection, r) for r in refs], adapter=adapter
            )
            result.refreshed = "targeted"
            result.warnings.extend(
                f"refresh of {t} after the operation failed: {why}"
                for t, why in targeted.failed.items()
            )
            return
        refreshed = refresh_provider(engine, name, keyring, adapter=adapter)
    except MiqspecError as exc:  # another process refreshes it, the API failed
        result.warnings.append(f"refresh after the operation skipped: {exc}")
        return
    if refreshed.ok:
        result.refreshed = "full"
    else:
        result.warnings.append(f"refresh after the operation failed: {refreshed.error}")


def provisioning_rows(engine: Engine, name: str) -> Any:
    """A function giving provider ``name``'s stored rows of a collection (dialog choices)."""
    sc = scope(engine, name)
    tables = spec_metadata(engine, sc.spec).tables

    def rows(collection: str) -> list[dict[str, Any]]:
        coll = sc.spec.catalogue.get(collection)
        if coll is None or collection not in sc.owners:
            return []
        return operations.list_rows(engine, tables[coll.table], coll, sc.owners[collection])

    return rows


def provision(
    engine: Engine,
    name: str,
    keyring: KeyRing,
    values: Mapping[str, Any],
    *,
    count: int | None = None,
    wait: bool = False,
    adapter: Any = None,
    userid: str = "admin",
) -> ProvisionOutcome:
    """Provision on provider ``name``; after waiting, a refresh brings the new objects in and
    each task is linked to its row (``operations.complete_tasks``)."""
    sc = scope(engine, name)
    check_credentials(sc, name)
    rows = provisioning_rows(engine, name)
    session = make_session(sc.spec, sc.store.args(sc.ems, keyring), adapter, provider=sc.ems)
    try:
        out = operations.provision(
            engine, session, sc.spec, sc.ems, values, count, wait=wait, rows=rows, userid=userid
        )
    finally:
        session.close()
    prov = sc.spec.provisioning
    coll = collection_def(sc, prov.collection)
    refreshed = False
    ready = [t.ems_ref for t in out.tasks if t.ems_ref and not t.error]
    if wait and ready:
        started = time.monotonic()
        holder = OperationResult(name, OperationOutcome("provision", coll.name, None, None, 0))
        refresh_objects(engine, name, keyring, adapter, holder, sc.spec, coll.name, ready)
        refreshed = holder.refreshed is not None
        out.seconds["refresh"] = time.monotonic() - started
    table = spec_metadata(engine, sc.spec).tables[coll.table]
    operations.complete_tasks(
        engine, out, table, coll, sc.owners[coll.name], sc.spec.provider.namespace, refreshed
    )
    return out


def requests_of(engine: Engine, name: str | None) -> list[dict[str, Any]]:
    """Provisioning requests with their tasks, of provider ``name`` or of all."""
    ems_id = ProviderStore(engine).row(name)["id"] if name else None
    return operations.request_rows(engine, ems_id)


def tasks_of(engine: Engine, name: str | None) -> list[dict[str, Any]]:
    """Operation tasks (``miq_tasks``), newest first, of provider ``name`` or of all."""
    ems_id = ProviderStore(engine).row(name)["id"] if name else None
    return operations.op_task_rows(engine, ems_id)
