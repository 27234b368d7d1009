"""Provider commands: ``provider add|edit|list|show|delete|unlock|verify``, ``verify``, ``keys
rotate``, ``db``.

Registered on the ``miqspec`` group. Parses options, reads secrets from the environment, files
or a hidden prompt (never from the command line), calls ``miqspec.api`` and prints through
``report``. Raises ``UsageError`` for a secret given with ``--set``. Terminal I/O only.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import click
import yaml

from miqspec import api
from miqspec.cli.app import main
from miqspec.cli.options import (
    database_option,
    echo_json,
    format_option,
    open_db,
    parse_pairs,
    provider_argument,
    replay_options,
    spec_argument,
)
from miqspec.cli.output import echo
from miqspec.cli.report import Table, provider_fields, provider_json, verify_line
from miqspec.errors import UsageError


@main.group()
def provider() -> None:
    """Add, list, show, verify, delete and unlock providers."""


@provider.command("add")
@spec_argument
@click.option("--name", required=True, help="Provider name (unique).")
@click.option("--region", help="provider_region; must be one of the spec's regions.")
@click.option("--zone", default="default", show_default=True)
@click.option(
    "--set",
    "sets",
    multiple=True,
    metavar="FIELD=VALUE",
    help="A form field, e.g. authentications.default.userid=AKIA... (repeatable).",
)
@click.option(
    "--secret-env",
    multiple=True,
    metavar="FIELD=ENVVAR",
    help="Read a secret form field from an environment variable.",
)
@click.option(
    "--secret-file",
    multiple=True,
    metavar="FIELD=PATH",
    help="Read a secret form field from a file.",
)
@database_option
def provider_add(
    spec: str,
    name: str,
    region: str | None,
    zone: str,
    sets: tuple[str, ...],
    secret_env: tuple[str, ...],
    secret_file: tuple[str, ...],
    database: str | None,
) -> None:
    """Create the provider row for SPEC with its child managers and credentials.

    \b
    SPEC is a spec file or the name of a shipped spec (an existing file wins); a provider
    added from a shipped spec refers to it by name, so upgrades keep it working.
    Secrets are never taken from the command line: use --secret-env, --secret-file, or the
    prompt. Example:
      miqspec provider add awesome_cloud --name aws1 --region us-east-1 \\
        --set authentications.default.userid=AKIA-SIM \\
        --secret-env authentications.default.password=AWESOME_SECRET
    """
    loaded = api.load_spec(spec)
    values = _form_values(loaded, sets, secret_env, secret_file, prompt=sys.stdin.isatty())
    args = api.nest_form({**values, "provider_region": region})
    info = api.add_provider(open_db(database), loaded, name, args, zone=zone)
    click.echo(f"added provider {name!r} (id {info.id}, {loaded.provider.title})")


def _form_values(
    loaded: api.Spec,
    sets: tuple[str, ...],
    secret_env: tuple[str, ...],
    secret_file: tuple[str, ...],
    prompt: bool | tuple[str, ...],
) -> dict[str, Any]:
    """The flat form values of ``--set``, ``--secret-env`` and ``--secret-file``, and the
    secrets asked for on the terminal: all missing ones (``prompt`` True) or those named."""
    values: dict[str, Any] = parse_pairs(sets, "--set")
    envs = parse_pairs(secret_env, "--secret-env")
    files = parse_pairs(secret_file, "--secret-file")
    asked = tuple(prompt) if isinstance(prompt, tuple) else ()
    for option, names in (("--set", values), ("--secret-env", envs), ("--secret-file", files)):
        api.check_form_fields(loaded, list(names), option)
    api.check_form_fields(loaded, list(asked), "--prompt")
    secrets = set(loaded.secret_fields)
    for field_name in [*values, *asked]:
        if field_name in values and field_name in secrets:
            raise UsageError(f"{field_name} is a secret; use --secret-env or --secret-file")
        if field_name in asked and field_name not in secrets:
            raise UsageError(f"--prompt {field_name}: not a secret field; give it with --set")
    for field_name in loaded.secret_fields:
        label = next((f.label for f in loaded.form if f.name == field_name), field_name)
        if field_name in envs or field_name in files:
            values[field_name] = api.read_secret(envs.get(field_name), files.get(field_name), None)
        elif prompt is True or field_name in asked:
            if not sys.stdin.isatty():
                raise UsageError(f"--prompt {field_name} needs a terminal on stdin")
            values[field_name] = api.read_secret(None, None, _prompter(label))
    return values


@provider.command("edit")
@provider_argument
@click.option(
    "--spec",
    "spec",
    metavar="SPEC",
    help="A spec file or shipped spec name to refer to from now on (same provider kind).",
)
@click.option("--region", help="A new provider_region; must be one of the spec's regions.")
@click.option("--zone", help="Move the provider to this zone.")
@click.option(
    "--set",
    "sets",
    multiple=True,
    metavar="FIELD=VALUE",
    help="A form field to change, e.g. endpoints.default.url=https://... (repeatable).",
)
@click.option(
    "--secret-env",
    multiple=True,
    metavar="FIELD=ENVVAR",
    help="Change a secret form field to the value of an environment variable.",
)
@click.option(
    "--secret-file",
    multiple=True,
    metavar="FIELD=PATH",
    help="Change a secret form field to the contents of a file.",
)
@click.option(
    "--prompt",
    "prompts",
    multiple=True,
    metavar="FIELD",
    help="Ask for a new value of this secret field on the terminal (hidden).",
)
@database_option
def provider_edit(
    name: str,
    spec: str | None,
    region: str | None,
    zone: str | None,
    sets: tuple[str, ...],
    secret_env: tuple[str, ...],
    secret_file: tuple[str, ...],
    prompts: tuple[str, ...],
    database: str | None,
) -> None:
    """Change NAME's form fields, secrets, spec or zone, keeping its inventory.

    \b
    Only what is given changes; the rest is kept. Secrets are never taken from the command
    line: use --secret-env, --secret-file or --prompt. Examples:
      miqspec provider edit aws1 --set endpoints.default.url=https://new.example
      miqspec provider edit aws1 --secret-env authentications.default.password=NEW_SECRET
      miqspec provider edit aws1 --spec ./awesome_cloud.yaml
    """
    db = open_db(database, write=False)
    loaded = api.load_spec(spec) if spec else api.provider_spec(db, name)
    values = _form_values(loaded, sets, secret_env, secret_file, prompt=prompts)
    if region is not None:
        values["provider_region"] = region
    if not values and spec is None and zone is None:
        raise UsageError(
            "nothing to change: give --set, --secret-env, --secret-file, --prompt, "
            "--region, --zone or --spec"
        )
    info = api.edit_provider(db, name, values, spec=loaded if spec else None, zone=zone)
    click.echo(f"edited provider {name!r} (id {info.id}, spec {info.spec_source})")


@provider.command("list")
@format_option
@database_option
def provider_list(fmt: str, database: str | None) -> None:
    """List providers with region, credential status and last refresh."""
    infos = api.list_providers(open_db(database, write=False))
    if fmt == "json":
        echo_json([provider_json(i) for i in infos])
        return
    rows = tuple(
        (
            i.name,
            i.spec_name,
            i.region or "-",
            i.auth_status or "not verified",
            i.last_refresh_date.strftime("%Y-%m-%d %H:%M") if i.last_refresh_date else "never",
            "error" if i.last_refresh_error else "ok" if i.last_refresh_date else "-",
            i.event_stream or "-",
        )
        for i in infos
    )
    echo(
        Table(("name", "spec", "region", "credentials", "last refresh", "status", "events"), rows)
        if rows
        else "no providers (add one with: miqspec provider add SPEC --name ...)"
    )


@provider.command("show")
@provider_argument
@format_option
@database_option
def provider_show(name: str, fmt: str, database: str | None) -> None:
    """Status, spec, region, last refresh and credential status of NAME (never the password)."""
    info = api.provider_info(open_db(database, write=False), name)
    if fmt == "json":
        echo_json(provider_json(info))
    else:
        echo(provider_fields(info))


@provider.command("delete")
@provider_argument
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option(
    "--wait",
    type=click.FloatRange(0, 86400),
    default=60.0,
    show_default=True,
    metavar="SECONDS",
    help="How long to wait for a running refresh of NAME to finish (then exit 8).",
)
@database_option
def provider_delete(name: str, yes: bool, wait: float, database: str | None) -> None:
    """Delete NAME with its child managers, credentials and inventory.

    \b
    The delete takes NAME's refresh lock: a running refresh is waited for (--wait), and a
    refresh cannot start while the delete runs.
    """
    db = open_db(database, write=False)
    if not yes and not sys.stdin.isatty():
        raise UsageError(
            f"deleting provider {name!r} needs confirmation and stdin is not a terminal; "
            "pass --yes to delete without asking"
        )
    if not yes and not click.confirm(f"Delete provider {name!r} and its inventory?"):
        raise UsageError("not confirmed")
    api.delete_provider(db, name, wait=wait)
    click.echo(f"deleted provider {name!r}")


@provider.command("unlock")
@provider_argument
@click.option(
    "--force", is_flag=True, help="Unlock even when the holder runs on this host (it loses it)."
)
@database_option
def provider_unlock(name: str, force: bool, database: str | None) -> None:
    """Remove NAME's refresh lock, left by a process that cannot release it.

    \b
    A lock dies with its process on this host (and on PostgreSQL with its session); this is
    for the rest: a holder on a crashed host, a session the server still keeps. A holder
    still running on this host keeps its lock unless --force (exit 8). A refresh whose lock
    was removed saves nothing.
    """
    holder = api.unlock_provider(open_db(database, write=False), name, force=force)
    if holder is None:
        click.echo(f"provider {name!r} was not locked")
    else:
        click.echo(f"removed the refresh lock of provider {name!r}, held by {holder}")


@provider.command("verify")
@provider_argument
@replay_options
@database_option
def provider_verify(
    name: str, replay: str | None, replay_ignore: tuple[str, ...], database: str | None
) -> None:
    """Verify NAME's stored credentials and record the result (Valid, Invalid, ...)."""
    result = api.verify_provider(
        open_db(database, write=False), name, replay=replay, replay_ignore=replay_ignore
    )
    echo(verify_line(result, name))
    sys.exit(result.exit_code)


def _prompter(label: str) -> Callable[[], str]:
    def ask() -> str:
        return str(click.prompt(label, hide_input=True))

    return ask


@main.command("verify")
@spec_argument
@click.option(
    "--args",
    "args_file",
    required=True,
    type=click.File("r"),
    help="JSON (or YAML) argument hash as ManageIQ's UI sends it; - for stdin.",
)
@replay_options
def verify_cmd(
    spec: str, args_file: Any, replay: str | None, replay_ignore: tuple[str, ...]
) -> None:
    """Class-level verify of SPEC's credentials before any provider row exists.

    \b
    SPEC is a spec file or the name of a shipped spec. Passwords may be v2:{...} encrypted.
    Example:
      echo '{"provider_region": "us-east-1", "endpoints": {"default": {"url": "http://..."}},
             "authentications": {"default": {"userid": "AKIA-SIM", "password": "..."}}}' \\
        | miqspec verify awesome_cloud --args -
    """
    loaded = api.load_spec(spec)
    try:
        args = yaml.safe_load(args_file.read())
    except yaml.YAMLError:
        raise UsageError("--args is not valid JSON or YAML") from None
    if not isinstance(args, dict):
        raise UsageError("--args must be a mapping (the ManageIQ verify argument hash)")
    result = api.verify(loaded, args, replay=replay, replay_ignore=replay_ignore)
    echo(verify_line(result, loaded.provider.name))
    sys.exit(result.exit_code)


@main.group()
def keys() -> None:
    """Manage the credential encryption key file."""


@keys.command("rotate")
@database_option
def keys_rotate(database: str | None) -> None:
    """Add a new key and re-encrypt every stored credential with it."""
    count = api.rotate_keys(open_db(database))
    click.echo(f"rotated the key; re-encrypted {count} credential value(s)")


@main.command()
@database_option
def db(database: str | None) -> None:
    """Create or upgrade the inventory database to the current schema."""
    click.echo(f"database at revision {open_db(database).revision()}")
