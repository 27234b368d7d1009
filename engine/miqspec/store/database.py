"""Opening the inventory database and migrating it to the current schema.

Takes: a SQLAlchemy database URL (default: ``MIQSPEC_DATABASE_URL``, else a SQLite file at
``$MIQSPEC_HOME/miqspec.db``; ``MIQSPEC_HOME`` defaults to ``$XDG_DATA_HOME/miqspec`` or
``~/.local/share/miqspec``).
Gives: ``open_database(url, create=True) -> Engine`` (``postgresql://`` uses psycopg2 when it is
installed, else psycopg; SQLite: file and directory created only
with ``create``, else ``NotFoundError``; pragmas foreign_keys off, WAL journal, busy_timeout
30000, synchronous NORMAL), ``new_database_file(url)`` (the SQLite file a URL names when it does
not exist yet), ``error_reason(exc)`` (the first line the database said), ``upgrade(engine)``
(alembic migrations in ``miqspec/migrations`` to head, no alembic.ini needed, silent unless
logging is configured),
``current_revision(engine)``, ``head_revision()``, ``mask_url(url)``.
Raises: ``DatabaseError`` (one line, password masked) when the database cannot be opened or
migrated, naming the package to install when the URL's driver is missing; ``NotFoundError``
for a SQLite file that does not exist when ``create`` is off. Does I/O: filesystem (SQLite
directory) and database connections.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from miqspec.errors import DatabaseError, MiqspecError, NotFoundError

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
DRIVER_PACKAGES = {  # driver module -> what to install for it
    "psycopg2": "'miqspec[postgres]'",
    "psycopg": "'psycopg[binary]'",
    "pg8000": "pg8000",
    "asyncpg": "asyncpg",
    "MySQLdb": "mysqlclient",
    "pymysql": "PyMySQL",
    "mysql": "mysql-connector-python",
    "oracledb": "oracledb",
    "pyodbc": "pyodbc",
}
SQLITE_PRAGMAS = (
    ("foreign_keys", "OFF"),
    ("journal_mode", "WAL"),
    ("busy_timeout", "30000"),
    ("synchronous", "NORMAL"),
)


def miqspec_home() -> Path:
    """``$MIQSPEC_HOME``, else ``$XDG_DATA_HOME/miqspec``, else ``~/.local/share/miqspec``."""
    home = os.environ.get("MIQSPEC_HOME")
    if home:
        return Path(home).expanduser()
    data = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data).expanduser() / "miqspec"


def default_database_url() -> str:
    """``$MIQSPEC_DATABASE_URL`` if set, else ``sqlite:///<miqspec home>/miqspec.db``."""
    url = os.environ.get("MIQSPEC_DATABASE_URL")
    if url:
        return url
    return f"sqlite:///{miqspec_home() / 'miqspec.db'}"


def mask_url(url: str | URL) -> str:
    """``url`` with its password replaced by ``***`` (unparsable URLs are masked wholesale)."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError, TypeError):
        text = str(url)
        scheme, sep, _rest = text.partition("://")
        return f"{scheme}://***" if sep else "***"


def _password(url: URL | None) -> str | None:
    return None if url is None or url.password is None else str(url.password)


def error_reason(exc: BaseException) -> str:
    """The first line of what the database (or driver) said, without SQLAlchemy's SQL dump."""
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _sqlite_file(url: URL) -> Path | None:
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database).expanduser()


def _set_sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        for name, value in SQLITE_PRAGMAS:
            cursor.execute(f"PRAGMA {name}={value}")
    finally:
        cursor.close()


def new_database_file(url: str | URL | None = None) -> Path | None:
    """The SQLite file ``url`` names when it does not exist yet (None: it exists, or the URL is
    not a SQLite file's)."""
    try:
        parsed = make_url(url if url is not None else default_database_url())
    except (ArgumentError, ValueError, TypeError):
        return None
    path = _sqlite_file(parsed) if parsed.get_backend_name() == "sqlite" else None
    return path if path is not None and not path.exists() else None


def _with_driver(url: URL) -> URL:
    """``postgresql://`` (no driver named) with the driver that is installed: psycopg2 (what
    ``miqspec[postgres]`` installs), else psycopg; other URLs as they are."""
    if url.drivername != "postgresql":
        return url
    for module in ("psycopg2", "psycopg"):
        with contextlib.suppress(ImportError, ValueError):
            if importlib.util.find_spec(module) is not None:
                return url.set(drivername=f"postgresql+{module}")
    return url


def _missing_driver(masked: str, parsed: URL | None, exc: ImportError) -> DatabaseError:
    module = (exc.name or "").split(".")[0] or "?"
    package = DRIVER_PACKAGES.get(module, module)
    if parsed is not None and parsed.drivername == "postgresql":  # none named, none installed
        package = DRIVER_PACKAGES["psycopg2"]
    backend = parsed.get_backend_name() if parsed is not None else "database"
    return DatabaseError(
        f"cannot open database {masked}: its {backend} driver (the Python module {module!r}) "
        f"is not installed; install it with: pip install {package}",
        secrets=[_password(parsed)],
    )


def open_database(
    url: str | URL | None = None, *, create: bool = True, **engine_options: Any
) -> Engine:
    """An ``Engine`` for ``url`` (default: ``default_database_url()``), checked by connecting.
    A SQLite file that does not exist is created (with its directory) only when ``create``."""
    raw = url if url is not None else default_database_url()
    masked = mask_url(raw)
    parsed: URL | None = None
    try:
        parsed = make_url(raw)
        if parsed.get_backend_name() == "sqlite":
            path = _sqlite_file(parsed)
            if path is not None and not create and not path.exists():
                raise NotFoundError(
                    f"no database at {path} (commands that write, such as `miqspec db` or "
                    "`miqspec provider add`, create it)"
                )
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(_with_driver(parsed), **engine_options)
    except ImportError as exc:
        raise _missing_driver(masked, parsed, exc) from None
    except (ArgumentError, ValueError, TypeError, OSError, SQLAlchemyError) as exc:
        raise DatabaseError(
            f"cannot open database {masked}: {error_reason(exc)}", secrets=[_password(parsed)]
        ) from None
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _set_sqlite_pragmas)
    try:
        with engine.connect():
            pass
    except SQLAlchemyError as exc:
        engine.dispose()
        raise DatabaseError(
            f"cannot open database {masked}: {error_reason(exc)}", secrets=[_password(parsed)]
        ) from None
    return engine


def alembic_config() -> Config:
    """An in-memory alembic configuration pointing at the packaged migration scripts."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def head_revision() -> str:
    """The newest migration revision shipped with this miqspec."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:  # pragma: no cover - the package always ships migrations
        raise DatabaseError("no database migrations found")
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (``None`` for a database never upgraded)."""
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    except SQLAlchemyError as exc:
        raise DatabaseError(
            f"cannot read the schema revision of {mask_url(engine.url)}: {error_reason(exc)}",
            secrets=[_password(engine.url)],
        ) from None


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate the database to ``revision`` (default: head); a no-op when already there."""
    config = alembic_config()
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    except MiqspecError:
        raise
    except Exception as exc:  # alembic raises plain exceptions as well as SQLAlchemy ones
        raise DatabaseError(
            f"cannot migrate database {mask_url(engine.url)}: {error_reason(exc)}",
            secrets=[_password(engine.url)],
        ) from None
