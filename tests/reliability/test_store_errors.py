"""Database trouble gives one line and its exit code, never a traceback or an SQL dump.

Read-only and immutable SQLite files (exit 7), URLs whose driver is not installed (exit 7,
naming the package), `inventory --limit` out of range (exit 2), read commands on a database
that does not exist (exit 10, nothing created; commands that write create it and say where),
and API text the database cannot store (a NUL on PostgreSQL, lone surrogates anywhere):
stored with U+FFFD, said in the summary, the rest of the refresh saved. On SQLite and
PostgreSQL where a database is involved; commands run as real processes.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from miqspec import api
from miqspec.errors import UsageError
from miqspec.simulator import Simulator

from .test_locks import NAME, add_provider, assert_complete, cli_env, open_db, run_cli

REPLACEMENT = "\ufffd"


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(instances=12, flavors=3, images=4) as s:
        yield s


def one_line(done: subprocess.CompletedProcess[str], code: int) -> str:
    assert done.returncode == code, (done.returncode, done.stderr)
    lines = [line for line in done.stderr.splitlines() if not line.startswith("miqspec: created")]
    assert len(lines) == 1 and lines[0].startswith("miqspec: error: "), done.stderr
    assert "[SQL:" not in done.stderr and "sqlalche.me" not in done.stderr
    return lines[0]


# -- read-only and immutable files ------------------------------------------------------------


@pytest.fixture
def immutable(tmp_path: Path, sim: Simulator) -> Iterator[Path]:
    """A SQLite database with a provider, made immutable (``chattr +i``)."""
    if shutil.which("chattr") is None:
        pytest.skip("no chattr")
    path = tmp_path / "frozen.db"
    with open_db(f"sqlite:///{path}", tmp_path) as db:
        add_provider(db, sim)
    if subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode:
        pytest.skip("chattr +i is not possible here (needs root and a supporting filesystem)")
    try:
        yield path
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


def test_an_immutable_database_file_is_one_line(
    immutable: Path, tmp_path: Path, sim: Simulator
) -> None:
    env = {**cli_env(tmp_path), "AC_SECRET": sim.options.secret_key}
    url = f"sqlite:///{immutable}"
    line = one_line(run_cli(env, "refresh", NAME, "--database", url), 7)
    assert "readonly database" in line
    add = ["provider", "add", "awesome_cloud", "--name", "q", "--region", "us-east-1"]
    add += [
        "--set",
        f"endpoints.default.url={sim.url}",
        "--set",
        "authentications.default.userid=u",
    ]
    add += ["--secret-env", "authentications.default.password=AC_SECRET", "--database", url]
    assert "cannot add provider 'q': attempt to write a readonly database" in one_line(
        run_cli(env, *add), 7
    )
    listed = run_cli(env, "provider", "list", "--database", url)  # reading still works
    assert listed.returncode == 0 and NAME in listed.stdout


def test_a_read_only_database_url_is_one_line(tmp_path: Path, sim: Simulator) -> None:
    path = tmp_path / "ro.db"
    with open_db(f"sqlite:///{path}", tmp_path) as db:
        add_provider(db, sim)
    env = cli_env(tmp_path)
    url = f"sqlite:///file:{path}?mode=ro&uri=true"
    assert "readonly database" in one_line(run_cli(env, "refresh", NAME, "--database", url), 7)
    deleted = run_cli(env, "provider", "delete", NAME, "--yes", "--database", url)
    assert "readonly database" in one_line(deleted, 7)


# -- drivers ------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "module", "package"),
    [
        ("mysql://miq:pw-Secret1@127.0.0.1/inventory", "MySQLdb", "mysqlclient"),
        ("mysql+pymysql://miq:pw-Secret1@127.0.0.1/inventory", "pymysql", "PyMySQL"),
        ("postgresql+pg8000://miq:pw-Secret1@127.0.0.1/inventory", "pg8000", "pg8000"),
        ("postgresql+psycopg://miq:pw-Secret1@127.0.0.1/inventory", "psycopg", "psycopg[binary]"),
    ],
)
def test_a_url_without_its_driver_names_the_package(
    tmp_path: Path, url: str, module: str, package: str
) -> None:
    if importlib.util.find_spec(module) is not None:
        pytest.skip(f"{module} is installed here")
    line = one_line(run_cli(cli_env(tmp_path), "provider", "list", "--database", url), 7)
    assert f"the Python module {module!r}" in line and f"pip install {package}" in line.replace(
        "'", ""
    )
    assert "pw-Secret1" not in line


def test_postgresql_without_psycopg2_says_to_install_the_extra(pg_url: str, tmp_path: Path) -> None:
    """The same interpreter with psycopg2 unimportable (``sys.modules`` entry None)."""
    code = "import sys; sys.modules['psycopg2'] = None; from miqspec.cli import main; main()"
    url = pg_url.replace("postgresql+psycopg2://postgres@", "postgresql://postgres:pw-Secret1@")
    done = subprocess.run(
        [sys.executable, "-c", code, "provider", "list", "--database", url],
        env=cli_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    line = one_line(done, 7)
    assert "pip install 'miqspec[postgres]'" in line and "pw-Secret1" not in line


# -- inventory --limit ------------------------------------------------------------


def test_inventory_limit_is_bounded(db_url: str, tmp_path: Path, sim: Simulator) -> None:
    env = cli_env(tmp_path)
    with open_db(db_url, tmp_path) as db:
        add_provider(db, sim)
        assert api.refresh(db, NAME).ok
        for limit in ("99999999999999999999", "-1", "9223372036854775808", "ten"):
            done = run_cli(env, "inventory", NAME, "vms", "--limit", limit, "--database", db_url)
            assert done.returncode == 2 and "--limit" in done.stderr, done.stderr
        with pytest.raises(UsageError, match="limit must be a whole number from 0 to"):
            api.read_inventory(db, NAME, "vms", limit=2**63)
        every = api.read_inventory(db, NAME, "vms", limit=api.MAX_LIMIT).rows
        assert len(every) == len(sim.data.instances)
        assert len(api.read_inventory(db, NAME, "vms", limit=3).rows) == 3
        biggest = str(api.MAX_LIMIT)
        done = run_cli(env, "inventory", NAME, "vms", "--limit", biggest, "--database", db_url)
        assert done.returncode == 0 and done.stdout.count("instance-") == len(sim.data.instances)


# -- databases that do not exist ------------------------------------------------------------


def test_read_commands_never_create_a_database(tmp_path: Path, sim: Simulator) -> None:
    env = {**cli_env(tmp_path), "AC_SECRET": sim.options.secret_key}
    missing = tmp_path / "nonexistent" / "dir"
    url = f"sqlite:///{missing / 'x.db'}"
    reads = [
        ["provider", "list"],
        ["provider", "show", NAME],
        ["provider", "verify", NAME],
        ["provider", "delete", NAME, "--yes"],
        ["provider", "unlock", NAME],
        ["refresh", NAME],
        ["inventory", NAME],
        ["inventory", NAME, "vms"],
    ]
    for command in reads:
        line = one_line(run_cli(env, *command, "--database", url), 10)
        assert f"no database at {missing / 'x.db'}" in line, command
        assert not (tmp_path / "nonexistent").exists(), command
    made = run_cli(env, "db", "--database", url)
    assert made.returncode == 0
    assert f"miqspec: created database {missing / 'x.db'}" in made.stderr
    again = run_cli(env, "db", "--database", url)
    assert again.returncode == 0 and "created" not in again.stderr
    other = f"sqlite:///{tmp_path / 'other' / 'y.db'}"
    added = run_cli(
        env,
        "provider",
        "add",
        "awesome_cloud",
        "--name",
        NAME,
        "--region",
        "us-east-1",
        "--set",
        f"endpoints.default.url={sim.url}",
        "--set",
        "authentications.default.userid=AKIA-SIM",
        "--secret-env",
        "authentications.default.password=AC_SECRET",
        "--database",
        other,
    )
    assert added.returncode == 0 and "created database" in added.stderr
    with pytest.raises(api.NotFoundError, match="no database at"):
        api.open_database(f"sqlite:///{tmp_path / 'none.db'}", create=False)
    assert not (tmp_path / "none.db").exists()


# -- text the database cannot store ------------------------------------------------------------


def hostile_cassette(tmp_path: Path, db: api.Database, sim: Simulator) -> Path:
    """The refresh's traffic, recorded, with a NUL in one instance name and a lone surrogate in
    another (both as JSON escapes, as an API would send them)."""
    recorded = tmp_path / "traffic.yaml"
    assert api.refresh(db, NAME, record=recorded).ok
    text = recorded.read_text()
    first, second = (i["name"] for i in sim.data.instances[1:3])
    assert f'"name":"{first}"' in text and f'"name":"{second}"' in text
    text = text.replace(f'"name":"{first}"', f'"name":"{first}\\u0000nul"')
    text = text.replace(f'"name":"{second}"', f'"name":"{second}\\udcffbad"')
    hostile = tmp_path / "hostile.yaml"
    hostile.write_text(text)
    return hostile


def test_text_the_database_cannot_store_is_replaced_and_said(
    db_url: str, tmp_path: Path, sim: Simulator
) -> None:
    postgres = db_url.startswith("postgresql")
    with open_db(db_url, tmp_path) as db:
        add_provider(db, sim)
        cassette = hostile_cassette(tmp_path, db, sim)
        first, second = (i["name"] for i in sim.data.instances[1:3])
        for _ in range(2):  # and again, from the same answers
            result = api.refresh(db, NAME, replay=cassette)
            assert result.ok, result.error
            assert_complete(db, sim)
        names = {r["name"] for r in api.read_inventory(db, NAME, "vms", limit=0).rows}
        nul = REPLACEMENT if postgres else "\x00"
        assert f"{first}{nul}nul" in names and f"{second}{REPLACEMENT}bad" in names
        expected = {i["name"] for i in sim.data.instances} - {first, second}
        assert expected <= names
        info = api.provider_info(db, NAME)
        assert info.last_refresh_error is None
    with open_db(db_url, tmp_path) as db:  # a fresh provider: the warning, from the CLI
        api.delete_provider(db, NAME)
        add_provider(db, sim)
    done = run_cli(
        cli_env(tmp_path), "refresh", NAME, "--replay", str(cassette), "--database", db_url
    )
    assert done.returncode == 0, done.stderr
    count = 2 if postgres else 1
    assert f"warning: {count} text value(s) from the API held characters" in done.stdout
    assert "U+FFFD" in done.stdout
