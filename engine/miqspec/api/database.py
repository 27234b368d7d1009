"""The inventory database of the public API: ``Database`` (engine and key ring),
``open_database`` and ``rotate_keys``. Re-exported by ``miqspec.api``."""

from __future__ import annotations

from pathlib import Path
from types import TracebackType

from miqspec import store
from miqspec.store import Engine, KeyRing

# -- the database ---------------------------------------------------------------------------


class Database:
    """An open inventory database and the key ring its credentials are encrypted with.

    ``engine`` is the SQLAlchemy engine (for reading the inventory tables directly); the key
    ring is read from ``key_file`` (default: ``MIQSPEC_KEY_FILE``, else ``$MIQSPEC_HOME/v2_key``)
    when first needed, and created with one new key when missing, unless the database holds
    encrypted secrets (``KeyRingError``, exit 11, saying how to restore it). ``created``: the
    SQLite file ``open_database`` created (None: it existed). Use as a context manager, or
    ``close`` it.
    """

    def __init__(
        self, engine: Engine, key_file: str | Path | None = None, created: Path | None = None
    ) -> None:
        self.engine, self.created = engine, created
        self.key_file = Path(key_file) if key_file is not None else None
        self._keyring: KeyRing | None = None

    @property
    def url(self) -> str:
        """The database URL, password masked."""
        return store.mask_url(self.engine.url)

    @property
    def keyring(self) -> KeyRing:
        if self._keyring is None:
            self._keyring = store.open_keyring(self.engine, self.key_file)
        return self._keyring

    def revision(self) -> str | None:
        """The schema revision the database is at."""
        return store.current_revision(self.engine)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Database:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Database({self.url!r})"


def open_database(
    url: str | None = None,
    *,
    key_file: str | Path | None = None,
    upgrade: bool = True,
    create: bool = True,
) -> Database:
    """Open the database at ``url`` (default: ``MIQSPEC_DATABASE_URL``, else a SQLite file in
    ``$MIQSPEC_HOME``), migrated to the current schema unless ``upgrade`` is false. A SQLite
    file that does not exist is created only with ``create`` (else ``NotFoundError``).
    ``DatabaseError`` (password masked) when it cannot be opened or migrated."""
    fresh = store.new_database_file(url) if create else None
    engine = store.open_database(url, create=create)
    if upgrade:
        store.upgrade(engine)
    return Database(engine, key_file, fresh)


def rotate_keys(db: Database) -> int:
    """Add a new newest key to the key file and re-encrypt every stored secret with it; gives
    how many values were re-encrypted."""
    ring = db.keyring if db.key_file is not None else None
    count = store.rotate_credentials(db.engine, ring)
    db._keyring = None  # read the rotated file again when next needed
    return count
