"""The tables of a spec's own ``models``: built from its catalogue, and made to exist.

Takes: a ``Spec`` (its catalogue extended by ``models``) and, for ``ensure_model_tables``, a
database engine.
Gives: ``spec_tables(spec)``: the shipped catalogue's cached tables when the spec declares no
models, else tables built from its catalogue (no I/O; what ``miqspec inventory`` reads with);
``model_changes(md)``: the tables the spec's models add or widen against the shipped ones;
``ensure_model_tables(engine, tables)``: each table created when missing (with its indexes),
each column it lacks added (``ALTER TABLE ... ADD COLUMN``, with the indexes over it), in one
transaction, tried twice (another refresh of the spec may race it). So a model overriding a
catalogue collection may add columns to its table, two models may share one new table (told
apart by a ``type`` column or a scope), and a model's ``many_to_many`` join table is created.
Raises: ``DatabaseError`` naming the table and the database's reason. Does database I/O
(``ensure_model_tables`` only; a database whose tables are all there is read, not written).
"""

from __future__ import annotations

import dataclasses

import sqlalchemy as sa

from miqspec.errors import DatabaseError
from miqspec.spec import CollectionDef, Spec, load_catalogue
from miqspec.store.database import error_reason
from miqspec.store.tables import build_metadata
from miqspec.store.tables_cache import build_metadata_cached


def has_models(spec: Spec) -> bool:
    """True when the spec's catalogue differs from the shipped one (it declares ``models``)."""
    shipped = load_catalogue()
    if spec.catalogue is shipped:
        return False
    own = spec.catalogue.collections
    return own.keys() != shipped.collections.keys() or any(
        c is not shipped.collections[n] and _shape(c) != _shape(shipped.collections[n])
        for n, c in own.items()
    )


def _shape(coll: CollectionDef) -> CollectionDef:
    """``coll`` less the fields that do not shape its table (a mapping's ``reconnect``, the
    defaults of the manager owning it): a spec changing only those has no models."""
    return dataclasses.replace(coll, defaults={}, manager_defaults={}, reconnect=True)


def spec_tables(spec: Spec) -> sa.MetaData:
    """The tables of ``spec``: the shipped ones, or those of its catalogue with its models."""
    if not has_models(spec):
        return build_metadata_cached()
    return build_metadata(spec.catalogue)


def model_changes(md: sa.MetaData) -> list[sa.Table]:
    """The tables of ``md`` the shipped catalogue lacks, or with columns it lacks."""
    base = build_metadata_cached().tables
    out = []
    for name, table in md.tables.items():
        shipped = base.get(name)
        if shipped is None or not set(table.c.keys()) <= set(shipped.c.keys()):
            out.append(table)
    return out


def ensure_model_tables(engine: sa.Engine, tables: list[sa.Table]) -> None:
    """Create each of ``tables`` the database lacks; add the columns an existing one lacks.
    Tried twice: another refresh of the same spec may have made them meanwhile."""
    for attempt in (1, 2) if tables else ():
        done: list[str] = []  # the tables handled so far; the last one is being handled
        try:
            with engine.begin() as conn:
                _ensure(conn, tables, done)
            return
        except sa.exc.SQLAlchemyError as exc:
            if attempt == 2:
                name = done[-1] if done else tables[0].name
                raise DatabaseError(
                    f"cannot create or widen table {name!r} of the spec's models: "
                    f"{type(exc).__name__}: {error_reason(exc)[:200]}"
                ) from None


def _ensure(conn: sa.Connection, tables: list[sa.Table], done: list[str]) -> None:
    inspector = sa.inspect(conn)
    existing = set(inspector.get_table_names())
    for table in tables:
        done.append(table.name)
        if table.name not in existing:
            table.create(conn)
            existing.add(table.name)
            continue
        have = {c["name"] for c in inspector.get_columns(table.name)}
        added = [c for c in table.c if c.name not in have]
        for col in added:
            _add_column(conn, table, col)
        names = {c.name for c in added}
        for index in table.indexes:
            if names.intersection(c.name for c in index.columns):
                index.create(conn)


def _add_column(conn: sa.Connection, table: sa.Table, col: sa.Column[object]) -> None:
    quote = conn.dialect.identifier_preparer.quote
    kind = col.type.compile(dialect=conn.dialect)
    conn.exec_driver_sql(f"ALTER TABLE {quote(table.name)} ADD COLUMN {quote(col.name)} {kind}")
