"""Alembic revisions of the miqspec schema, one file each (alembic skips this file)."""
