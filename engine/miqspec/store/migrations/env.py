"""Alembic environment: online migrations on the connection ``database.upgrade`` hands over.

Takes: ``config.attributes["connection"]`` (an open SQLAlchemy ``Connection``). Gives: the
migrations run inside that connection's transaction. Raises: ``RuntimeError`` when run without a
connection (plain ``alembic`` command lines and offline mode are not supported). No logging setup:
alembic stays silent unless the application configured logging.
"""

from __future__ import annotations

from alembic import context


def run_migrations() -> None:
    connection = context.config.attributes.get("connection")
    if connection is None or context.is_offline_mode():
        raise RuntimeError("miqspec migrations run through miqspec.store.database.upgrade(engine)")
    context.configure(
        connection=connection,
        target_metadata=None,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
