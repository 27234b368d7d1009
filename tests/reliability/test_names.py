"""Provider names follow one rule, and a password typed into an endpoint URL is refused.

The rule (docs/cli.md): 1 to 255 characters, not blank, no leading or trailing whitespace, no
control characters, line separators, bidirectional controls or undecodable bytes. Names
against it are refused with a one-line usage error (exit 2) that names the problem, and
nothing is stored; any other text is a fine name. A URL with a password
(`https://user:pass@host`) would be stored unencrypted in `endpoints.url`: refused, without
the password in the message. On SQLite and PostgreSQL, through the API and real processes.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from miqspec import api
from miqspec.errors import UsageError
from miqspec.simulator import Simulator

from ..conftest import sim_args
from .test_locks import MIQSPEC, cli_env, open_db, run_cli

BAD_NAMES = {
    "empty": ("", "is empty"),
    "blank": ("   ", "is blank"),
    "tab only": ("\t", "is blank"),
    "256 characters": ("a" * 256, "is 256 characters long"),
    "100,000 characters": ("x" * 100_000, "is 100000 characters long"),
    "leading space": (" aws", "starts or ends with whitespace"),
    "trailing newline": ("aws\n", "starts or ends with whitespace"),
    "newline": ("a\nb", "a control character (U+000A) at position 2"),
    "carriage return": ("a\rb", "(U+000D)"),
    "NUL": ("a\x00b", "a control character (U+0000) at position 2"),
    "escape": ("red\x1b[31m", "(U+001B)"),
    "DEL": ("a\x7f", "(U+007F)"),
    "C1 NEL": ("a\x85b", "(U+0085)"),
    "line separator": ("a\u2028b", "a line separator (U+2028)"),
    "RLO": ("evil\u202egnp.exe", "a bidirectional control (U+202E) at position 5"),
    "LRE": ("a\u202ab", "(U+202A)"),
    "LRI": ("a\u2066b", "(U+2066)"),
    "PDI": ("a\u2069b", "(U+2069)"),
    "RLM": ("a\u200fb", "(U+200F)"),
    "lone surrogate": ("bad\udcffname", "bytes that are not UTF-8 text (U+DCFF)"),
}
GOOD_NAMES = ["a" * 255, "東京-1", "prod cloud (eu)", "café ✓ 🚀", "x"]


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator(instances=5, flavors=2, images=2) as s:
        yield s


@pytest.fixture
def db(db_url: str, tmp_path: Path) -> Iterator[api.Database]:
    with open_db(db_url, tmp_path) as opened:
        yield opened


def add(db: api.Database, name: str, args: dict[str, Any]) -> api.ProviderInfo:
    return api.add_provider(db, api.load_spec("awesome_cloud"), name, args)


def test_names_against_the_rule_are_refused(db: api.Database, sim: Simulator) -> None:
    for label, (name, reason) in BAD_NAMES.items():
        with pytest.raises(UsageError) as caught:
            add(db, name, sim_args(sim))
        message = str(caught.value)
        assert reason in message, (label, message)
        assert "a provider name is 1 to 255 characters" in message
        assert message.isprintable() and len(message) < 600, label
    assert api.provider_names(db) == []


def test_other_names_are_fine(db: api.Database, sim: Simulator) -> None:
    for name in GOOD_NAMES:
        assert add(db, name, sim_args(sim)).name == name
    assert sorted(api.provider_names(db)) == sorted(GOOD_NAMES)
    assert api.refresh(db, "東京-1").ok


def test_the_cli_refuses_bad_names_in_one_line(tmp_path: Path, sim: Simulator) -> None:
    db_url = f"sqlite:///{tmp_path / 'x.db'}"  # the rule is checked before any database work
    env = {**cli_env(tmp_path), "AC_SECRET": sim.options.secret_key}
    common = ["--region", "us-east-1", "--set", f"endpoints.default.url={sim.url}"]
    common += ["--set", "authentications.default.userid=AKIA-SIM"]
    common += ["--secret-env", "authentications.default.password=AC_SECRET", "--database", db_url]
    assert run_cli(env, "db", "--database", db_url).returncode == 0
    names: list[bytes] = [b"bad\xffname", b"a\nb", b"evil\xe2\x80\xaeexe", b"y" * 100_000]
    for name in names:
        done = subprocess.run(
            [os.fsencode(MIQSPEC), b"provider", b"add", b"awesome_cloud", b"--name", name]
            + [os.fsencode(a) for a in common],
            env=env,
            capture_output=True,
            timeout=120,
            check=False,
        )
        err = done.stderr.decode("utf-8")
        assert done.returncode == 2, (name[:20], err)
        assert err.count("\n") == 1 and err.startswith("miqspec: error: provider name")
        assert "Traceback" not in err and len(err) < 700
    listed = run_cli(env, "provider", "list", "--format", "json", "--database", db_url)
    assert listed.returncode == 0 and listed.stdout.strip() == "[]"


@pytest.mark.parametrize(
    "url",
    [
        "http://admin:hunter2@{host}/v1",
        "http://:hunter2@{host}/v1",
        "HTTPS://admin:hunter2@{host}/v1",
        " http://admin:hunter2@{host}/v1",
    ],
)
def test_a_password_in_an_endpoint_url_is_refused(
    db: api.Database, sim: Simulator, url: str
) -> None:
    args = sim_args(sim)
    host = sim.url.split("//", 1)[1].split("/", 1)[0]
    args["endpoints"]["default"]["url"] = url.format(host=host)
    with pytest.raises(UsageError) as caught:
        add(db, "p", args)
    message = str(caught.value)
    assert "endpoints.default.url holds a password" in message
    assert "authentications.<role>.password" in message and "hunter2" not in message
    assert api.provider_names(db) == []


def test_urls_without_a_password_are_kept_and_broken_ones_refused(
    db: api.Database, sim: Simulator
) -> None:
    args = sim_args(sim)
    args["endpoints"]["default"]["url"] = sim.url.replace("//", "//AKIA-SIM@")  # user only
    add(db, "user-only", args)
    assert api.refresh(db, "user-only").ok
    for broken in ("http://[::1/v1", "http://127.0.0.1:port/v1"):
        args["endpoints"]["default"]["url"] = broken
        with pytest.raises(UsageError, match=r"endpoints\.default\.url is not a valid URL"):
            add(db, "broken", args)
    assert api.provider_names(db) == ["user-only"]


def test_the_cli_refuses_a_password_in_a_url(tmp_path: Path, sim: Simulator) -> None:
    db_url = f"sqlite:///{tmp_path / 'x.db'}"
    env = {**cli_env(tmp_path), "AC_SECRET": sim.options.secret_key}
    assert run_cli(env, "db", "--database", db_url).returncode == 0
    url = sim.url.replace("//", "//admin:hunter2@")
    done = run_cli(
        env,
        "provider",
        "add",
        "awesome_cloud",
        "--name",
        "p",
        "--region",
        "us-east-1",
        "--set",
        f"endpoints.default.url={url}",
        "--set",
        "authentications.default.userid=AKIA-SIM",
        "--secret-env",
        "authentications.default.password=AC_SECRET",
        "--database",
        db_url,
    )
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert "holds a password" in done.stderr and "hunter2" not in done.stderr
