"""Operation tasks: an operation nobody waits for, recorded in ``miq_tasks`` as ManageIQ does.

Takes: a database engine; to record one, the provider's manager row (id, name), the
collection, the object's row and the operation's name; later a task's id and its end.
Gives: ``record_task`` (one ``miq_tasks`` row, state Active, status Ok, ``identifier``
``<collection>/<row id>``, ``context_data`` JSON: provider, ems_id, collection, table,
operation, row id, ems_ref and the row as templates saw it; gives its id), ``open_op_tasks``
(the provider's Active tasks, oldest first, as ``OpTask``), ``finish_op_task`` (Finished,
Ok or Error, the message, ``pct_complete`` 100) and ``op_task_rows`` (a provider's tasks, or
every one, newest first, ``context_data`` decoded).
Raises: ``DatabaseError``. Does database I/O.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from miqspec.operations.rows import db_failed, plain
from miqspec.operations.tables import OK, OP_TASKS, TASK_ACTIVE, TASK_FINISHED
from miqspec.store import now

LIST_MAX = 1000  # tasks listed at most


@dataclass(frozen=True)
class OpTask:
    task_id: int
    name: str
    collection: str
    operation: str
    row_id: int
    ems_ref: str | None
    target: Mapping[str, Any]  # the row as the operation's templates saw it
    created_on: datetime | None


def record_task(
    engine: sa.Engine,
    ems: Mapping[str, Any],
    collection: str,
    table: str,
    row: Mapping[str, Any],
    ref_column: str,
    operation: str,
    name: str,
    userid: str = "admin",
) -> int:
    """Record an operation sent and not waited for (module doc); gives the task's id."""
    stamp = now()
    context = {
        "provider": ems["name"],
        "ems_id": ems["id"],
        "collection": collection,
        "table": table,
        "operation": operation,
        "row_id": row["id"],
        "ems_ref": row.get(ref_column),
        "target": plain(row),
    }
    try:
        with engine.begin() as conn:
            task_id = conn.execute(
                OP_TASKS.insert().values(
                    name=name[:255],
                    state=TASK_ACTIVE,
                    status=OK,
                    message=f"{name}: sent, waiting for its end",
                    userid=userid,
                    pct_complete=0,
                    context_data=json.dumps(context, default=str),
                    identifier=f"{collection}/{row['id']}"[:255],
                    source_id=ems["id"],
                    started_on=stamp,
                    created_on=stamp,
                    updated_on=stamp,
                )
            ).inserted_primary_key[0]  # type: ignore[index]
    except sa.exc.SQLAlchemyError as exc:
        raise db_failed("recording the operation task", exc) from None
    return int(task_id)


def open_op_tasks(engine: sa.Engine, ems_id: int) -> list[OpTask]:
    """Provider ``ems_id``'s Active operation tasks, oldest first."""
    query = (
        sa.select(OP_TASKS)
        .where(OP_TASKS.c.source_id == ems_id, OP_TASKS.c.state == TASK_ACTIVE)
        .order_by(OP_TASKS.c.id)
    )
    try:
        with engine.connect() as conn:
            rows = [dict(r) for r in conn.execute(query).mappings()]
    except sa.exc.SQLAlchemyError as exc:
        raise db_failed("reading open operation tasks", exc) from None
    out = []
    for row in rows:
        context = json.loads(row["context_data"] or "{}")
        ref = context.get("ems_ref")
        out.append(
            OpTask(
                int(row["id"]),
                str(row["name"]),
                str(context.get("collection")),
                str(context.get("operation")),
                int(context.get("row_id") or 0),
                None if ref is None else str(ref),
                context.get("target") or {},
                row["created_on"],
            )
        )
    return out


def finish_op_task(engine: sa.Engine, task_id: int, status: str, message: str) -> None:
    """Task ``task_id`` Finished with ``status`` and ``message``."""
    try:
        with engine.begin() as conn:
            conn.execute(
                OP_TASKS.update()
                .where(OP_TASKS.c.id == task_id)
                .values(
                    state=TASK_FINISHED,
                    status=status,
                    message=message[:4000],
                    pct_complete=100,
                    updated_on=now(),
                )
            )
    except sa.exc.SQLAlchemyError as exc:
        raise db_failed("finishing the operation task", exc) from None


def op_task_rows(engine: sa.Engine, ems_id: int | None = None) -> list[dict[str, Any]]:
    """Operation tasks (newest first, at most ``LIST_MAX``), of provider ``ems_id`` or all."""
    query = sa.select(OP_TASKS).order_by(OP_TASKS.c.id.desc()).limit(LIST_MAX)
    if ems_id is not None:
        query = query.where(OP_TASKS.c.source_id == ems_id)
    try:
        with engine.connect() as conn:
            rows = [plain(dict(r)) for r in conn.execute(query).mappings()]
    except sa.exc.SQLAlchemyError as exc:
        raise db_failed("reading operation tasks", exc) from None
    for row in rows:
        row["context_data"] = json.loads(row["context_data"] or "{}")
    return rows
