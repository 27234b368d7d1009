"""Tags at refresh: provider labels -> ManageIQ tags and taggings, through the stored mappings.

Takes: the refresh's connection (inside its transaction), the catalogue, the labels parse kept
(``ParsedInventory.labels``: collection -> manager_ref -> (name, value) pairs), the row id of
each object saved (the resolver's ids, by ``mem_key``) and ``dry_run``.
Gives: ``save_tags`` -> counts (``added``, ``removed`` taggings, ``entries`` created);
``delete_taggings`` (the taggings of deleted rows, for a provider's deletion).
Raises: SQLAlchemy errors (the persister's caller turns them into ``DatabaseError``). Does
database I/O: one read of the mappings, one of the controlled categories' entries, one of the
labeled rows' taggings per collection, then the inserts and deletes.

ManageIQ's rules (ProviderTagMapping): a label (name, value) of a row of model class ``T``
is looked up twice, among the mappings of ``T`` and among those of every type
(``labeled_resource_type`` null), independently. In each, mappings of that exact value win;
else mappings of the name with any value (``label_value`` null) give the entry of the
mapping's category named ``sanitize_name(value)`` (described by the value), created when
absent; an empty value maps to nothing. A row's taggings in the categories the mappings
control are made to equal what its labels give now (a label gone, its tagging goes); its
other taggings (assigned by hand, other categories) are left alone. Only rows of objects
parsed in this refresh are touched, and the taggings of rows this refresh deleted go
(ManageIQ's ``dependent: :destroy``); a spec without ``tags:`` costs nothing here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from miqspec.persist.tag_tables import (
    CLASSIFICATIONS,
    PROVIDER_TAG_MAPPINGS,
    TAGGINGS,
    TAGS,
    entry_tag_name,
    sanitize_name,
)
from miqspec.persist.values import mem_key, poly_type
from miqspec.spec import Catalogue

Labels = Mapping[tuple[Any, ...], tuple[tuple[str, str], ...]]
#: (type or None, label name, label value or None) -> tag ids of the mappings
Rules = dict[tuple[str | None, str, str | None], list[int]]


def save_tags(
    conn: sa.Connection,
    catalogue: Catalogue,
    labels: Mapping[str, Labels],
    ids: Mapping[str, Mapping[tuple[Any, ...], int]],
    dry_run: bool,
) -> dict[str, int]:
    """Apply the stored mappings to the labels of every labeled collection (module docstring)."""
    counts = {"added": 0, "removed": 0, "entries": 0}
    if not labels:
        return counts
    tagger = Tagger(conn, dry_run, counts)
    if not tagger.rules:
        return counts
    for name, by_ref in labels.items():
        cdef = catalogue.collections[name]
        rows = ids.get(name, {})
        wanted: dict[int, set[int]] = {}
        for ref, pairs in by_ref.items():
            rid = rows.get(mem_key(ref))
            if rid is not None:
                wanted.setdefault(rid, set()).update(tagger.tags_of(cdef.model_class, pairs))
        tagger.apply(poly_type(cdef), wanted)
        tagger.orphans(poly_type(cdef), cdef.table)
    return counts


class Tagger:
    """The mappings, the controlled categories' tags, and the writes of one refresh."""

    def __init__(self, conn: sa.Connection, dry_run: bool, counts: dict[str, int]) -> None:
        self.conn, self.dry_run, self.counts = conn, dry_run, counts
        self.rules: Rules = {}
        for row in conn.execute(
            sa.select(
                PROVIDER_TAG_MAPPINGS.c.labeled_resource_type,
                PROVIDER_TAG_MAPPINGS.c.label_name,
                PROVIDER_TAG_MAPPINGS.c.label_value,
                PROVIDER_TAG_MAPPINGS.c.tag_id,
            ).order_by(PROVIDER_TAG_MAPPINGS.c.id)
        ):
            self.rules.setdefault((row[0], row[1], row[2]), []).append(row[3])
        if not self.rules:
            return
        # categories: tag id -> (classification id, category name); entries: name -> tag id
        c, t = CLASSIFICATIONS, TAGS
        self.categories: dict[int, tuple[int, str]] = {}
        self.entries: dict[str, int] = {}
        entry_parent: dict[int, int] = {}  # entry tag id -> its category's classification id
        for cid, tid, tname, parent in conn.execute(
            sa.select(c.c.id, c.c.tag_id, t.c.name, c.c.parent_id).join(t, t.c.id == c.c.tag_id)
        ):
            if parent is None:
                self.categories[tid] = (cid, tname.rsplit("/", 1)[-1])
            else:
                self.entries[tname] = tid
                entry_parent[tid] = parent
        # the categories the mappings control: a category mapped, or an entry's category
        cats = {
            self.categories[tid][0] if tid in self.categories else entry_parent.get(tid)
            for tids in self.rules.values()
            for tid in tids
        }
        #: every tag whose taggings the mappings control: their categories' entries
        self.controlled = {tid for tid, parent in entry_parent.items() if parent in cats}

    def tags_of(self, type_name: str, pairs: Iterable[tuple[str, str]]) -> set[int]:
        """The tag ids the labels ``pairs`` of a row of ``type_name`` map to."""
        found: set[int] = set()
        for name, value in pairs:
            for scope in (type_name, None):
                specific = self.rules.get((scope, name, value))
                if specific:
                    found.update(specific)
                    continue
                if value == "":
                    continue  # an empty value maps to no tag
                for tid in self.rules.get((scope, name, None), ()):
                    found.add(self.entry(tid, value))
        return found

    def entry(self, category_tag: int, value: str) -> int:
        """The tag of the entry for ``value`` in the category whose tag is ``category_tag``
        (created, classification and tag, when absent)."""
        cid, cname = self.categories[category_tag]
        tname = entry_tag_name(cname, sanitize_name(value))
        tid = self.entries.get(tname)
        if tid is not None:
            return tid
        if self.dry_run:  # an entry this refresh would create: a stand-in id
            tid = self.entries[tname] = -1 - len(self.entries)
            self.controlled.add(tid)
            self.counts["entries"] += 1
            return tid
        tid = insert_id(self.conn, TAGS, {"name": tname})
        insert_id(
            self.conn,
            CLASSIFICATIONS,
            {"description": value, "tag_id": tid, "parent_id": cid, "read_only": True},
        )
        self.entries[tname] = tid
        self.controlled.add(tid)
        self.counts["entries"] += 1
        return tid

    def apply(self, taggable_type: str, wanted: dict[int, set[int]]) -> None:
        """Make the controlled taggings of the rows of ``wanted`` equal its tag ids."""
        if not wanted:
            return
        g = TAGGINGS
        have: dict[int, dict[int, int]] = {}  # row -> tag -> tagging id
        for gid, rid, tid in self.conn.execute(
            sa.select(g.c.id, g.c.taggable_id, g.c.tag_id).where(g.c.taggable_type == taggable_type)
        ):
            if rid in wanted and tid in self.controlled:
                have.setdefault(rid, {})[tid] = gid
        add = [
            {"taggable_id": rid, "tag_id": tid, "taggable_type": taggable_type}
            for rid, tids in wanted.items()
            for tid in sorted(tids - set(have.get(rid, {})))
        ]
        gone = [
            gid for rid, tags in have.items() for tid, gid in tags.items() if tid not in wanted[rid]
        ]
        self.counts["added"] += len(add)
        self.counts["removed"] += len(gone)
        if self.dry_run:
            return
        if add:
            self.conn.execute(g.insert(), add)
        for start in range(0, len(gone), 500):
            self.conn.execute(g.delete().where(g.c.id.in_(gone[start : start + 500])))

    def orphans(self, taggable_type: str, table: str) -> None:
        """Delete the taggings of ``taggable_type`` rows gone from ``table`` (a row deleted
        takes its taggings with it, ManageIQ's ``dependent: :destroy``)."""
        g = TAGGINGS
        ids = sa.select(sa.table(table, sa.column("id")).c.id).scalar_subquery()
        where = sa.and_(g.c.taggable_type == taggable_type, g.c.taggable_id.not_in(ids))
        if self.dry_run:
            found = self.conn.execute(sa.select(sa.func.count()).select_from(g).where(where))
            self.counts["removed"] += int(found.scalar() or 0)
            return
        self.counts["removed"] += self.conn.execute(g.delete().where(where)).rowcount


def delete_taggings(
    conn: sa.Connection, catalogue: Catalogue, gone: Mapping[str, Sequence[int]]
) -> int:
    """Delete the taggings of the rows ``gone`` names (table -> deleted row ids), as a
    provider's deletion does (ManageIQ's ``dependent: :destroy``); how many went."""
    g, removed = TAGGINGS, 0
    types = {(cdef.table, poly_type(cdef)) for cdef in catalogue.collections.values()}
    for table, taggable_type in sorted(types):
        ids = list(gone.get(table, ()))
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            where = sa.and_(g.c.taggable_type == taggable_type, g.c.taggable_id.in_(chunk))
            removed += conn.execute(g.delete().where(where)).rowcount
    return removed


def insert_id(conn: sa.Connection, table: sa.Table, row: dict[str, Any]) -> int:
    """Insert ``row`` into ``table``; its new id."""
    key = conn.execute(table.insert().values(**row)).inserted_primary_key
    assert key is not None
    return int(key[0])
