"""Row digests: ``miqspec_digests`` (per manager and collection, packed row id/digest pairs).

Revision 0001 builds miqspec's core tables from the code, so databases created since
persist.fast stores row digests have the table already; this revision adds it to older ones.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TABLE = "miqspec_digests"
INDEX = "ix_miqspec_digests_ems_id_collection"


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
        sa.Column("fingerprint", sa.String(), nullable=True),
        sa.Column("digests", sa.Text(), nullable=True),
    )
    op.create_index(INDEX, TABLE, ["ems_id", "collection"])


def downgrade() -> None:
    if sa.inspect(op.get_bind()).has_table(TABLE):
        op.drop_index(INDEX, table_name=TABLE)
        op.drop_table(TABLE)
