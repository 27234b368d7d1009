"""Record maps: ``miqspec_record_maps`` (per manager, collection and kind, packed record or page
digests of the last refresh; ``persist.fast``).

Revision 0001 builds miqspec's core tables from the code, so databases created since record
carry exists have the table already; this revision adds it to older ones.

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

TABLE = "miqspec_record_maps"
INDEX = "ix_miqspec_record_maps_ems_id_collection"


def upgrade() -> None:
    if sa.inspect(op.get_bind()).has_table(TABLE):
        return
    op.create_table(
        TABLE,
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("ems_id", sa.BigInteger(), nullable=True),
        sa.Column("collection", sa.String(), nullable=True),
        sa.Column("kind", sa.String(), nullable=True),
        sa.Column("fingerprint", sa.String(), nullable=True),
        sa.Column("data", sa.LargeBinary(), nullable=True),
    )
    op.create_index(INDEX, TABLE, ["ems_id", "collection"])


def downgrade() -> None:
    if sa.inspect(op.get_bind()).has_table(TABLE):
        op.drop_index(INDEX, table_name=TABLE)
        op.drop_table(TABLE)
