"""Options and arguments more than one command takes, declared once, and small shared helpers.

Takes: nothing. Gives: ``database_option``, ``demo_database_option`` and ``open_demo_db`` (the
demo's own database, never ``MIQSPEC_DATABASE_URL``), ``format_option``, ``replay_options``
(``--replay`` and ``--replay-ignore-param``), ``spec_argument`` (a spec file or a shipped
spec's name), ``open_db`` (the database of ``--database``, migrated; created only by
commands that write), ``parse_pairs`` (``FIELD=VALUE``) and ``echo_json``;
``provider_argument`` (NAME, completed in the shell from the database's provider names).
Raises ``UsageError`` (``parse_pairs``) and what ``api.open_database`` raises.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

import click

from miqspec import api
from miqspec.errors import UsageError

F = TypeVar("F", bound=Callable[..., Any])

database_option = click.option(
    "--database",
    metavar="URL",
    envvar="MIQSPEC_DATABASE_URL",
    help="SQLAlchemy URL (default: MIQSPEC_DATABASE_URL, else a SQLite file in "
    "~/.local/share/miqspec/miqspec.db).",
)

demo_database_option = click.option(
    "--database",
    metavar="URL",
    help="SQLAlchemy URL (default: a SQLite file of the demo's own, $MIQSPEC_HOME/demo.db; "
    "never MIQSPEC_DATABASE_URL).",
)

format_option = click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Output as text for people or as JSON for programs.",
)

spec_argument = click.argument("spec", metavar="SPEC", type=click.Path(dir_okay=False))

_replay = click.option(
    "--replay",
    type=click.Path(exists=True, dir_okay=False),
    help="Serve every request from this VCR cassette.",
)
_replay_ignore_param = click.option(
    "--replay-ignore-param",
    "replay_ignore",
    multiple=True,
    metavar="NAME",
    help="Query parameter to ignore when matching (e.g. api-version), besides the "
    "spec's replay.ignore_query_params.",
)


def _complete_provider(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[str]:
    """Provider names starting with ``incomplete``, from ``--database`` or the default
    database; none when it cannot be read (completion never fails or creates a file)."""
    try:
        with api.open_database(ctx.params.get("database"), create=False, upgrade=False) as db:
            return [n for n in api.provider_names(db) if n.startswith(incomplete)]
    except Exception:  # a shell completion must never fail
        return []


provider_argument = click.argument("name", shell_complete=_complete_provider)


def replay_ignore_option(fn: F) -> F:
    """``--replay-ignore-param NAME`` alone (for a command whose cassette is required)."""
    return _replay_ignore_param(fn)


def replay_options(fn: F) -> F:
    """``--replay CASSETTE`` and ``--replay-ignore-param NAME`` (repeatable)."""
    return _replay(_replay_ignore_param(fn))


def open_db(database: str | None, *, write: bool = True) -> api.Database:
    """The database of ``--database`` (default: ``MIQSPEC_DATABASE_URL`` or the SQLite file),
    upgraded to the current schema. Only a command that writes (``write``) creates a SQLite
    file that does not exist, and says where on stderr; others get ``NotFoundError``."""
    db = api.open_database(database, create=write)
    if db.created is not None:
        click.echo(f"miqspec: created database {db.created}", err=True)
    return db


def open_demo_db(database: str | None) -> api.Database:
    """The database ``miqspec demo`` writes to: ``--database``, else its own SQLite file."""
    return open_db(database or api.demo_database_url())


def parse_pairs(pairs: tuple[str, ...], what: str) -> dict[str, str]:
    """``("a=1", "b=2")`` -> ``{"a": "1", "b": "2"}``; ``UsageError`` naming option ``what``."""
    out = {}
    for pair in pairs:
        if "=" not in pair:
            raise UsageError(f"{what} expects FIELD=VALUE, got {pair!r}")
        k, v = pair.split("=", 1)
        out[k.strip()] = v
    return out


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=str))
