"""Operations and provisioning in the public API: VMs (and other objects), requests, dialogs.

Takes: an open ``Database``, a provider name, an object's name or ems_ref, an operation name
(``start``, ``stop``, ``suspend``, ``reboot_guest``, ``destroy`` or one the spec declares),
provisioning values (``vm_name``, ``template``, ...), a spec for the dialog.
Gives: ``object_list`` (``ObjectRows``: the operations the spec declares and each row with
its ``supports``), ``object_show`` (one row, ``archived`` and ``supports``),
``run_operation`` (``OperationResult``), ``provision`` (``ProvisionOutcome``),
``list_requests`` (requests with their tasks), ``list_tasks`` (operation tasks),
``follow_requests`` (``FollowResult``: the open tasks checked once, the ready ones brought
in and finished, as the worker does) and
``provisioning_form`` (the dialog as data-driven-forms JSON; choices from a provider's
inventory when one is named).
Re-exported by ``miqspec.api``.
Raises: ``NotFoundError``, ``UsageError``, ``UnsupportedError`` (exit 13),
``OperationBusyError`` (exit 8), ``CredentialsError``, ``ApiError``, ``DatabaseError``.
Does database and network I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from miqspec import operations, pipeline
from miqspec.api.database import Database
from miqspec.errors import UsageError
from miqspec.operations import ProvisionOutcome
from miqspec.pipeline import FollowResult, OperationResult
from miqspec.spec import Spec

__all__ = [
    "FollowResult",
    "ObjectRows",
    "OperationResult",
    "ProvisionOutcome",
    "follow_requests",
    "list_requests",
    "list_tasks",
    "object_list",
    "object_show",
    "provision",
    "provisioning_form",
    "run_operation",
]


@dataclass(frozen=True)
class ObjectRows:
    provider: str
    collection: str
    operations: tuple[str, ...]
    rows: list[dict[str, Any]]


def object_list(db: Database, name: str, collection: str = "vms") -> ObjectRows:
    """Provider ``name``'s rows of ``collection`` with each declared operation's support."""
    spec, rows = pipeline.object_rows(db.engine, name, collection)
    return ObjectRows(name, collection, tuple(spec.operations.get(collection, {})), rows)


def object_show(db: Database, name: str, key: str, collection: str = "vms") -> dict[str, Any]:
    """One row of ``collection`` by ems_ref or name (archived rows too)."""
    return pipeline.find_object(db.engine, name, collection, key)


def run_operation(
    db: Database,
    name: str,
    key: str,
    operation: str,
    *,
    collection: str = "vms",
    wait: bool = False,
    adapter: Any = None,
) -> OperationResult:
    """Run ``operation`` on object ``key`` of provider ``name``: refused with ManageIQ's
    reason when unsupported (nothing done), one at a time per object; ``wait`` waits for its
    end, then the provider is refreshed (an operation that removes its object removes or
    disconnects that row alone)."""
    return pipeline.run_operation(
        db.engine, name, db.keyring, collection, key, operation, wait=wait, adapter=adapter
    )


def provision(
    db: Database,
    name: str,
    values: Mapping[str, Any],
    *,
    count: int | None = None,
    wait: bool = False,
    adapter: Any = None,
    userid: str = "admin",
) -> ProvisionOutcome:
    """One provisioning request of ``count`` objects (default the form's ``number_of_vms``,
    else 1) on provider ``name``; ``wait`` waits for each, refreshes, links each task to its
    new row."""
    if count is not None and count < 1:
        raise UsageError(f"count must be at least 1, got {count}")
    return pipeline.provision(
        db.engine,
        name,
        db.keyring,
        values,
        count=count,
        wait=wait,
        adapter=adapter,
        userid=userid,
    )


def list_requests(db: Database, name: str | None = None) -> list[dict[str, Any]]:
    """Provisioning requests, newest first, each with its ``tasks``; of provider ``name``
    only when given."""
    return pipeline.requests_of(db.engine, name)


def list_tasks(db: Database, name: str | None = None) -> list[dict[str, Any]]:
    """Operation tasks (``miq_tasks``: operations run without waiting), newest first, each
    with ``context_data`` decoded; of provider ``name`` only when given."""
    return pipeline.tasks_of(db.engine, name)


def follow_requests(db: Database, name: str | None = None, *, adapter: Any = None) -> FollowResult:
    """Check each open provisioning task (of provider ``name``, or of all) once, as the
    worker does every pass: the spec's wait rule polled once per task; a task past its
    deadline, or whose provider reports a failure, ends with status Error and the message
    (its object is never brought in); the ready ones' objects are refreshed in (targeted
    when the spec declares the collection's ``target`` call, else full), each task linked to
    its new row and finished Ok; a request whose tasks are all finished is finished. With no
    name, a provider that fails is a warning in the result."""
    return pipeline.follow_requests(db.engine, db.keyring, name, adapter=adapter)


def provisioning_form(
    spec: Spec, db: Database | None = None, provider: str | None = None
) -> dict[str, Any]:
    """``spec``'s provisioning dialog; choices from provider ``provider``'s inventory when
    given (with ``db``), else empty. ``UsageError`` when the spec declares none."""
    if spec.provisioning is None:
        raise UsageError(f"spec {spec.provider.name} declares no provisioning section")
    rows = None
    if provider is not None:
        if db is None:
            raise UsageError("choices from a provider need the database")
        rows = pipeline.provisioning_rows(db.engine, provider)
    return operations.provisioning_dialog(spec.provisioning, rows)
