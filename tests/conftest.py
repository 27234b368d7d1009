"""Shared fixtures: databases (SQLite file, PostgreSQL at 127.0.0.1:5432), key ring, simulator."""

from __future__ import annotations

import os
import uuid
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


@pytest.fixture
def pg_url(pg_skip_reason: str | None) -> Iterator[str]:
    """A fresh, empty PostgreSQL database, dropped afterwards."""
    if pg_skip_reason:
        pytest.skip(pg_skip_reason)
    name = f"miqspec_t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'inventory.db'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def engine(db_url: str) -> Iterator[sa.Engine]:
    from miqspec.store.database import open_database, upgrade

    eng = open_database(db_url)
    upgrade(eng)
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
