"""What people see: plain text through a pipe (no escape codes, the same text as ever), colours
on a terminal or when forced (FORCE_COLOR), none with NO_COLOR, --no-color or TERM=dumb; JSON
never changes; the refresh summary counts reconnected rows (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from miqspec.cli.app import main
from miqspec.simulator import Simulator

from ..conftest import AWESOME

MIQSPEC = str(Path(sys.executable).with_name("miqspec"))
SECRET = "sim-secret"
ESC = "\x1b"
ANSI = re.compile(r"\x1b\[[0-9;]*m")
COLOUR_VARS = ("NO_COLOR", "FORCE_COLOR", "TERM", "COLORTERM", "TTY_COMPATIBLE", "COLUMNS")


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(instances=12, flavors=3, images=4) as s:
        yield s


def base_env(tmp_path: Path, db_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in COLOUR_VARS}
    env.update(
        MIQSPEC_DATABASE_URL=db_url,
        MIQSPEC_KEY_FILE=str(tmp_path / "key" / "v2_key"),
        AC_SECRET=SECRET,
        TERM="xterm-256color",
    )
    return {**env, **extra}


def run(env: dict[str, str], *args: str, code: int = 0) -> str:
    """``miqspec ARGS`` in a subprocess, stdout and stderr through pipes; its stdout."""
    done = subprocess.run(
        [MIQSPEC, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == code, done.stdout + done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    return done.stdout


def invoke(env: dict[str, str], *args: str) -> str:
    """``miqspec ARGS`` in this process (click's runner: stdout is not a terminal) with the
    colour variables of ``env`` alone; its stdout."""
    wanted = {k: env.get(k) for k in (*COLOUR_VARS, "MIQSPEC_DATABASE_URL", "MIQSPEC_KEY_FILE")}
    result = CliRunner().invoke(main, list(args), env=wanted, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def run_in_terminal(env: dict[str, str], *args: str) -> str:
    """``miqspec ARGS`` with stdout and stderr on a pseudo-terminal; what it wrote there."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [MIQSPEC, *args], env=env, stdin=subprocess.DEVNULL, stdout=follower, stderr=follower
    )
    os.close(follower)
    out = b""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        ready, _, _ = select.select([leader], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal closed: the process is done
                break
            if not chunk:
                break
            out += chunk
        elif proc.poll() is not None:
            break
    os.close(leader)
    assert proc.wait(timeout=30) == 0, out
    return out.decode().replace("\r\n", "\n")


def add_provider(env: dict[str, str], sim: Simulator, name: str = "ac1") -> None:
    run(
        env,
        "provider",
        "add",
        str(AWESOME),
        "--name",
        name,
        "--region",
        "us-east-1",
        "--set",
        f"endpoints.default.url={sim.url}",
        "--set",
        f"authentications.default.userid={sim.options.access_key}",
        "--secret-env",
        "authentications.default.password=AC_SECRET",
    )


def table_after(text: str, first_header: str) -> dict[str, dict[str, str]]:
    """The plain table whose header starts with ``first_header``: row name -> column -> cell."""
    lines = text.splitlines()
    at = next(i for i, line in enumerate(lines) if line.split()[:1] == [first_header])
    headers = lines[at].split()
    assert set(lines[at + 1].replace(" ", "")) == {"-"}
    rows = {}
    for line in lines[at + 2 :]:
        if not line.strip():
            break
        cells = line.split()
        rows[cells[0]] = dict(zip(headers, cells, strict=True))
    return rows


def words(text: str) -> list[str]:
    """The words of a text, less the rules under table headers (dashes, box lines)."""
    return [w for w in text.split() if w == "-" or set(w) - {"-", "─"}]


def test_piped_output_is_plain_and_colour_comes_only_when_forced(tmp_path, sim):
    env = base_env(tmp_path, f"sqlite:///{tmp_path / 'inventory.db'}")
    forced = base_env(tmp_path, env["MIQSPEC_DATABASE_URL"], FORCE_COLOR="1")
    add_provider(env, sim)
    refreshed = run(env, "refresh", "ac1")
    assert ESC not in refreshed and refreshed.startswith("Refresh of ac1: ok\n\ncall  ")
    coloured = run(forced, "refresh", "ac1")
    assert "\x1b[1;32mok" in coloured  # the ok marker in bold green
    assert words(ANSI.sub("", coloured))[:14] == words(refreshed)[:14]  # up to the timings
    assert "reconnected" in ANSI.sub("", coloured)

    commands = [
        ("inventory", "ac1"),
        ("inventory", "ac1", "flavors"),
        ("provider", "list"),
        ("provider", "show", "ac1"),
        ("regions", "awesome_cloud"),
    ]
    piped = {cmd: run(env, *cmd) for cmd in commands}
    for cmd, out in piped.items():
        assert ESC not in out, cmd
    assert piped[("inventory", "ac1")] == (
        "collection          rows\n"
        "------------------  ----\n"
        "availability_zones     3\n"
        "flavors                3\n"
        "miq_templates          4\n"
        "vms                   12\n"
    )
    assert re.search(r"^last error +-$", piped[("provider", "show", "ac1")], re.M)
    assert run(forced, "--no-color", *commands[1]) == piped[commands[1]]
    no_color = base_env(tmp_path, env["MIQSPEC_DATABASE_URL"], FORCE_COLOR="1", NO_COLOR="1")
    dumb = base_env(tmp_path, env["MIQSPEC_DATABASE_URL"], TERM="dumb")
    for cmd in commands:
        assert invoke(no_color, *cmd) == piped[cmd], cmd
        assert invoke(forced, "--no-color", *cmd) == piped[cmd], cmd
        assert invoke(dumb, *cmd) == piped[cmd], cmd
        out = invoke(forced, *cmd)
        assert ESC + "[" in out, cmd
        # the same words, drawn as rich tables (none squeezed or cut)
        assert words(ANSI.sub("", out)) == words(piped[cmd]), (cmd, out)


def test_json_and_csv_are_the_same_bytes_coloured_or_not(tmp_path, sim):
    env = base_env(tmp_path, f"sqlite:///{tmp_path / 'inventory.db'}")
    add_provider(env, sim)
    run(env, "refresh", "ac1", "--quiet")
    forced = base_env(tmp_path, env["MIQSPEC_DATABASE_URL"], FORCE_COLOR="1")
    assert run(forced, "inventory", "ac1", "vms", "--format", "json") == run(
        env, "inventory", "ac1", "vms", "--format", "json"
    )
    for cmd in (
        ("inventory", "ac1", "vms", "--format", "csv"),
        ("inventory", "ac1", "--format", "json"),
        ("provider", "list", "--format", "json"),
        ("provider", "show", "ac1", "--format", "json"),
        ("regions", "awesome_cloud", "--format", "json"),
    ):
        assert invoke(forced, *cmd) == invoke(env, *cmd), cmd
    out = run(forced, "refresh", "ac1", "--format", "json")
    assert ESC not in out and json.loads(out)[0]["ok"]


def test_a_terminal_gets_colours_unless_no_color_or_a_dumb_terminal(tmp_path, sim):
    env = base_env(tmp_path, f"sqlite:///{tmp_path / 'inventory.db'}")
    add_provider(env, sim)
    out = run_in_terminal(env, "refresh", "ac1")
    assert ESC + "[" in out
    text = ANSI.sub("", out)
    assert "Refresh of ac1: ok" in text and "rows written:" in text
    # the progress line of each call, left on the terminal above the summary
    assert re.search(r"get_instances +12 record\(s\), 1 page\(s\)", text)
    assert "\x1b[1;32mok" in out
    for off in ({"NO_COLOR": "1"}, {"TERM": "dumb"}):
        plain = run_in_terminal({**env, **off}, "provider", "list")
        assert ESC + "[3" not in plain and ESC + "[1m" not in plain, off
        assert plain.startswith("name  ") and "ac1" in plain
    assert ESC + "[" not in run_in_terminal(env, "--no-color", "inventory", "ac1")
    dumb = run_in_terminal({**env, "TERM": "dumb"}, "refresh", "ac1")
    assert ESC not in dumb and "ac1: collect\n" in dumb  # progress as plain lines


# -- reconnected rows ---------------------------------------------------------------------


@pytest.fixture
def cli(tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("MIQSPEC_DATABASE_URL", db_url)
    monkeypatch.setenv("MIQSPEC_KEY_FILE", str(tmp_path / "key" / "v2_key"))
    monkeypatch.setenv("AC_SECRET", SECRET)
    for name in COLOUR_VARS:
        monkeypatch.delenv(name, raising=False)
    runner = CliRunner()

    def invoke(*args: str) -> str:
        result = runner.invoke(main, list(args), catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.stdout

    return invoke


def test_the_summary_shows_archived_rows_taken_back(cli, sim):
    cli(
        "provider",
        "add",
        str(AWESOME),
        "--name",
        "ac1",
        "--region",
        "us-east-1",
        "--set",
        f"endpoints.default.url={sim.url}",
        "--set",
        f"authentications.default.userid={sim.options.access_key}",
        "--secret-env",
        "authentications.default.password=AC_SECRET",
    )
    cli("refresh", "ac1", "--quiet")
    gone = sim.mutate(remove=2)["removed"]
    gone_out = table_after(cli("refresh", "ac1", "--quiet"), "collection")
    assert gone_out["vms"]["disconnected"] == "2" and gone_out["vms"]["reconnected"] == "0"
    archived = json.loads(cli("inventory", "ac1", "vms", "--archived", "--format", "json"))
    assert {r["ems_ref"] for r in archived} == set(gone)
    sim.reset()  # the instances come back with the same ems_ref
    text = cli("refresh", "ac1", "--quiet")
    assert ESC not in text
    counts = table_after(text, "collection")
    assert list(counts["vms"]) == [
        "collection",
        "created",
        "updated",
        "deleted",
        "disconnected",
        "reconnected",
        "unchanged",
    ]
    assert counts["vms"]["reconnected"] == "2" and counts["vms"]["created"] == "0"
    assert counts["flavors"]["reconnected"] == "0"
    assert cli("inventory", "ac1", "vms", "--archived") == "no rows\n"

    sim.mutate(remove=2)
    cli("refresh", "ac1", "--quiet")
    sim.reset()
    again = json.loads(cli("refresh", "ac1", "--format", "json"))[0]
    assert again["collections"]["vms"]["reconnected"] == 2
    assert again["collections"]["vms"]["created"] == 0
