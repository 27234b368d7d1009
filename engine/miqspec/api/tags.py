"""Provider tag mappings in the public API: which provider labels become which tags.

Takes: an open ``Database`` and the mapping's parts (see ``add_tag_mapping``). Gives:
``TagMapping`` rows; ``add_tag_mapping``, ``list_tag_mappings``, ``delete_tag_mapping``.
Raises: ``UsageError`` (exit 2: a category or entry name ManageIQ would change, a label mapped
twice), ``NotFoundError`` (exit 10), ``DatabaseError`` (exit 7). Does database I/O. A refresh
of a spec whose collections say ``tags: {from: ...}`` applies the mappings (docs/cli.md, Tags).
Re-exported by ``miqspec.api``.
"""

from __future__ import annotations

from miqspec import store
from miqspec.store import TagMapping

from .database import Database

__all__ = ["TagMapping", "add_tag_mapping", "delete_tag_mapping", "list_tag_mappings"]


def add_tag_mapping(
    db: Database,
    label_name: str,
    category: str,
    *,
    resource_type: str | None = None,
    label_value: str | None = None,
    entry: str | None = None,
    description: str | None = None,
) -> TagMapping:
    """Map provider label ``label_name`` of ``resource_type`` (a model class such as
    ``ContainerNode``; None: every type) to tag category ``category`` (made when absent,
    described by ``description``, default the label name): any value to an entry named
    after the value, or, with ``label_value``, that value to the entry ``entry`` (default:
    the value, sanitized)."""
    return store.add_tag_mapping(
        db.engine,
        label_name,
        category,
        resource_type=resource_type,
        label_value=label_value,
        entry=entry,
        description=description,
    )


def list_tag_mappings(db: Database) -> list[TagMapping]:
    """Every tag mapping, oldest first."""
    return store.list_tag_mappings(db.engine)


def delete_tag_mapping(db: Database, mapping_id: int) -> TagMapping:
    """Delete tag mapping ``mapping_id`` (its taggings go at the next refresh of the labels
    only if another mapping controls their category); the mapping deleted."""
    return store.delete_tag_mapping(db.engine, mapping_id)
