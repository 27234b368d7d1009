"""The tables of requests and operations as SQLAlchemy Core sees them (migration 0007 makes them).

Takes: nothing. Gives: ``METADATA`` with ``REQUESTS`` (``miq_requests``), ``TASKS``
(``miq_request_tasks``), ``LOCKS`` (``miqspec_operation_locks``) and ``OP_TASKS``
(``miq_tasks``, migration 0010), and ManageIQ's words for their states (``PENDING``,
``ACTIVE``, ``FINISHED``; statuses ``OK``, ``ERROR``, ``WARN``; ``miq_tasks``:
``TASK_ACTIVE``, ``TASK_FINISHED``).
Raises nothing; no I/O.
"""

from __future__ import annotations

import sqlalchemy as sa

PENDING, ACTIVE, FINISHED = "pending", "active", "finished"
OK, ERROR, WARN = "Ok", "Error", "Warn"
TASK_ACTIVE, TASK_FINISHED = "Active", "Finished"  # MiqTask's states (miq_tasks)

METADATA = sa.MetaData()


def _id() -> sa.Column[int]:
    return sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True)


def _common() -> list[sa.Column[object]]:
    return [
        sa.Column("type", sa.String(255)),
        sa.Column("description", sa.String(255)),
        sa.Column("state", sa.String(255)),
        sa.Column("status", sa.String(255)),
        sa.Column("message", sa.Text()),
        sa.Column("options", sa.Text()),
        sa.Column("userid", sa.String(255)),
        sa.Column("source_id", sa.BigInteger()),
        sa.Column("source_type", sa.String(255)),
        sa.Column("destination_id", sa.BigInteger()),
        sa.Column("destination_type", sa.String(255)),
        sa.Column("created_on", sa.DateTime()),
        sa.Column("updated_on", sa.DateTime()),
    ]


REQUESTS = sa.Table(
    "miq_requests",
    METADATA,
    _id(),
    *_common(),
    sa.Column("approval_state", sa.String(255)),
    sa.Column("request_type", sa.String(255)),
    sa.Column("request_state", sa.String(255)),
    sa.Column("fulfilled_on", sa.DateTime()),
    sa.Column("requester_name", sa.String(255)),
    sa.Column("process", sa.Boolean()),
)
TASKS = sa.Table(
    "miq_request_tasks",
    METADATA,
    _id(),
    *_common(),
    sa.Column("miq_request_id", sa.BigInteger()),
    sa.Column("miq_request_task_id", sa.BigInteger()),
    sa.Column("request_type", sa.String(255)),
    sa.Column("phase", sa.String(255)),
)
LOCKS = sa.Table(
    "miqspec_operation_locks",
    METADATA,
    _id(),
    sa.Column("resource_type", sa.String(255), nullable=False),
    sa.Column("resource_id", sa.BigInteger(), nullable=False),
    sa.Column("operation", sa.String(255)),
    sa.Column("holder", sa.String(255)),
    sa.Column("acquired_at", sa.DateTime()),
    sa.Column("expires_at", sa.DateTime()),
)
OP_TASKS = sa.Table(
    "miq_tasks",
    METADATA,
    _id(),
    sa.Column("name", sa.String(255)),
    sa.Column("state", sa.String(255)),
    sa.Column("status", sa.String(255)),
    sa.Column("message", sa.Text()),
    sa.Column("userid", sa.String(255)),
    sa.Column("pct_complete", sa.Integer()),
    sa.Column("context_data", sa.Text()),
    sa.Column("results", sa.Text()),
    sa.Column("miq_server_id", sa.BigInteger()),
    sa.Column("identifier", sa.String(255)),
    sa.Column("started_on", sa.DateTime()),
    sa.Column("zone", sa.String(255)),
    sa.Column("source_id", sa.BigInteger()),
    sa.Column("created_on", sa.DateTime()),
    sa.Column("updated_on", sa.DateTime()),
)
