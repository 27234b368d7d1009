"""Provider tag mappings: which provider labels become which ManageIQ tags (ProviderTagMapping).

Takes: an engine and what the user asks for: a label name, optionally its value, the resource
type it applies to (a model class such as ``ContainerNode`` or ``Vm``; none: every type) and
the category (and, for a value, the entry) it maps to.
Gives: ``TagMapping`` (one mapping as listed), ``add_tag_mapping`` (the category's
``classifications`` and ``tags`` rows made when absent, ``/managed/<category>``, and for a
value its entry, ``/managed/<category>/<entry>``), ``list_tag_mappings``,
``delete_tag_mapping`` (taggings already made stay until a refresh of the labels replaces
them; the category and its entries stay). A refresh applies the mappings
(``miqspec.persist``'s ``save_tags``).
Raises: ``UsageError`` (exit 2: a category or entry name ManageIQ would change, a label
mapped twice), ``NotFoundError`` (exit 10: no mapping with that id), ``DatabaseError`` (exit 7).
Does database I/O, one transaction per call.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from miqspec.errors import DatabaseError, NotFoundError, UsageError
from miqspec.persist import (
    CLASSIFICATIONS,
    PROVIDER_TAG_MAPPINGS,
    TAGS,
    category_tag_name,
    entry_tag_name,
    sanitize_name,
)
from miqspec.store.clock import now


@dataclass(frozen=True)
class TagMapping:
    """One mapping: ``resource_type`` None is every type, ``label_value`` None any value (an
    entry per value, named after it); ``tag`` is the tag it maps to."""

    id: int
    resource_type: str | None
    label_name: str
    label_value: str | None
    tag: str


def add_tag_mapping(
    engine: sa.Engine,
    label_name: str,
    category: str,
    *,
    resource_type: str | None = None,
    label_value: str | None = None,
    entry: str | None = None,
    description: str | None = None,
) -> TagMapping:
    """Map ``label_name`` (of ``resource_type``, or of every type) to ``category``: with
    ``label_value``, that value to the category's ``entry`` (default: the value, sanitized);
    without, any value to an entry named after it. ``description``: the category's, when
    this makes it (default: the label name)."""
    _check_name(category, "category")
    if label_value is not None:
        entry = entry or sanitize_name(label_value)
        _check_name(entry, "entry")
    elif entry is not None:
        raise UsageError("an entry is chosen only for one label value (give the value too)")
    try:
        with engine.begin() as conn:
            m = PROVIDER_TAG_MAPPINGS
            same = conn.execute(
                sa.select(m.c.id).where(
                    _is(m.c.labeled_resource_type, resource_type),
                    m.c.label_name == label_name,
                    _is(m.c.label_value, label_value),
                )
            ).first()
            if same is not None:
                raise UsageError(
                    f"label {_label(label_name, label_value)} of {resource_type or 'every type'}"
                    f" is mapped already (mapping {same[0]})"
                )
            cat_tag, cat_id = _find_or_make(
                conn, category_tag_name(category), None, description or label_name
            )
            tag_id, tag = cat_tag, category_tag_name(category)
            if label_value is not None and entry is not None:
                tag = entry_tag_name(category, entry)
                tag_id, _ = _find_or_make(conn, tag, cat_id, label_value)
            stamp = now()
            key = conn.execute(
                m.insert().values(
                    labeled_resource_type=resource_type,
                    label_name=label_name,
                    label_value=label_value,
                    tag_id=tag_id,
                    created_at=stamp,
                    updated_at=stamp,
                )
            ).inserted_primary_key
    except sa.exc.SQLAlchemyError as exc:
        raise DatabaseError(f"cannot add the tag mapping: {type(exc).__name__}") from exc
    assert key is not None
    return TagMapping(int(key[0]), resource_type, label_name, label_value, tag)


def list_tag_mappings(engine: sa.Engine) -> list[TagMapping]:
    """Every mapping, oldest first."""
    m, t = PROVIDER_TAG_MAPPINGS, TAGS
    query = (
        sa.select(m.c.id, m.c.labeled_resource_type, m.c.label_name, m.c.label_value, t.c.name)
        .join(t, t.c.id == m.c.tag_id, isouter=True)
        .order_by(m.c.id)
    )
    try:
        with engine.connect() as conn:
            return [
                TagMapping(int(r[0]), r[1], r[2], r[3], r[4] or "") for r in conn.execute(query)
            ]
    except sa.exc.SQLAlchemyError as exc:
        raise DatabaseError(f"cannot read the tag mappings: {type(exc).__name__}") from exc


def delete_tag_mapping(engine: sa.Engine, mapping_id: int) -> TagMapping:
    """Delete mapping ``mapping_id``; the mapping it was."""
    found = [m for m in list_tag_mappings(engine) if m.id == mapping_id]
    if not found:
        raise NotFoundError(f"no tag mapping {mapping_id} (miqspec tags list shows them)")
    m = PROVIDER_TAG_MAPPINGS
    try:
        with engine.begin() as conn:
            conn.execute(m.delete().where(m.c.id == mapping_id))
    except sa.exc.SQLAlchemyError as exc:
        raise DatabaseError(f"cannot delete the tag mapping: {type(exc).__name__}") from exc
    return found[0]


def _check_name(name: str, what: str) -> None:
    if not name or sanitize_name(name) != name:
        raise UsageError(
            f"{what} name {name!r}: use lower case letters, digits, '_' and ':' "
            f"(e.g. {sanitize_name(name) or 'environment'!r})"
        )


def _label(name: str, value: str | None) -> str:
    return repr(name) if value is None else f"{name}={value}"


def _is(column: sa.ColumnElement[str], value: str | None) -> sa.ColumnElement[bool]:
    return column.is_(None) if value is None else column == value


def _find_or_make(
    conn: sa.Connection, name: str, parent: int | None, description: str
) -> tuple[int, int]:
    """(tag id, classification id) of the category (``parent`` None) or entry ``name``,
    made when absent."""
    c, t = CLASSIFICATIONS, TAGS
    row = conn.execute(
        sa.select(t.c.id, c.c.id)
        .join(c, c.c.tag_id == t.c.id, isouter=True)
        .where(t.c.name == name)
    ).first()
    if row is not None and row[1] is not None:
        return int(row[0]), int(row[1])
    tag_id = int(row[0]) if row is not None else _insert(conn, t, {"name": name})
    is_category = parent is None
    cls_id = _insert(
        conn,
        c,
        {
            "description": description,
            "tag_id": tag_id,
            "parent_id": parent,
            "read_only": True,
            "syntax": "string" if is_category else None,
            "single_value": True if is_category else None,
            "show": True if is_category else None,
            "default": False if is_category else None,
        },
    )
    return tag_id, cls_id


def _insert(conn: sa.Connection, table: sa.Table, row: dict[str, object]) -> int:
    key = conn.execute(table.insert().values(**row)).inserted_primary_key
    assert key is not None
    return int(key[0])
