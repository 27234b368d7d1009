"""Requests and operations: ``miq_requests``, ``miq_request_tasks``, ``miqspec_operation_locks``.

``miq_requests`` and ``miq_request_tasks`` keep ManageIQ's columns (type, description,
approval_state, request_type, request_state/state, status, message, options as JSON text,
userid, source and destination links, created_on/updated_on/fulfilled_on; a task belongs to
its request by ``miq_request_id``): a provisioning request is one row, each object it makes a
task whose ``destination_id`` is the new vm row once it is in the inventory.
``miqspec_operation_locks`` holds one row per object an operation runs on (unique resource),
so two operations on the same VM are never interleaved; ``expires_at`` lets a lock left by a
dead process be taken over. ``miqspec.operations.tables`` describes the same tables.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def _id() -> sa.Column[int]:
    return sa.Column(
        "id",
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
        primary_key=True,
        autoincrement=True,
    )


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


def upgrade() -> None:
    op.create_table(
        "miq_requests",
        _id(),
        *_common(),
        sa.Column("approval_state", sa.String(255)),
        sa.Column("request_type", sa.String(255)),
        sa.Column("request_state", sa.String(255)),
        sa.Column("fulfilled_on", sa.DateTime()),
        sa.Column("requester_name", sa.String(255)),
        sa.Column("process", sa.Boolean()),
    )
    op.create_index("ix_miq_requests_state", "miq_requests", ["request_state"])
    op.create_table(
        "miq_request_tasks",
        _id(),
        *_common(),
        sa.Column("miq_request_id", sa.BigInteger()),
        sa.Column("miq_request_task_id", sa.BigInteger()),
        sa.Column("request_type", sa.String(255)),
        sa.Column("phase", sa.String(255)),
    )
    op.create_index("ix_miq_request_tasks_miq_request_id", "miq_request_tasks", ["miq_request_id"])
    op.create_table(
        "miqspec_operation_locks",
        _id(),
        sa.Column("resource_type", sa.String(255), nullable=False),
        sa.Column("resource_id", sa.BigInteger(), nullable=False),
        sa.Column("operation", sa.String(255)),
        sa.Column("holder", sa.String(255)),
        sa.Column("acquired_at", sa.DateTime()),
        sa.Column("expires_at", sa.DateTime()),
        sa.UniqueConstraint("resource_type", "resource_id", name="uq_operation_locks_resource"),
    )


def downgrade() -> None:
    op.drop_table("miqspec_operation_locks")
    op.drop_index("ix_miq_request_tasks_miq_request_id", table_name="miq_request_tasks")
    op.drop_table("miq_request_tasks")
    op.drop_index("ix_miq_requests_state", table_name="miq_requests")
    op.drop_table("miq_requests")
