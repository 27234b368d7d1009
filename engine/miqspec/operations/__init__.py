"""Operations: what a spec declares an operator may do to stored objects, and provisioning.

Offers: ``execute`` (one operation on one row -> ``OperationOutcome``: supported, sent,
transitional state written, waited for, removed), ``check_supported`` and
``unsupported_reason`` (ManageIQ's ``supports`` rules), ``find_row``, ``list_rows``,
``plain``, ``remove_row`` (the rows operations act on; ``Found``), ``OperationLock`` and
``OperationBusyError`` (one operation at a time per object), the requests and tasks of
provisioning (``provision``, ``ProvisionOutcome``, ``TaskOutcome``, ``complete_tasks``,
``finish_request``, ``request_rows``, ``provisioning_dialog``), following the tasks nobody
waits for (``open_tasks``, ``check_task`` -> ``Check``, ``end_task``, ``note_task``), the
operations nobody waits for (``miq_tasks``: ``record_task``, ``open_op_tasks`` -> ``OpTask``,
``check_op_task``, ``finish_op_task``, ``op_task_rows``) and the tables' vocabulary
(``PENDING``, ``ACTIVE``, ``FINISHED``, ``OK``, ``ERROR``, ``WARN``, ``TASK_ACTIVE``,
``TASK_FINISHED``).
Owns its tables (sqlalchemy: ``miq_requests``, ``miq_request_tasks``, ``miq_tasks``,
``miqspec_operation_locks``) like ``metrics``; uses ``collect`` (``poll_until``),
``connect``, ``spec`` and ``store``.

Inside, modules run one way: ``provision`` -> ``requests``, ``follow`` -> ``requests``,
``op_tasks``, ``send``, ``execute`` -> ``wait`` -> ``send``; ``execute`` -> ``supports``,
``rows``; ``lock`` -> ``rows``, ``tables``; ``dialog`` -> ``rows``.
"""

from .dialog import provisioning_dialog
from .execute import OperationOutcome, check_supported, describe, execute, scope_of
from .follow import (
    Check,
    OpenTask,
    check_op_task,
    check_task,
    end_task,
    note_task,
    open_tasks,
)
from .lock import OperationBusyError, OperationLock
from .op_tasks import OpTask, finish_op_task, op_task_rows, open_op_tasks, record_task
from .provision import ProvisionOutcome, TaskOutcome, complete_tasks, provision
from .requests import finish_request, request_rows
from .rows import Found, find_row, list_rows, plain, remove_row
from .supports import noun, unsupported_reason
from .tables import ACTIVE, ERROR, FINISHED, OK, PENDING, TASK_ACTIVE, TASK_FINISHED, WARN

__all__ = [
    "ACTIVE",
    "ERROR",
    "FINISHED",
    "OK",
    "PENDING",
    "TASK_ACTIVE",
    "TASK_FINISHED",
    "WARN",
    "Check",
    "Found",
    "OpTask",
    "OpenTask",
    "OperationBusyError",
    "OperationLock",
    "OperationOutcome",
    "ProvisionOutcome",
    "TaskOutcome",
    "check_op_task",
    "check_supported",
    "check_task",
    "complete_tasks",
    "describe",
    "end_task",
    "execute",
    "find_row",
    "finish_op_task",
    "finish_request",
    "list_rows",
    "note_task",
    "noun",
    "op_task_rows",
    "open_op_tasks",
    "open_tasks",
    "plain",
    "provision",
    "provisioning_dialog",
    "record_task",
    "remove_row",
    "request_rows",
    "scope_of",
    "unsupported_reason",
]
