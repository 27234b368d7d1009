"""Operations: what a spec declares an operator may do to stored objects, and provisioning.

Offers: ``execute`` (one operation on one row -> ``OperationOutcome``: supported, sent,
transitional state written, waited for, removed), ``check_supported`` and
``unsupported_reason`` (ManageIQ's ``supports`` rules), ``find_row``, ``list_rows``,
``plain``, ``remove_row`` (the rows operations act on; ``Found``), ``OperationLock`` and
``OperationBusyError`` (one operation at a time per object), the requests and tasks of
provisioning (``provision``, ``ProvisionOutcome``, ``TaskOutcome``, ``complete_tasks``,
``request_rows``, ``provisioning_dialog``) and the tables' vocabulary (``PENDING``,
``ACTIVE``, ``FINISHED``, ``OK``, ``ERROR``, ``WARN``).
Owns its tables (sqlalchemy: ``miq_requests``, ``miq_request_tasks``,
``miqspec_operation_locks``) like ``metrics``; uses ``collect`` (``poll_until``),
``connect``, ``spec`` and ``store``.

Inside, modules run one way: ``provision`` -> ``requests``, ``execute`` -> ``wait`` ->
``send``; ``execute`` -> ``supports``, ``rows``; ``lock`` -> ``rows``, ``tables``; ``dialog``
-> ``rows``.
"""

from .dialog import provisioning_dialog
from .execute import OperationOutcome, check_supported, describe, execute, scope_of
from .lock import OperationBusyError, OperationLock
from .provision import ProvisionOutcome, TaskOutcome, complete_tasks, provision
from .requests import request_rows
from .rows import Found, find_row, list_rows, plain, remove_row
from .supports import noun, unsupported_reason
from .tables import ACTIVE, ERROR, FINISHED, OK, PENDING, WARN

__all__ = [
    "ACTIVE",
    "ERROR",
    "FINISHED",
    "OK",
    "PENDING",
    "WARN",
    "Found",
    "OperationBusyError",
    "OperationLock",
    "OperationOutcome",
    "ProvisionOutcome",
    "TaskOutcome",
    "check_supported",
    "complete_tasks",
    "describe",
    "execute",
    "find_row",
    "list_rows",
    "noun",
    "plain",
    "provision",
    "provisioning_dialog",
    "remove_row",
    "request_rows",
    "scope_of",
    "unsupported_reason",
]
