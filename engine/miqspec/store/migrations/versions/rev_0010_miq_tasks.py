"""Operation tasks: ``miq_tasks``, ManageIQ's record of one operation run on one object.

An operation started without waiting for its end (``miqspec vm start ...``) is one row, as
ManageIQ's API records ``MiqTask`` for a queued ``raw_start``: ``name``, ``state`` (Active,
Finished), ``status`` (Ok, Error), ``message``, ``userid``, ``identifier`` (the object:
``vms/<row id>``), ``context_data`` (JSON: provider, collection, operation, the row as it was
when the operation was sent), ``results``, ``pct_complete``, ``started_on``,
``created_on``/``updated_on``, ``miq_server_id`` and ``zone`` (ManageIQ's, left empty),
``source_id`` (the provider's manager row; miqspec's, to find a provider's open tasks). The
worker (and ``miqspec requests --follow``) finishes it. ``miqspec.operations.tables``
describes the same table.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "miq_tasks",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
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
    op.create_index("ix_miq_tasks_state_source", "miq_tasks", ["state", "source_id"])


def downgrade() -> None:
    op.drop_index("ix_miq_tasks_state_source", table_name="miq_tasks")
    op.drop_table("miq_tasks")
