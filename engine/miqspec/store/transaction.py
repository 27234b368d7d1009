"""Where and how a refresh writes: the spec's tables and the one inventory transaction.

Takes: a database engine and a ``Spec`` (``spec_metadata``); an engine, a dry-run flag and the
secrets to mask (``inventory_transaction``).
Gives: ``spec_metadata(engine, spec)``: the shipped catalogue's tables, or, for a spec that
declares its own ``models``, the tables of its catalogue (created, or widened by the columns
a model adds, when missing: ``store.model_tables``);
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
from miqspec.spec import Spec
from miqspec.store.database import error_reason
from miqspec.store.model_tables import ensure_model_tables, model_changes, spec_tables
from miqspec.store.tables_cache import build_metadata_cached


def spec_metadata(engine: sa.Engine, spec: Spec) -> sa.MetaData:
    """Tables for the spec: the catalogue's, plus its own ``models`` (created when missing,
    widened by the columns a model adds: ``store.model_tables``)."""
    md = spec_tables(spec)
    if md is not build_metadata_cached():
        ensure_model_tables(engine, model_changes(md))
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
