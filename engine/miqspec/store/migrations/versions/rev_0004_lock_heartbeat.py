"""Refresh lock heartbeats: ``miqspec_refresh_locks.heartbeat_at`` (store.lock_row).

Revision 0001 builds miqspec's core tables from the code, so databases created since lock
heartbeats exist have the column already; this revision adds it to older ones.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TABLE = "miqspec_refresh_locks"
COLUMN = "heartbeat_at"


def _has_column() -> bool:
    columns = sa.inspect(op.get_bind()).get_columns(TABLE)
    return any(c["name"] == COLUMN for c in columns)


def upgrade() -> None:
    if not _has_column():
        op.add_column(TABLE, sa.Column(COLUMN, sa.DateTime(), nullable=True))


def downgrade() -> None:
    if _has_column():
        with op.batch_alter_table(TABLE) as batch:
            batch.drop_column(COLUMN)
