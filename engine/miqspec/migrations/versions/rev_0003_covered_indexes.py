"""Drop indexes another index covers: ``ix_vms_ems_id`` beside ``ix_vms_ems_id_ems_ref``.

Tables built since ``tables.covering`` exists never get them; this revision removes them from
older databases. Only miqspec's own non-unique ``ix_*`` indexes whose columns begin another
index of the same table are dropped (that index serves the same lookups). Downgrade keeps the
schema as it is: the dropped indexes only cost writes.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    for table in inspector.get_table_names():
        indexes = inspector.get_indexes(table)
        columns = [tuple(ix["column_names"]) for ix in indexes]
        for ix in indexes:
            name, cols = ix["name"], tuple(ix["column_names"])
            if ix["unique"] or not name or not name.startswith("ix_"):
                continue
            if any(len(o) > len(cols) and o[: len(cols)] == cols for o in columns):
                op.drop_index(name, table_name=table)


def downgrade() -> None:
    pass
