"""Provisioning requests and their tasks, stored as ManageIQ stores them.

Takes: a database engine, the provider's manager row (id, name, type), the form values and
how many objects to make; later a task's id and what happened to it.
Gives: ``create_request`` (one ``miq_requests`` row, ``MiqProvisionRequest``, approved,
``pending``, options as JSON with the form values and ``src_ems_id``; one
``miq_request_tasks`` row per object, ``pending``, its options the values plus its own name
and index), ``update_task``, ``finish_request`` (the request's state and status from its
tasks: finished when every task is; Error when every task failed, Warn when some did, else
Ok; a message counting them) and ``request_rows`` (requests with their tasks, newest first,
of one provider or all).
Raises: ``DatabaseError``. Does database I/O.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from miqspec.operations.rows import db_failed, plain
from miqspec.operations.tables import ACTIVE, ERROR, FINISHED, OK, PENDING, REQUESTS, TASKS, WARN
from miqspec.store import now

REQUEST_TYPE = "MiqProvisionRequest"
LIST_MAX = 1000  # requests listed at most


def task_name(name: str, index: int, count: int) -> str:
    """ManageIQ's naming of several objects from one name: ``web_0001``, ``web_0002``..."""
    return name if count == 1 else f"{name}_{index + 1:04d}"


def create_request(
    engine: sa.Engine,
    ems: Mapping[str, Any],
    task_type: str,
    values: Mapping[str, Any],
    names: list[str],
    userid: str,
) -> tuple[int, list[int]]:
    """The request and its tasks (module doc); gives their ids."""
    stamp = now()
    count = len(names)
    options = {**values, "number_of_vms": count, "src_ems_id": ems["id"], "src_ems": ems["name"]}
    description = f"Provision {count} object(s) on {ems['name']}: {names[0]}" + (
        f" .. {names[-1]}" if count > 1 else ""
    )
    try:
        with engine.begin() as conn:
            request_id = conn.execute(
                REQUESTS.insert().values(
                    type=REQUEST_TYPE,
                    description=description[:255],
                    approval_state="approved",
                    request_type="template",
                    request_state=PENDING,
                    state=PENDING,
                    status=OK,
                    message="Pending",
                    options=json.dumps(options, default=str),
                    userid=userid,
                    requester_name=userid,
                    source_type="ExtManagementSystem",
                    source_id=ems["id"],
                    process=True,
                    created_on=stamp,
                    updated_on=stamp,
                )
            ).inserted_primary_key[0]  # type: ignore[index]
            task_ids = [
                conn.execute(
                    TASKS.insert().values(
                        type=task_type,
                        miq_request_id=request_id,
                        description=f"Provision {name}"[:255],
                        request_type="template",
                        state=PENDING,
                        status=OK,
                        message="Pending",
                        options=json.dumps(
                            {**options, "vm_name": name, "pass": i + 1}, default=str
                        ),
                        userid=userid,
                        source_type="ExtManagementSystem",
                        source_id=ems["id"],
                        destination_type="VmOrTemplate",
                        created_on=stamp,
                        updated_on=stamp,
                    )
                ).inserted_primary_key[0]  # type: ignore[index]
                for i, name in enumerate(names)
            ]
    except sa.exc.SQLAlchemyError as exc:
        raise db_failed("storing the provisioning request", exc) from None
    return int(request_id), [int(t) for t in task_ids]


def update_task(
    engine: sa.Engine, task_id: int, options: Mapping[str, Any] | None = None, **values: Any
) -> None:
    """Set columns of task ``task_id`` (``options`` merged into its JSON options)."""
    values["updated_on"] = now()
    if values.get("message"):
        values["message"] = str(values["message"])[:4000]
    try:
        with engine.begin() as conn:
            if options:
                old = conn.execute(sa.select(TASKS.c.options).where(TASKS.c.id == task_id)).scalar()
                merged = {**json.loads(old or "{}"), **options}
                values["options"] = json.dumps(merged, default=str)
            conn.execute(TASKS.update().where(TASKS.c.id == task_id).values(**values))
            if values.get("state") == ACTIVE:
                conn.execute(
                    REQUESTS.update()
                    .where(
                        REQUESTS.c.id
                        == sa.select(TASKS.c.miq_request_id)
                        .where(TASKS.c.id == task_id)
                        .scalar_subquery(),
                        REQUESTS.c.state == PENDING,
                    )
                    .values(state=ACTIVE, request_state=ACTIVE, message="In process")
                )
    except sa.exc.SQLAlchemyError as exc:
        raise db_failed("updating a provisioning task", exc) from None


def finish_request(engine: sa.Engine, request_id: int) -> dict[str, Any]:
    """The request's state, status and message from its tasks (module doc); gives them."""
    try:
        with engine.begin() as conn:
            tasks = conn.execute(
                sa.select(TASKS.c.state, TASKS.c.status).where(TASKS.c.miq_request_id == request_id)
            ).all()
            done = [t for t in tasks if t.state == FINISHED]
            failed = [t for t in done if t.status == ERROR]
            values: dict[str, Any] = {"updated_on": now()}
            if len(done) == len(tasks):
                ok = len(done) - len(failed)
                values.update(
                    state=FINISHED,
                    request_state=FINISHED,
                    fulfilled_on=values["updated_on"],
                    status=ERROR if failed and not ok else (WARN if failed else OK),
                    message=f"Provisioned {ok} of {len(tasks)}"
                    + (f"; {len(failed)} failed" if failed else ""),
                )
            else:
                values.update(
                    state=ACTIVE,
                    request_state=ACTIVE,
                    message=f"{len(done)} of {len(tasks)} task(s) finished",
                )
            conn.execute(REQUESTS.update().where(REQUESTS.c.id == request_id).values(**values))
    except sa.exc.SQLAlchemyError as exc:
        raise db_failed("updating the provisioning request", exc) from None
    return values


def request_rows(
    engine: sa.Engine, ems_id: int | None = None, request_id: int | None = None
) -> list[dict[str, Any]]:
    """Requests (newest first, at most ``LIST_MAX``), each with ``tasks`` (in id order) and
    ``options`` decoded; only provider ``ems_id``'s, or only ``request_id``."""
    query = sa.select(REQUESTS).order_by(REQUESTS.c.id.desc()).limit(LIST_MAX)
    if ems_id is not None:
        query = query.where(REQUESTS.c.source_id == ems_id)
    if request_id is not None:
        query = query.where(REQUESTS.c.id == request_id)
    try:
        with engine.connect() as conn:
            requests = [plain(dict(r)) for r in conn.execute(query).mappings()]
            ids = [r["id"] for r in requests]
            tasks = (
                [
                    plain(dict(t))
                    for t in conn.execute(
                        sa.select(TASKS).where(TASKS.c.miq_request_id.in_(ids)).order_by(TASKS.c.id)
                    ).mappings()
                ]
                if ids
                else []
            )
    except sa.exc.SQLAlchemyError as exc:
        raise db_failed("reading provisioning requests", exc) from None
    by_request: dict[int, list[dict[str, Any]]] = {}
    for task in tasks:
        task["options"] = json.loads(task["options"] or "{}")
        by_request.setdefault(task["miq_request_id"], []).append(task)
    for request in requests:
        request["options"] = json.loads(request["options"] or "{}")
        request["tasks"] = by_request.get(request["id"], [])
    return requests
