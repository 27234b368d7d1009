"""The author's kit commands: ``try`` (one call, its records and rows, no database) and
``test`` (replay a cassette against an expectations file).

Registered on the ``miqspec`` group. Takes: a spec, a call or a cassette, the argument hash
(``--args`` JSON/YAML inline, from a file or ``-`` for stdin; ``--set FIELD=VALUE``;
``--secret-env FIELD=ENVVAR``). Gives: text or ``--format json`` on stdout. Raises
``UsageError`` for malformed arguments. Adds ``--with-test`` to ``new`` (an ``expected.yaml``
next to the spec); ``test`` exits with 12 when an
expectation is not met, one line per mismatch. Terminal I/O only, through ``miqspec.api``.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import click
import yaml

from miqspec import api
from miqspec.cli.app import main
from miqspec.cli.options import (
    echo_json,
    format_option,
    parse_pairs,
    replay_ignore_option,
    replay_options,
    spec_argument,
)
from miqspec.cli.output import echo
from miqspec.cli.specs import new as new_cmd
from miqspec.errors import UsageError

_args_options = [
    click.option(
        "--args",
        "args_text",
        metavar="JSON|FILE|-",
        help="The argument hash (as ManageIQ's UI sends it): inline JSON/YAML, a file, or - "
        "for stdin.",
    ),
    click.option(
        "--set",
        "sets",
        multiple=True,
        metavar="FIELD=VALUE",
        help="A form field, e.g. endpoints.default.url=http://... (repeatable; wins over --args).",
    ),
    click.option(
        "--secret-env",
        multiple=True,
        metavar="FIELD=ENVVAR",
        help="Read a form field (a password) from an environment variable.",
    ),
]


def _with_args(fn: Any) -> Any:
    for option in reversed(_args_options):
        fn = option(fn)
    return fn


def _read_args(
    text: str | None, sets: tuple[str, ...], secret_env: tuple[str, ...]
) -> dict[str, Any] | None:
    """The argument hash from ``--args``, ``--set`` and ``--secret-env`` (None: none given)."""
    if text is None and not sets and not secret_env:
        return None
    base: Any = {}
    if text is not None:
        source = text
        if text == "-":
            source = sys.stdin.read()
        elif not text.lstrip().startswith("{"):
            if not os.path.isfile(text):
                raise UsageError(f"--args: {text} is not a file (nor inline JSON or YAML)")
            with open(text, encoding="utf-8") as stream:
                source = stream.read()
        try:
            base = yaml.safe_load(source)
        except yaml.YAMLError:
            raise UsageError("--args is not valid JSON or YAML (nor a file)") from None
        if not isinstance(base, dict):
            raise UsageError("--args must be a mapping (the ManageIQ argument hash)")
    flat: dict[str, Any] = dict(parse_pairs(sets, "--set"))
    for field_name, var in parse_pairs(secret_env, "--secret-env").items():
        if var not in os.environ:
            raise UsageError(f"--secret-env {field_name}: environment variable {var} is not set")
        flat[field_name] = os.environ[var]
    return _merge(base, api.nest_form(flat))


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


@main.command("try")
@spec_argument
@click.argument("call", metavar="CALL")
@_with_args
@replay_options
@click.option("--sample", default=3, show_default=True, help="Records and rows shown.")
@format_option
def try_cmd(
    spec: str,
    call: str,
    args_text: str | None,
    sets: tuple[str, ...],
    secret_env: tuple[str, ...],
    replay: str | None,
    replay_ignore: tuple[str, ...],
    sample: int,
    fmt: str,
) -> None:
    """Run one CALL of SPEC (with its login, pagination and the calls it needs) and show the
    first page's raw response, the records and the rows the mappings make. No database.

    \b
    Examples:
      miqspec try my_cloud.yaml get_servers --args args.json
      miqspec try my_cloud.yaml get_servers --args args.json --replay refresh.yml
    """
    loaded = api.load_spec(spec)
    args = _read_args(args_text, sets, secret_env) or {}
    result = api.try_call(
        loaded, call, args, replay=replay, replay_ignore=replay_ignore, sample=max(0, sample)
    )
    if fmt == "json":
        echo_json(result.to_dict())
        return
    cut = " (truncated)" if result.truncated else ""
    lines = [
        f"{result.request} -> {result.status}",
        f"first page{cut}:",
        result.raw,
        "",
        f"records: {result.records} from {result.pages} page(s)",
    ]
    lines += [f"  {json.dumps(r, default=str, ensure_ascii=False)}" for r in result.sample]
    for name, made in result.rows.items():
        dropped = ", ".join(f"{k}: {v}" for k, v in made["dropped"].items())
        lines.append(
            f"{name}: {made['count']} row(s)" + (f" (dropped {dropped})" if dropped else "")
        )
        lines += [f"  {json.dumps(r, default=str, ensure_ascii=False)}" for r in made["rows"]]
    if not result.rows:
        lines.append("no collection reads this call")
    click.echo("\n".join(lines))


@main.command("test")
@spec_argument
@click.option(
    "--cassette",
    required=True,
    type=click.Path(dir_okay=False),
    help="The VCR cassette to replay (miqspec refresh NAME --record FILE).",
)
@click.option(
    "--expect",
    required=True,
    type=click.Path(dir_okay=False),
    help="The expectations YAML file (docs/adding-a-provider.md, 'Golden test').",
)
@_with_args
@replay_ignore_option
@format_option
def test_cmd(
    spec: str,
    cassette: str,
    expect: str,
    args_text: str | None,
    sets: tuple[str, ...],
    secret_env: tuple[str, ...],
    replay_ignore: tuple[str, ...],
    fmt: str,
) -> None:
    """Replay CASSETTE into a temporary database and check the counts and attributes of
    EXPECT. Exit 0 when all hold, 12 with one line per mismatch, or the refresh's own code.

    \b
    Example:
      miqspec test my_cloud.yaml --cassette tests/refresh.yml --expect tests/expected.yaml
    """
    loaded = api.load_spec(spec)
    expected = api.load_expectations(expect)
    args = _read_args(args_text, sets, secret_env)
    if args is not None:
        args = _merge(expected.get("args") or {}, args)
    result = api.test_spec(loaded, cassette, expected, args, replay_ignore=replay_ignore)
    if fmt == "json":
        echo_json(result.to_dict())
    elif result.error is not None:
        echo(f"FAILED: {result.error}")
    elif result.mismatches:
        echo(*(f"FAILED: {m}" for m in result.mismatches))
    else:
        counts = ", ".join(f"{n} {c}" for n, c in result.counts.items() if c)
        echo(f"ok: every expectation holds ({counts})")
    sys.exit(result.exit_code)


def _add_with_test(command: click.Command) -> None:
    """``miqspec new ... -o SPEC --with-test``: also write ``expected.yaml`` next to SPEC (a
    starting expectations file for ``miqspec test``); never overwrites; needs ``-o``."""
    command.params.append(
        click.Option(
            ["--with-test"],
            is_flag=True,
            help="Also write expected.yaml next to the spec (needs -o): the expectations of "
            "miqspec test (docs/adding-a-provider.md).",
        )
    )
    inner = command.callback
    assert inner is not None

    def callback(with_test: bool, **kwargs: Any) -> None:
        output = kwargs.get("output")
        target = Path(output or ".").parent / "expected.yaml"
        if with_test and not output:
            raise UsageError("--with-test needs -o (expected.yaml goes next to the spec)")
        if with_test and target.exists():
            raise UsageError(f"{target} exists; not overwriting")
        inner(**kwargs)
        if with_test:
            target.write_text(api.expectations_for(api.load_spec(output or "")), encoding="utf-8")
            click.echo(f"wrote {target}")

    command.callback = callback


_add_with_test(new_cmd)
