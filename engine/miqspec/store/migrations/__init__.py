"""Alembic migration scripts of the miqspec database (run by ``store.database.upgrade``).

Revision files live in ``versions/``. A revision must not change meaning when the catalogue
grows: revision 0001 builds its tables from the catalogue snapshot in ``snapshot_0001``; later
revisions add what changes with explicit ``op`` calls.
"""
