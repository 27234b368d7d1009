"""Shared fixtures: databases (SQLite file, PostgreSQL at 127.0.0.1:5432), key ring, simulator.

Databases: ``pg_url`` is a fresh, empty PostgreSQL database; ``engine`` is a fresh database
already at the head revision on both backends (``migrated_db_url``), copied from a template
migrated once per session (per xdist worker): a SQLite file copy, or ``CREATE DATABASE ...
TEMPLATE``. Tests that check migrations from an empty database use ``pg_url``, ``db_url`` or
``persist_support.private_schema``. PostgreSQL databases are named
``miqspec_t_<pid>_<start>_<n>`` and dropped in a background thread once their test is done
(``DROP DATABASE`` waits for a checkpoint); the session's end waits for the last drops.
"""

from __future__ import annotations

import os
import queue
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

PG_ADMIN_URL = os.environ.get(
    "MIQSPEC_TEST_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
)
REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
AWESOME = REPO / "provider_specs" / "awesome_cloud.yaml"
PG_PREFIX = "miqspec_t_"
# Leftovers of a run that died (its process is gone) are dropped after this many seconds.
PG_LEFTOVER_AGE = 3600
_PG_NAME = re.compile(rf"^{PG_PREFIX}(\d+)_(\d+)_")


def sim_args(sim: Any, password: str | None = None) -> dict[str, Any]:
    """The create-form argument hash of an Awesome Cloud provider on the simulator ``sim``."""
    return {
        "provider_region": "us-east-1",
        "endpoints": {"default": {"url": sim.url}},
        "authentications": {
            "default": {
                "userid": sim.options.access_key,
                "password": password or sim.options.secret_key,
            }
        },
    }


def _pg_reachable() -> str | None:
    try:
        engine = sa.create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
        engine.dispose()
        return None
    except Exception as exc:  # any failure to connect means: skip PostgreSQL tests
        return f"PostgreSQL not reachable at {PG_ADMIN_URL}: {type(exc).__name__}"


def _process_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


class BackgroundDrops:
    """Runs ``DROP ...`` statements on the admin database in one background thread, in order.

    ``DROP DATABASE`` waits for a checkpoint and ``DROP SCHEMA ... CASCADE`` unlinks every
    table's files: tests need not wait for either. ``wait()`` (session end) waits for the last
    ones and gives the failures. One per process, so one per xdist worker.
    """

    def __init__(self) -> None:
        self.errors: list[str] = []
        self._queue: queue.Queue[tuple[str, bool] | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def put(self, sql: str, quiet: bool = False) -> None:
        """Run ``sql`` soon; a failure is reported by ``wait()`` unless ``quiet``."""
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="pg-drops", daemon=True)
                self._thread.start()
        self._queue.put((sql, quiet))

    def wait(self) -> list[str]:
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join()
        errors, self.errors = self.errors, []
        return errors

    def _run(self) -> None:
        admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        try:
            while (item := self._queue.get()) is not None:
                sql, quiet = item
                try:
                    with admin.connect() as conn:
                        conn.exec_driver_sql(sql)
                except Exception as exc:  # reported by wait()
                    if not quiet:
                        self.errors.append(f"{sql}: {type(exc).__name__}: {exc}".splitlines()[0])
        finally:
            admin.dispose()


BACKGROUND_DROPS = BackgroundDrops()


class PgDatabases:
    """This process's PostgreSQL test databases: fresh empty ones, and copies of one migrated
    template; each dropped in the background once released, the rest at ``close``."""

    def __init__(self) -> None:
        self.prefix = f"{PG_PREFIX}{os.getpid()}_{int(time.time())}_"
        self.count = 0
        self.admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        self.template: str | None = None
        self.live: set[str] = set()
        if os.environ.get("PYTEST_XDIST_WORKER", "gw0") == "gw0":  # one sweeper per run
            for name in self._leftovers():  # another run may sweep it too: no error then
                BACKGROUND_DROPS.put(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', quiet=True)

    def url(self, name: str) -> str:
        return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name

    def _create(self, template: str | None = None) -> str:
        self.count += 1
        name = f"{self.prefix}{self.count}"
        source = f' TEMPLATE "{template}"' if template else ""
        with self.admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"{source}')
        self.live.add(name)
        return name

    def empty(self) -> str:
        """The name of a new, empty database."""
        return self._create()

    def migrated(self) -> str:
        """The name of a new database at the head revision (a copy of the template)."""
        if self.template is None:
            from miqspec.store.database import open_database, upgrade

            name = self._create()
            engine = open_database(self.url(name))
            try:
                upgrade(engine)
            finally:
                engine.dispose()
            self.template = name
        return self._create(self.template)

    def release(self, name: str) -> None:
        """Drop ``name`` soon (in the background)."""
        self.live.discard(name)
        BACKGROUND_DROPS.put(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def close(self) -> None:
        for name in sorted(self.live):
            self.release(name)
        self.admin.dispose()

    def _leftovers(self) -> list[str]:
        """Databases of earlier runs whose process is gone, older than PG_LEFTOVER_AGE."""
        with self.admin.connect() as conn:
            names = conn.exec_driver_sql("SELECT datname FROM pg_database").scalars().all()
        found = []
        for name in names:
            match = _PG_NAME.match(name)
            if match:
                pid, started = int(match[1]), int(match[2])
                if time.time() - started > PG_LEFTOVER_AGE and _process_gone(pid):
                    found.append(name)
        return found


def pytest_configure(config: pytest.Config) -> None:
    """With ``PYTHONDONTWRITEBYTECODE`` set (as in this sandbox) every process compiles each
    module it imports again: each xdist worker, and each of the many ``miqspec`` subprocesses
    the tests start. Those keep their compiled modules in a cache under the temporary directory
    instead (``PYTHONPYCACHEPREFIX``: never in the source tree; stale entries are recompiled)."""
    if os.environ.get("PYTHONDONTWRITEBYTECODE") and not os.environ.get("PYTHONPYCACHEPREFIX"):
        del os.environ["PYTHONDONTWRITEBYTECODE"]
        cache = Path(tempfile.gettempdir()) / f"miqspec-pycache-{os.getuid()}"
        os.environ["PYTHONPYCACHEPREFIX"] = str(cache)


@pytest.fixture(scope="session", autouse=True)
def _background_drops() -> Iterator[None]:
    """At the session's end, waits for the PostgreSQL databases and schemas being dropped."""
    yield
    errors = BACKGROUND_DROPS.wait()
    if errors:
        raise RuntimeError("PostgreSQL test databases or schemas not dropped: " + "; ".join(errors))


@pytest.fixture(scope="session", autouse=True)
def spec_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Specs found valid are remembered in the session's own directory (not ~/.cache)."""
    where = tmp_path_factory.mktemp("spec-cache")
    old = os.environ.get("MIQSPEC_CACHE_DIR")
    os.environ["MIQSPEC_CACHE_DIR"] = str(where)
    yield where
    if old is None:
        os.environ.pop("MIQSPEC_CACHE_DIR", None)
    else:
        os.environ["MIQSPEC_CACHE_DIR"] = old


@pytest.fixture(scope="session")
def pg_skip_reason() -> str | None:
    return _pg_reachable()


@pytest.fixture(scope="session")
def pg_databases(pg_skip_reason: str | None) -> Iterator[PgDatabases | None]:
    """The session's PostgreSQL databases (``None`` when PostgreSQL is unreachable)."""
    if pg_skip_reason:
        yield None
        return
    dbs = PgDatabases()
    yield dbs
    dbs.close()


@pytest.fixture
def pg_url(pg_databases: PgDatabases | None, pg_skip_reason: str | None) -> Iterator[str]:
    """A fresh, empty PostgreSQL database, dropped afterwards."""
    if pg_databases is None:
        pytest.skip(str(pg_skip_reason))
    name = pg_databases.empty()
    yield pg_databases.url(name)
    pg_databases.release(name)


@pytest.fixture
def pg_migrated_url(pg_databases: PgDatabases | None, pg_skip_reason: str | None) -> Iterator[str]:
    """A fresh PostgreSQL database at the head revision, dropped afterwards."""
    if pg_databases is None:
        pytest.skip(str(pg_skip_reason))
    name = pg_databases.migrated()
    yield pg_databases.url(name)
    pg_databases.release(name)


@pytest.fixture(scope="session")
def migrated_sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to the head revision, fully checkpointed (nothing in its WAL)."""
    from miqspec.store.database import open_database, upgrade

    path = tmp_path_factory.mktemp("sqlite-template") / "inventory.db"
    engine = open_database(f"sqlite:///{path}")
    try:
        upgrade(engine)
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        engine.dispose()
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'inventory.db'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture(params=["sqlite", "postgresql"])
def migrated_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh database at the head revision on each backend."""
    if request.param == "sqlite":
        path = tmp_path / "inventory.db"
        shutil.copyfile(request.getfixturevalue("migrated_sqlite_template"), path)
        return f"sqlite:///{path}"
    return str(request.getfixturevalue("pg_migrated_url"))


@pytest.fixture
def engine(migrated_db_url: str) -> Iterator[sa.Engine]:
    from miqspec.store.database import open_database, upgrade

    eng = open_database(migrated_db_url)
    upgrade(eng)  # already at head: a no-op
    yield eng
    eng.dispose()


@pytest.fixture
def keyring(tmp_path: Path):  # type: ignore[no-untyped-def]
    from miqspec.store.credentials import KeyRing

    return KeyRing.load(tmp_path / "keys" / "v2_key")


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Never touch the user's real database or key file."""
    monkeypatch.setenv("MIQSPEC_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("MIQSPEC_DATABASE_URL", raising=False)
    monkeypatch.delenv("MIQSPEC_KEY_FILE", raising=False)
