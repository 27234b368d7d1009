"""Events: ``event_streams`` (ManageIQ's EmsEvent rows) and ``miqspec_event_cursors``.

``event_streams`` keeps ManageIQ's columns (event_type, source, timestamp, message,
full_data, ems_ref, chain_id, is_task, username, ems_id, the vm/host/availability-zone links
and their names, target_type/target_id, generating_ems_id, created_on; ``type`` is
"EmsEvent"), indexed on (ems_id, timestamp) and vm_or_template_id. ``miqspec_event_cursors``
holds, per provider, where its event stream was read up to (``cursor``, JSON) and the
stream's last poll, success and failure. ``miqspec.store.event_tables`` describes the same
tables.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def _id() -> sa.Column[int]:
    return sa.Column(
        "id",
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
        primary_key=True,
        autoincrement=True,
    )


def upgrade() -> None:
    op.create_table(
        "event_streams",
        _id(),
        sa.Column("type", sa.String(255)),
        sa.Column("event_type", sa.String(255)),
        sa.Column("source", sa.String(255)),
        sa.Column("timestamp", sa.DateTime()),
        sa.Column("message", sa.Text()),
        sa.Column("full_data", sa.Text()),
        sa.Column("ems_ref", sa.String(255)),
        sa.Column("chain_id", sa.BigInteger()),
        sa.Column("is_task", sa.Boolean()),
        sa.Column("username", sa.String(255)),
        sa.Column("ems_id", sa.BigInteger()),
        sa.Column("vm_or_template_id", sa.BigInteger()),
        sa.Column("vm_name", sa.String(255)),
        sa.Column("vm_location", sa.String(255)),
        sa.Column("vm_ems_ref", sa.String(255)),
        sa.Column("host_id", sa.BigInteger()),
        sa.Column("host_name", sa.String(255)),
        sa.Column("host_ems_ref", sa.String(255)),
        sa.Column("availability_zone_id", sa.BigInteger()),
        sa.Column("target_type", sa.String(255)),
        sa.Column("target_id", sa.BigInteger()),
        sa.Column("generating_ems_id", sa.BigInteger()),
        sa.Column("created_on", sa.DateTime()),
    )
    op.create_index("ix_event_streams_ems_id_timestamp", "event_streams", ["ems_id", "timestamp"])
    op.create_index("ix_event_streams_vm_or_template_id", "event_streams", ["vm_or_template_id"])
    op.create_table(
        "miqspec_event_cursors",
        _id(),
        sa.Column("ems_id", sa.BigInteger(), nullable=False, unique=True),
        sa.Column("cursor", sa.Text()),
        sa.Column("last_poll_date", sa.DateTime()),
        sa.Column("last_success_date", sa.DateTime()),
        sa.Column("last_event_error", sa.Text()),
        sa.Column("last_event_error_date", sa.DateTime()),
        sa.Column("events_stored", sa.BigInteger()),
    )


def downgrade() -> None:
    op.drop_table("miqspec_event_cursors")
    op.drop_index("ix_event_streams_vm_or_template_id", table_name="event_streams")
    op.drop_index("ix_event_streams_ems_id_timestamp", table_name="event_streams")
    op.drop_table("event_streams")
