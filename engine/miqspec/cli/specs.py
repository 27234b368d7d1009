"""Spec commands: ``validate``, ``schema``, ``new``, ``form`` and ``regions``.

Registered on the ``miqspec`` group. A SPEC is a file or the name of a shipped spec (an
existing file wins). Prints findings, JSON and tables; writes a file for ``-o``. Terminal and
file I/O only; the work happens in ``miqspec.api``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from miqspec import api
from miqspec.cli.app import main
from miqspec.cli.options import database_option, echo_json, format_option, open_db, spec_argument
from miqspec.cli.output import echo
from miqspec.cli.report import Table
from miqspec.errors import UsageError


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@format_option
def validate(files: tuple[str, ...], fmt: str) -> None:
    """Lint specs FILES (paths or shipped spec names); print every problem as
    file:line:col: path: message.

    \b
    Exit 0 when all are valid, 1 when any is not, 2 on usage errors.
    Example: miqspec validate provider_specs/*.yaml
    """
    findings = []
    for ref in files:
        if not api.spec_path(ref).exists():
            click.echo(f"miqspec: error: {ref}: no such file", err=True)
            sys.exit(2)
        findings.extend(api.validate_spec(ref))
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
def schema(output: str | None) -> None:
    """Print the JSON Schema of the spec language (for editors).

    \b
    Example: miqspec schema -o schemas/spec.schema.json
    then start a spec with: # yaml-language-server: $schema=../schemas/spec.schema.json
    """
    text = json.dumps(api.json_schema(), indent=2) + "\n"
    if output:
        Path(output).write_text(text, encoding="utf-8")
    else:
        click.echo(text, nl=False)


@main.command()
@click.argument("name")
@click.option("--manager-type", required=True, type=click.Choice(list(api.MANAGER_TYPES)))
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False), help="Write the spec here (default: stdout)."
)
def new(name: str, manager_type: str, output: str | None) -> None:
    """Write a valid starting spec for provider NAME.

    \b
    Example: miqspec new my_cloud --manager-type cloud -o provider_specs/my_cloud.yaml
    """
    text = api.new_spec(name, manager_type)
    if output:
        if Path(output).exists():
            click.echo(f"miqspec: error: {output} exists; not overwriting", err=True)
            sys.exit(2)
        Path(output).write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}")
    else:
        click.echo(text, nl=False)


@main.command()
@spec_argument
@click.option(
    "--provisioning", is_flag=True, help="The provisioning dialog instead of the create form."
)
@click.option(
    "--provider",
    metavar="NAME",
    help="With --provisioning: fill the choices from provider NAME's inventory.",
)
@database_option
def form(spec: str, provisioning: bool, provider: str | None, database: str | None) -> None:
    """Print the params_for_create data-driven-forms JSON of SPEC (a file or a shipped name),
    or with --provisioning its provisioning dialog.

    \b
    Example: miqspec form awesome_cloud
             miqspec form awesome_cloud --provisioning --provider ac
    """
    loaded = api.load_spec(spec)
    if not provisioning:
        if provider is not None:
            raise UsageError("--provider goes with --provisioning")
        echo_json(api.params_for_create(loaded))
        return
    db = open_db(database, write=False) if provider is not None else None
    echo_json(api.provisioning_form(loaded, db, provider))


@main.command()
@spec_argument
@format_option
def regions(spec: str, fmt: str) -> None:
    """List the regions of SPEC (a file or a shipped name).

    \b
    Example: miqspec regions awesome_cloud
    """
    loaded = api.load_spec(spec)
    if fmt == "json":
        echo_json([dict(r.attributes) for r in loaded.regions])
    else:
        echo(
            Table(
                ("name", "hostname", "description"),
                tuple((r.name, r.hostname, r.description) for r in loaded.regions),
            )
        )
