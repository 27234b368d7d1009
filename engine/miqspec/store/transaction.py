"""Where and how a refresh writes: the spec's tables and the one inventory transaction.

Takes: a database engine and a ``Spec`` (``spec_metadata``); an engine, a dry-run flag and the
secrets to mask (``inventory_transaction``).
Gives: ``spec_metadata(engine, spec)``: the shipped catalogue's tables, or, for a spec that
declares its own ``models``, the tables of its catalogue (its own ones created when missing);
``inventory_transaction``: a context manager giving one connection in one transaction, committed
when the block ends (after its ``before_commit`` check), rolled back when it raises or for a
dry run.
Raises: ``DatabaseError`` (one line, secrets masked) for any error the database reports, the
transaction rolled back. Does database I/O (``CREATE TABLE`` for a spec's own models).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator

import sqlalchemy as sa

from miqspec.errors import DatabaseError
from miqspec.spec import Spec, load_catalogue
from miqspec.store.database import error_reason
from miqspec.store.tables import build_metadata
from miqspec.store.tables_cache import build_metadata_cached


def spec_metadata(engine: sa.Engine, spec: Spec) -> sa.MetaData:
    """Tables for the spec: the catalogue's, plus its own ``models`` (created if missing)."""
    base = build_metadata_cached()
    own = set(spec.catalogue.collections) - set(load_catalogue().collections)
    if not own:
        return base
    md = build_metadata(spec.catalogue)
    new_tables = [md.tables[spec.catalogue.collections[n].table] for n in sorted(own)]
    try:
        md.create_all(engine, tables=new_tables, checkfirst=True)
    except sa.exc.SQLAlchemyError as exc:
        raise DatabaseError(
            f"cannot create tables of the spec's models: {type(exc).__name__}"
        ) from None
    return md


@contextlib.contextmanager
def inventory_transaction(
    engine: sa.Engine,
    *,
    dry_run: bool = False,
    secrets: Iterable[str | None] = (),
    before_commit: Callable[[sa.Connection], None] | None = None,
) -> Iterator[sa.Connection]:
    """One connection in one transaction: committed when the block ends (rolled back for a
    ``dry_run``), rolled back when it raises; ``before_commit(conn)`` runs last in the
    transaction (what it raises rolls it back). A database error, or a value the driver
    refuses (``ValueError``: a lone surrogate it cannot encode, a NUL psycopg2 will not send),
    becomes ``DatabaseError`` ("saving inventory failed: ..."), with ``secrets`` masked."""
    try:
        with engine.connect() as conn:
            tx = conn.begin()
            try:
                yield conn
                if before_commit is not None:
                    before_commit(conn)
            except BaseException:
                tx.rollback()
                raise
            if dry_run:
                tx.rollback()
            else:
                tx.commit()
    except (sa.exc.SQLAlchemyError, ValueError) as exc:  # ValueError: what a driver refuses
        raise DatabaseError(
            f"saving inventory failed: {type(exc).__name__}: {error_reason(exc)[:200]}",
            secrets=list(secrets),
        ) from None
