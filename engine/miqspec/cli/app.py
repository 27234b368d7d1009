"""The ``miqspec`` command line. Parses arguments, calls ``pipeline``/``specs``, prints results.

Every ``MiqspecError`` is caught once here and printed as one line on stderr with its exit code
(see docs/cli.md). Does terminal I/O only; the work happens in the modules it calls.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from miqspec.errors import MiqspecError
from miqspec.spec import MANAGER_TYPES
from miqspec.version import __version__

F = TypeVar("F", bound=Callable[..., Any])


def reports_errors(fn: F) -> F:
    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except MiqspecError as exc:
            click.echo(f"miqspec: error: {exc}", err=True)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("miqspec: interrupted", err=True)
            sys.exit(130)
        except Exception as exc:  # last resort: one line, never a traceback
            if os.environ.get("MIQSPEC_DEBUG"):
                raise
            click.echo(
                f"miqspec: internal error: {type(exc).__name__}: {exc} (set "
                "MIQSPEC_DEBUG=1 for the traceback and please report it)",
                err=True,
            )
            sys.exit(70)

    return wrapper  # type: ignore[return-value]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="miqspec")
def main() -> None:
    """miqspec: ManageIQ-style providers as one YAML spec.

    \b
    Write a spec, lint it, run it:
      miqspec new my_cloud --manager-type cloud > provider_specs/my_cloud.yaml
      miqspec validate provider_specs/*.yaml
      miqspec demo
    """


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Findings as text lines or a JSON list.",
)
@reports_errors
def validate(files: tuple[str, ...], fmt: str) -> None:
    """Lint spec FILES; print every problem as file:line:col: path: message.

    \b
    Exit 0 when all are valid, 1 when any is not, 2 on usage errors.
    Example: miqspec validate provider_specs/*.yaml
    """
    from miqspec.spec import check_file

    findings = []
    for path in files:
        if not Path(path).exists():
            click.echo(f"miqspec: error: {path}: no such file", err=True)
            sys.exit(2)
        findings.extend(check_file(path))
    if fmt == "json":
        click.echo(json.dumps([f.as_dict() for f in findings], indent=2))
    else:
        for f in findings:
            click.echo(str(f))
            if f.caret:
                for line in f.caret.splitlines():
                    click.echo(f"    | {line}")
        if not findings:
            click.echo(f"{len(files)} spec(s) valid")
    sys.exit(1 if findings else 0)


@main.command()
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write to this file.")
@reports_errors
def schema(output: str | None) -> None:
    """Print the JSON Schema of the spec language (for editors).

    \b
    Example: miqspec schema -o schemas/spec.schema.json
    then start a spec with: # yaml-language-server: $schema=../schemas/spec.schema.json
    """
    from miqspec.spec import json_schema

    text = json.dumps(json_schema(), indent=2) + "\n"
    if output:
        Path(output).write_text(text, encoding="utf-8")
    else:
        click.echo(text, nl=False)


@main.command()
@click.argument("name")
@click.option(
    "--manager-type",
    required=True,
    type=click.Choice(list(MANAGER_TYPES)),
)
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False), help="Write the spec here (default: stdout)."
)
@reports_errors
def new(name: str, manager_type: str, output: str | None) -> None:
    """Write a valid starting spec for provider NAME.

    \b
    Example: miqspec new my_cloud --manager-type cloud -o provider_specs/my_cloud.yaml
    """
    from miqspec.spec import new_spec

    text = new_spec(name, manager_type)
    if output:
        if Path(output).exists():
            click.echo(f"miqspec: error: {output} exists; not overwriting", err=True)
            sys.exit(2)
        Path(output).write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}")
    else:
        click.echo(text, nl=False)
