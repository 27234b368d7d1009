"""Tags: ManageIQ's ``tags``, ``classifications``, ``taggings`` and ``provider_tag_mappings``.

``tags`` holds a tag's path name (``/managed/<category>`` or ``/managed/<category>/<entry>``,
unique); ``classifications`` a category (no ``parent_id``) or one of its entries
(``parent_id`` = the category's id), each with its ``tag_id``; ``taggings`` a tag on a row
(``taggable_type``: the row's base class, ``taggable_id``); ``provider_tag_mappings``
(ManageIQ's ProviderTagMapping) maps a provider label name, and optionally value, of one
resource type or of all (``labeled_resource_type`` null) to a tag. ``miqspec.persist``'s
``tag_tables`` describes the same tables.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
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
    op.create_table("tags", _id(), sa.Column("name", sa.Text()))
    op.create_index("index_tags_on_name", "tags", ["name"], unique=True)
    op.create_table(
        "classifications",
        _id(),
        sa.Column("description", sa.Text()),
        sa.Column("icon", sa.String(255)),
        sa.Column("read_only", sa.Boolean()),
        sa.Column("syntax", sa.String(255)),
        sa.Column("single_value", sa.Boolean()),
        sa.Column("example_text", sa.Text()),
        sa.Column("tag_id", sa.BigInteger()),
        sa.Column("parent_id", sa.BigInteger()),
        sa.Column("show", sa.Boolean()),
        sa.Column("default", sa.Boolean()),
        sa.Column("perf_by_tag", sa.Boolean()),
    )
    op.create_index("index_classifications_on_tag_id", "classifications", ["tag_id"])
    op.create_index("index_classifications_on_parent_id", "classifications", ["parent_id"])
    op.create_table(
        "taggings",
        _id(),
        sa.Column("taggable_id", sa.BigInteger()),
        sa.Column("tag_id", sa.BigInteger()),
        sa.Column("taggable_type", sa.String(255)),
    )
    op.create_index(
        "index_taggings_on_taggable_id_and_taggable_type",
        "taggings",
        ["taggable_id", "taggable_type"],
    )
    op.create_index("index_taggings_on_tag_id", "taggings", ["tag_id"])
    op.create_table(
        "provider_tag_mappings",
        _id(),
        sa.Column("labeled_resource_type", sa.String(255)),
        sa.Column("label_name", sa.String(255)),
        sa.Column("label_value", sa.String(255)),
        sa.Column("tag_id", sa.BigInteger()),
        sa.Column("created_at", sa.DateTime()),
        sa.Column("updated_at", sa.DateTime()),
    )
    op.create_index("index_provider_tag_mappings_on_tag_id", "provider_tag_mappings", ["tag_id"])


def downgrade() -> None:
    op.drop_table("provider_tag_mappings")
    op.drop_table("taggings")
    op.drop_table("classifications")
    op.drop_table("tags")
