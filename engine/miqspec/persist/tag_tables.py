"""ManageIQ's tag tables as SQLAlchemy Core sees them (migration 0009 creates them).

Takes: nothing. Gives: ``TAG_METADATA`` with ``TAGS`` (``tags``: a tag's path name such as
``/managed/environment/prod``), ``CLASSIFICATIONS`` (``classifications``: a category, with no
``parent_id``, and its entries, whose ``parent_id`` is the category's id; each row's
``tag_id`` is its tag), ``TAGGINGS`` (``taggings``: a tag on a row, polymorphic
``taggable_type``/``taggable_id``) and ``PROVIDER_TAG_MAPPINGS`` (``provider_tag_mappings``,
ManageIQ's ProviderTagMapping, once ContainerLabelTagMapping: a provider label name, and
optionally its value, of one resource type or of every type (``labeled_resource_type`` null)
mapped to a tag: a category's tag (any value: an entry per value) or an entry's);
``MANAGED`` (the tag name prefix), ``sanitize_name`` (ManageIQ's
``Classification.sanitize_name``), ``category_tag_name``/``entry_tag_name``. Raises
nothing; no I/O.
"""

from __future__ import annotations

import re

import sqlalchemy as sa

TAG_METADATA = sa.MetaData()
MANAGED = "/managed/"


def _id() -> sa.Column[int]:
    return sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True)


TAGS = sa.Table(
    "tags",
    TAG_METADATA,
    _id(),
    sa.Column("name", sa.Text()),
    sa.Index("index_tags_on_name", "name", unique=True),
)

CLASSIFICATIONS = sa.Table(
    "classifications",
    TAG_METADATA,
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
    sa.Index("index_classifications_on_tag_id", "tag_id"),
    sa.Index("index_classifications_on_parent_id", "parent_id"),
)

TAGGINGS = sa.Table(
    "taggings",
    TAG_METADATA,
    _id(),
    sa.Column("taggable_id", sa.BigInteger()),
    sa.Column("tag_id", sa.BigInteger()),
    sa.Column("taggable_type", sa.String(255)),
    sa.Index("index_taggings_on_taggable_id_and_taggable_type", "taggable_id", "taggable_type"),
    sa.Index("index_taggings_on_tag_id", "tag_id"),
)

PROVIDER_TAG_MAPPINGS = sa.Table(
    "provider_tag_mappings",
    TAG_METADATA,
    _id(),
    sa.Column("labeled_resource_type", sa.String(255)),
    sa.Column("label_name", sa.String(255)),
    sa.Column("label_value", sa.String(255)),
    sa.Column("tag_id", sa.BigInteger()),
    sa.Column("created_at", sa.DateTime()),
    sa.Column("updated_at", sa.DateTime()),
    sa.Index("index_provider_tag_mappings_on_tag_id", "tag_id"),
)

_UNSAFE = re.compile(r"[^a-z0-9_:]")


def sanitize_name(name: str) -> str:
    """ManageIQ's ``Classification.sanitize_name``: lower case, every character other than
    a-z, 0-9, ``_`` and ``:`` becomes ``_`` (a label value ``Prod-1`` is entry ``prod_1``)."""
    return _UNSAFE.sub("_", name.lower())


def category_tag_name(category: str) -> str:
    """``/managed/<category>``."""
    return MANAGED + category


def entry_tag_name(category: str, entry: str) -> str:
    """``/managed/<category>/<entry>``."""
    return f"{MANAGED}{category}/{entry}"
