"""Errors become one stderr line and an exit code in one place: the group's ``invoke``."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from miqspec.cli.app import MiqspecGroup, main
from miqspec.errors import MiqspecError, NotFoundError, SpecError


def group_raising(exc: BaseException) -> MiqspecGroup:
    """A group like ``main`` with one command that raises ``exc`` (and a nested group)."""
    group = MiqspecGroup("g")

    @group.command()
    def boom() -> None:
        raise exc

    @group.group()
    def inner() -> None:
        pass

    @inner.command("boom")
    def inner_boom() -> None:
        raise exc

    return group


@pytest.mark.parametrize(
    ("exc", "code", "line"),
    [
        (NotFoundError("no provider named 'x'"), 10, "miqspec: error: no provider named 'x'"),
        (SpecError("x.yaml:1:1: cannot read"), 1, "miqspec: error: x.yaml:1:1: cannot read"),
        (MiqspecError("other"), 11, "miqspec: error: other"),
        (KeyboardInterrupt(), 130, "miqspec: interrupted"),
        (
            ValueError("bad"),
            70,
            "miqspec: internal error: ValueError: bad (set MIQSPEC_DEBUG=1 for the traceback "
            "and please report it)",
        ),
    ],
)
@pytest.mark.parametrize("path", [["boom"], ["inner", "boom"]])
def test_errors_print_one_line_and_exit_with_their_code(
    exc: BaseException, code: int, line: str, path: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MIQSPEC_DEBUG", raising=False)
    result = CliRunner().invoke(group_raising(exc), path)
    assert result.exit_code == code
    assert (result.stdout, result.stderr) == ("", line + "\n")


def test_debug_shows_the_internal_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MIQSPEC_DEBUG", "1")
    result = CliRunner().invoke(group_raising(ValueError("bad")), ["boom"])
    assert isinstance(result.exception, ValueError)


def test_click_reports_its_own_usage_errors() -> None:
    result = CliRunner().invoke(main, ["provider", "show"])
    assert result.exit_code == 2 and "Missing argument 'NAME'" in result.stderr
    assert "miqspec: error" not in result.stderr


# options a command declares differently on purpose: the demo's own database, and the
# inventory's csv format (one collection's rows)
OWN_OPTIONS = {
    ("demo", "--database"),
    ("inventory", "--format"),  # text, json or csv
    ("metrics show", "--format"),  # a table and charts, json or csv
    ("metrics report", "--format"),  # csv by default (chargeback)
}


def test_shared_options_are_declared_once() -> None:
    """``--database``, ``--format`` and ``--replay`` carry the same help wherever they appear."""
    helps: dict[str, set[str]] = {}

    def walk(command: object, path: str) -> None:
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, f"{path} {name}".strip())
        for param in getattr(command, "params", []):
            for opt in getattr(param, "opts", []):
                if (path, opt) not in OWN_OPTIONS:
                    helps.setdefault(opt, set()).add(str(getattr(param, "help", "")))

    walk(main, "")
    for opt in ("--database", "--format", "--replay", "--replay-ignore-param"):
        assert len(helps[opt]) == 1, (opt, helps[opt])
