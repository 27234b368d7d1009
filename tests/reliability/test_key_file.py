"""A lost key file is never silently replaced while the database holds secrets encrypted with it.

Every command that needs the key fails with exit code 11 and one line saying where the key file
was expected and how to restore it (put the backup back, or point MIQSPEC_KEY_FILE at it),
and creates no key; once it is back, everything works as before. A database without secrets
still gets a key created on first use. On SQLite and PostgreSQL, through real `miqspec`
processes.
"""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from miqspec import api
from miqspec.simulator import Simulator

from .test_locks import NAME, add_provider, assert_complete, cli_env, open_db, run_cli


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(instances=25, flavors=3, images=4) as s:
        yield s


def stored_password(engine: sa.Engine) -> str:
    with engine.connect() as conn:
        return str(
            conn.execute(
                sa.text("SELECT password FROM authentications WHERE authtype = 'default'")
            ).scalar()
        )


def test_lost_key_file_is_an_error_that_says_how_to_restore_it(
    db_url: str, tmp_path: Path, sim: Simulator
) -> None:
    env = {**cli_env(tmp_path), "AC_SECRET": sim.options.secret_key}
    key = Path(env["MIQSPEC_KEY_FILE"])
    with open_db(db_url, tmp_path) as db:
        add_provider(db, sim)
        encrypted = stored_password(db.engine)
        assert encrypted.startswith("v2:{")
    backup = tmp_path / "backup" / "v2_key"
    backup.parent.mkdir()
    key.rename(backup)
    args = tmp_path / "args.json"
    args.write_text(
        json.dumps(
            {
                "provider_region": "us-east-1",
                "endpoints": {"default": {"url": sim.url}},
                "authentications": {
                    "default": {"userid": sim.options.access_key, "password": encrypted}
                },
            }
        )
    )
    add_args = ["--region", "us-east-1", "--set", f"endpoints.default.url={sim.url}"]
    add_args += ["--set", f"authentications.default.userid={sim.options.access_key}"]
    add_args += ["--secret-env", "authentications.default.password=AC_SECRET"]
    commands = [
        ["refresh", NAME, "--database", db_url],
        ["provider", "verify", NAME, "--database", db_url],
        ["provider", "add", "awesome_cloud", "--name", "q", *add_args, "--database", db_url],
        ["keys", "rotate", "--database", db_url],
        ["verify", "awesome_cloud", "--args", str(args)],
    ]
    for command in commands:
        done = run_cli(env, *command)
        assert done.returncode == 11, (command, done.stderr)
        assert done.stderr.count("\n") == 1, done.stderr
        assert str(key) in done.stderr and "MIQSPEC_KEY_FILE" in done.stderr, done.stderr
        if command[0] != "verify":
            assert "put the key file back" in done.stderr
        assert not key.exists(), command  # no new key
    with open_db(db_url, tmp_path) as db:
        assert stored_password(db.engine) == encrypted
        assert api.provider_names(db) == [NAME]
    # the backup where MIQSPEC_KEY_FILE says, then back in its place
    elsewhere = {**env, "MIQSPEC_KEY_FILE": str(backup)}
    assert run_cli(elsewhere, "refresh", NAME, "--database", db_url).returncode == 0
    backup.rename(key)
    assert run_cli(env, "refresh", NAME, "--database", db_url).returncode == 0
    assert run_cli(env, "verify", "awesome_cloud", "--args", str(args)).returncode == 0
    with open_db(db_url, tmp_path) as db:
        assert_complete(db, sim)


def test_a_database_without_secrets_still_gets_a_new_key(
    db_url: str, tmp_path: Path, sim: Simulator
) -> None:
    env = {**cli_env(tmp_path), "AC_SECRET": sim.options.secret_key}
    key = Path(env["MIQSPEC_KEY_FILE"])
    assert run_cli(env, "db", "--database", db_url).returncode == 0
    assert not key.exists()
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
        f"authentications.default.userid={sim.options.access_key}",
        "--secret-env",
        "authentications.default.password=AC_SECRET",
        "--database",
        db_url,
    )
    assert added.returncode == 0, added.stderr
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert run_cli(env, "refresh", NAME, "--database", db_url).returncode == 0
