"""Provider, verify, form, regions, refresh, inventory, demo, worker, simulate and keys commands.

Registered on the ``miqspec`` group by ``cli``. Parses options, calls ``pipeline``,
``providers``, ``forms`` and ``simulator``; prints through ``report``. Terminal I/O only.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from miqspec.cli.app import main, reports_errors
from miqspec.errors import UsageError


def _engine(database: str | None) -> Any:
    from miqspec.store import default_database_url, open_database, upgrade

    engine = open_database(database or default_database_url())
    upgrade(engine)
    return engine


database_option = click.option(
    "--database",
    metavar="URL",
    envvar="MIQSPEC_DATABASE_URL",
    help="SQLAlchemy URL (default: MIQSPEC_DATABASE_URL, else a SQLite file in "
    "~/.local/share/miqspec/miqspec.db).",
)


def _keyring() -> Any:
    from miqspec.store import KeyRing

    return KeyRing.load()


def _parse_pairs(pairs: tuple[str, ...], what: str) -> dict[str, str]:
    out = {}
    for pair in pairs:
        if "=" not in pair:
            raise UsageError(f"{what} expects FIELD=VALUE, got {pair!r}")
        k, v = pair.split("=", 1)
        out[k.strip()] = v
    return out


@main.group()
def provider() -> None:
    """Add, list, show, verify and delete providers."""


@provider.command("add")
@click.argument("spec_file", type=click.Path(exists=True, dir_okay=False))
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
@reports_errors
def provider_add(
    spec_file: str,
    name: str,
    region: str | None,
    zone: str,
    sets: tuple[str, ...],
    secret_env: tuple[str, ...],
    secret_file: tuple[str, ...],
    database: str | None,
) -> None:
    """Create the provider row for SPEC_FILE with its child managers and credentials.

    \b
    Secrets are never taken from the command line: use --secret-env, --secret-file, or the
    prompt. Example:
      miqspec provider add provider_specs/awesome_cloud.yaml --name aws1 --region us-east-1 \\
        --set authentications.default.userid=AKIA-SIM \\
        --secret-env authentications.default.password=AWESOME_SECRET
    """
    from miqspec.spec import load_spec
    from miqspec.store import ProviderStore, nest_form, read_secret

    spec = load_spec(spec_file)
    values = _parse_pairs(sets, "--set")
    secrets = set(spec.secret_fields)
    for field_name in values:
        if field_name in secrets:
            raise UsageError(f"{field_name} is a secret; use --secret-env or --secret-file")
    envs, files = (
        _parse_pairs(secret_env, "--secret-env"),
        _parse_pairs(secret_file, "--secret-file"),
    )
    for field_name in spec.secret_fields:
        label = next((f.label for f in spec.form if f.name == field_name), field_name)
        if field_name in envs or field_name in files:
            values[field_name] = read_secret(envs.get(field_name), files.get(field_name), None)
        elif sys.stdin.isatty():
            values[field_name] = read_secret(None, None, _prompter(label))
    args = nest_form({**values, "provider_region": region})
    engine = _engine(database)
    ems_id = ProviderStore(engine).add(spec, name, args, _keyring(), zone=zone)
    click.echo(f"added provider {name!r} (id {ems_id}, {spec.provider.title})")


@provider.command("list")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@database_option
@reports_errors
def provider_list(fmt: str, database: str | None) -> None:
    """List providers with region, credential status and last refresh."""
    from miqspec.cli.report import provider_json, table
    from miqspec.store import ProviderStore

    store = ProviderStore(_engine(database))
    infos = [store.info(n) for n in store.names()]
    if fmt == "json":
        click.echo(json.dumps([provider_json(i) for i in infos], indent=2))
        return
    rows = [
        (
            i.name,
            i.spec_name,
            i.region or "-",
            i.auth_status or "not verified",
            i.last_refresh_date.strftime("%Y-%m-%d %H:%M") if i.last_refresh_date else "never",
            "error" if i.last_refresh_error else "ok" if i.last_refresh_date else "-",
        )
        for i in infos
    ]
    click.echo(
        table(("name", "spec", "region", "credentials", "last refresh", "status"), rows)
        if rows
        else "no providers (add one with: miqspec provider add SPEC --name ...)"
    )


@provider.command("show")
@click.argument("name")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@database_option
@reports_errors
def provider_show(name: str, fmt: str, database: str | None) -> None:
    """Status, region, last refresh and credential status of NAME (never the password)."""
    from miqspec.cli.report import provider_json, provider_text
    from miqspec.store import ProviderStore

    info = ProviderStore(_engine(database)).info(name)
    click.echo(json.dumps(provider_json(info), indent=2) if fmt == "json" else provider_text(info))


@provider.command("delete")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@database_option
@reports_errors
def provider_delete(name: str, yes: bool, database: str | None) -> None:
    """Delete NAME with its child managers, credentials and inventory."""
    from miqspec.store import ProviderStore

    if not yes and not click.confirm(f"Delete provider {name!r} and its inventory?"):
        raise UsageError("not confirmed")
    ProviderStore(_engine(database)).delete(name)
    click.echo(f"deleted provider {name!r}")


@provider.command("verify")
@click.argument("name")
@click.option(
    "--replay",
    type=click.Path(exists=True, dir_okay=False),
    help="Serve requests from this cassette.",
)
@click.option(
    "--replay-ignore-param",
    multiple=True,
    metavar="NAME",
    help="Query parameter to ignore when matching, besides the spec's replay.ignore_query_params.",
)
@database_option
@reports_errors
def provider_verify(
    name: str, replay: str | None, replay_ignore_param: tuple[str, ...], database: str | None
) -> None:
    """Verify NAME's stored credentials and record the result (Valid, Invalid, ...)."""
    from miqspec.cli.report import verify_text
    from miqspec.pipeline import spec_for, verify_provider
    from miqspec.store import ProviderStore

    engine = _engine(database)
    adapter = None
    if replay:
        spec = spec_for(ProviderStore(engine).row(name))
        adapter = _replay(replay, replay_ignore_param, spec.replay_ignore_query_params)
    result = verify_provider(engine, name, _keyring(), adapter=adapter)
    click.echo(verify_text(result, name))
    sys.exit(result.exit_code)


def _prompter(label: str) -> Any:
    def ask() -> str:
        return str(click.prompt(label, hide_input=True))

    return ask


def _replay(
    path: str | None, ignore: tuple[str, ...] = (), spec_ignore: tuple[str, ...] = ()
) -> Any:
    """A replay adapter for ``path``, ignoring the given and the spec's query parameters."""
    if not path:
        return None
    from miqspec.connect import Cassette, ReplayAdapter

    params = tuple(dict.fromkeys((*ignore, *spec_ignore)))
    return ReplayAdapter(Cassette.load(path, ignore_query_params=params))


@main.command("verify")
@click.argument("spec_file", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--args",
    "args_file",
    required=True,
    type=click.File("r"),
    help="JSON (or YAML) argument hash as ManageIQ's UI sends it; - for stdin.",
)
@click.option("--replay", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--replay-ignore-param",
    multiple=True,
    metavar="NAME",
    help="Query parameter to ignore when matching, besides the spec's replay.ignore_query_params.",
)
@reports_errors
def verify_cmd(
    spec_file: str, args_file: Any, replay: str | None, replay_ignore_param: tuple[str, ...]
) -> None:
    """Class-level verify of SPEC_FILE's credentials before any provider row exists.

    \b
    Example:
      echo '{"provider_region": "us-east-1", "endpoints": {"default": {"url": "http://..."}},
             "authentications": {"default": {"userid": "AKIA-SIM", "password": "..."}}}' \\
        | miqspec verify provider_specs/awesome_cloud.yaml --args -
    """
    import yaml

    from miqspec.cli.report import verify_text
    from miqspec.pipeline import verify
    from miqspec.spec import load_spec
    from miqspec.store import KeyRing

    spec = load_spec(spec_file)
    try:
        args = yaml.safe_load(args_file.read())
    except yaml.YAMLError:
        raise UsageError("--args is not valid JSON or YAML") from None
    if not isinstance(args, dict):
        raise UsageError("--args must be a mapping (the ManageIQ verify argument hash)")
    ring = KeyRing.load()
    _decrypt_in_place(args, ring)
    result = verify(
        spec, args, _replay(replay, replay_ignore_param, spec.replay_ignore_query_params)
    )
    click.echo(verify_text(result, spec.provider.name))
    sys.exit(result.exit_code)


def _decrypt_in_place(node: Any, ring: Any) -> None:
    """Passwords may arrive encrypted (v2:{...}) as ManageIQ's UI sends them."""
    if isinstance(node, dict):
        for k, v in node.items():
            if isinstance(v, str):
                node[k] = ring.try_decrypt(v)
            else:
                _decrypt_in_place(v, ring)


@main.command()
@click.argument("spec_file", type=click.Path(exists=True, dir_okay=False))
@reports_errors
def form(spec_file: str) -> None:
    """Print the params_for_create data-driven-forms JSON of SPEC_FILE."""
    from miqspec.spec import load_spec, params_for_create

    click.echo(json.dumps(params_for_create(load_spec(spec_file)), indent=2))


@main.command()
@click.argument("spec_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@reports_errors
def regions(spec_file: str, fmt: str) -> None:
    """List the regions of SPEC_FILE."""
    from miqspec.cli.report import table
    from miqspec.spec import load_spec

    spec = load_spec(spec_file)
    if fmt == "json":
        click.echo(json.dumps([dict(r.attributes) for r in spec.regions], indent=2))
    else:
        click.echo(
            table(
                ("name", "hostname", "description"),
                [(r.name, r.hostname, r.description) for r in spec.regions],
            )
        )


@main.group()
def keys() -> None:
    """Manage the credential encryption key file."""


@keys.command("rotate")
@database_option
@reports_errors
def keys_rotate(database: str | None) -> None:
    """Add a new key and re-encrypt every stored credential with it."""
    from miqspec.store import rotate_credentials

    count = rotate_credentials(_engine(database))
    click.echo(f"rotated the key; re-encrypted {count} credential value(s)")


@main.command()
@database_option
@reports_errors
def db(database: str | None) -> None:
    """Create or upgrade the inventory database to the current schema."""
    from miqspec.store import current_revision, default_database_url, open_database, upgrade

    engine = open_database(database or default_database_url())
    upgrade(engine)
    click.echo(f"database at revision {current_revision(engine)}")


def data_home() -> Path:
    base = os.environ.get("MIQSPEC_HOME") or os.path.join(
        os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share"), "miqspec"
    )
    return Path(base)
