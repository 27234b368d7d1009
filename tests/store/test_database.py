"""Opening databases and migrating them with alembic, on real SQLite files and real PostgreSQL."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from miqspec.errors import DatabaseError
from miqspec.metrics.tables import METADATA as METRICS_METADATA
from miqspec.operations.tables import METADATA as OPERATIONS_METADATA
from miqspec.persist.tag_tables import TAG_METADATA
from miqspec.store.database import (
    SQLITE_PRAGMAS,
    current_revision,
    default_database_url,
    head_revision,
    mask_url,
    miqspec_home,
    open_database,
    upgrade,
)
from miqspec.store.event_tables import EVENT_METADATA
from miqspec.store.tables import build_metadata

from ..persist_support import private_schema


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name in ("MIQSPEC_DATABASE_URL", "MIQSPEC_HOME", "XDG_DATA_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return tmp_path


def test_default_url_prefers_the_environment(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = clean_env / "home"
    assert miqspec_home() == home / ".local" / "share" / "miqspec"
    assert default_database_url() == f"sqlite:///{home}/.local/share/miqspec/miqspec.db"
    monkeypatch.setenv("XDG_DATA_HOME", str(clean_env / "xdg"))
    assert default_database_url() == f"sqlite:///{clean_env}/xdg/miqspec/miqspec.db"
    monkeypatch.setenv("MIQSPEC_HOME", str(clean_env / "mh"))
    assert default_database_url() == f"sqlite:///{clean_env}/mh/miqspec.db"
    monkeypatch.setenv("MIQSPEC_DATABASE_URL", "postgresql://u@db/inv")
    assert default_database_url() == "postgresql://u@db/inv"


def test_open_creates_the_directory_and_sets_pragmas(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MIQSPEC_HOME", str(clean_env / "a" / "b"))
    engine = open_database()
    try:
        assert (clean_env / "a" / "b" / "miqspec.db").is_file()
        with engine.connect() as conn:
            got = {n: str(conn.exec_driver_sql(f"PRAGMA {n}").scalar()) for n, _ in SQLITE_PRAGMAS}
    finally:
        engine.dispose()
    assert got == {
        "foreign_keys": "0",
        "journal_mode": "wal",
        "busy_timeout": "30000",
        "synchronous": "1",
    }


def test_mask_url_hides_passwords() -> None:
    assert mask_url("postgresql://bob:hunter22@db:5432/x") == "postgresql://bob:***@db:5432/x"
    assert mask_url("sqlite:///tmp/x.db") == "sqlite:///tmp/x.db"
    assert mask_url("not a url with secret") == "***"


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("postgresql+psycopg2://bob:s3cretpw@127.0.0.1:1/test", "Connection refused"),
        ("nosuchdb://bob:s3cretpw@host/x", "Can't load plugin"),
        ("::not-a-url s3cretpw", "Could not parse"),
    ],
)
def test_open_failures_are_one_line_and_masked(url: str, reason: str) -> None:
    with pytest.raises(DatabaseError) as info:
        open_database(url)
    message = str(info.value)
    assert message.startswith("cannot open database ") and reason in message
    assert "s3cretpw" not in message and "\n" not in message
    assert info.value.exit_code == 7


def test_open_fails_when_the_directory_cannot_exist(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(DatabaseError, match=r"cannot open database sqlite:///.*file/db/x\.db"):
        open_database(f"sqlite:///{blocker}/db/x.db")


def table_columns(engine: sa.Engine) -> dict[str, set[str]]:
    inspector = sa.inspect(engine)
    return {t: {c["name"] for c in inspector.get_columns(t)} for t in inspector.get_table_names()}


def check_upgrade(engine: sa.Engine, capsys: pytest.CaptureFixture[str]) -> None:
    assert current_revision(engine) is None
    upgrade(engine)
    upgrade(engine)  # a no-op the second time
    assert current_revision(engine) == head_revision()
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT version_num FROM alembic_version").all() == [
            (head_revision(),)
        ]
    # the migrations at head give exactly the tables of the current catalogue and of the
    # stages that own tables of their own (metrics, events, operations, tags)
    owned = (METRICS_METADATA, EVENT_METADATA, OPERATIONS_METADATA, TAG_METADATA)
    tables = [*build_metadata().tables.values(), *(t for m in owned for t in m.tables.values())]
    expected = {t.name: {c.name for c in t.c} for t in tables}
    got = table_columns(engine)
    assert got.pop("alembic_version") == {"version_num"}
    assert got == expected
    out, err = capsys.readouterr()
    assert (out, err) == ("", "")
    handlers = logging.getLogger("alembic").handlers  # alembic's own NullHandler only
    assert all(isinstance(h, logging.NullHandler) for h in handlers)


def test_upgrade_sqlite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    engine = open_database(f"sqlite:///{tmp_path / 'up' / 'miqspec.db'}")
    try:
        check_upgrade(engine, capsys)
    finally:
        engine.dispose()


@pytest.fixture
def pg_engine() -> Iterator[sa.Engine]:
    with private_schema(None, "miqspec_d", opener=open_database) as engine:
        yield engine


def test_upgrade_postgresql(pg_engine: sa.Engine, capsys: pytest.CaptureFixture[str]) -> None:
    check_upgrade(pg_engine, capsys)


def test_upgrade_failure_is_a_database_error(tmp_path: Path) -> None:
    path = tmp_path / "ro.db"
    open_database(f"sqlite:///{path}").dispose()
    engine = open_database(f"sqlite:///file:{path}?mode=ro&uri=true")
    try:
        with pytest.raises(DatabaseError, match=r"cannot migrate database .*readonly"):
            upgrade(engine)
    finally:
        engine.dispose()
