"""``refresh``, ``inventory``, ``demo``, ``worker`` and ``simulate`` commands.

Registered on the ``miqspec`` group. Progress goes to stderr (``progress``: live lines per call
on a terminal, plain lines otherwise); results to stdout (``output``: coloured tables on a
terminal, plain text otherwise). Calls ``miqspec.api``. Terminal I/O only.
"""

from __future__ import annotations

import functools
import os
import signal
import sys
import threading
import time
from typing import Any

import click

from miqspec import api
from miqspec.cli.app import interruptible, main, raise_pending
from miqspec.cli.events import run_targeted, show_events
from miqspec.cli.options import (
    database_option,
    demo_database_option,
    echo_json,
    format_option,
    open_db,
    open_demo_db,
    replay_options,
)
from miqspec.cli.output import echo
from miqspec.cli.progress import ProgressView
from miqspec.cli.report import Doc, Table, refresh_doc, refresh_json, rows_csv, rows_table
from miqspec.errors import UsageError


@main.command()
@click.argument("names", nargs=-1)
@click.option("--all", "all_", is_flag=True, help="Refresh every provider.")
@click.option("--dry-run", is_flag=True, help="Compute and show changes; write nothing.")
@format_option
@replay_options
@click.option(
    "--record",
    type=click.Path(dir_okay=False),
    help="Record the traffic to this cassette (secrets replaced by placeholders).",
)
@click.option("--quiet", is_flag=True, help="No progress output.")
@click.option(
    "--target",
    "target_refs",
    multiple=True,
    metavar="COLLECTION:REF",
    help="Refresh only this object (e.g. vms:i-123; repeat for more): a targeted refresh of "
    "one provider, rows outside the targets untouched (exit 5 when a target fails).",
)
@click.option(
    "--full-compare",
    is_flag=True,
    help="Parse every record and compare every stored row, not only what changed at the "
    "API (repairs rows edited outside miqspec).",
)
@click.option(
    "--allow-mass-delete",
    is_flag=True,
    help="Save even when a collection would be emptied or lose more than the mass-delete "
    "share of its rows.",
)
@click.option(
    "--mass-delete-share",
    type=click.FloatRange(0, 1),
    envvar="MIQSPEC_MASS_DELETE_SHARE",
    default=0.5,
    show_default=True,
    show_envvar=True,
    help="Share (0-1) of a collection's stored rows a refresh may delete or disconnect "
    "(applies when at least 10 rows go; emptying a collection is always refused).",
)
@database_option
@interruptible()  # SIGTERM unwinds like Ctrl+C: lock released, nothing saved
def refresh(
    names: tuple[str, ...],
    all_: bool,
    dry_run: bool,
    fmt: str,
    replay: str | None,
    replay_ignore: tuple[str, ...],
    record: str | None,
    quiet: bool,
    target_refs: tuple[str, ...],
    full_compare: bool,
    allow_mass_delete: bool,
    mass_delete_share: float,
    database: str | None,
) -> None:
    """Refresh the inventory of providers NAMES (or --all).

    \b
    Exit codes: 0 ok; 3 invalid credentials; 4 unreachable; 5 API error (a body of the
    wrong shape, a refused mass removal); 6 mapping error;
    7 database error; 8 another refresh holds the provider; 9 replay mismatch; 10 not
    found; 130 Ctrl+C; 143 SIGTERM (both roll back and release the provider's lock).
    Examples:
      miqspec refresh aws1
      miqspec refresh --all --format json
      miqspec refresh aws1 --dry-run
      miqspec refresh aws1 --target vms:i-123 --target vms:i-456
    """
    if replay and record:
        raise UsageError("--replay and --record cannot be used together")
    db = open_db(database, write=False)
    if target_refs:
        if all_ or len(names) != 1 or dry_run or record:
            raise UsageError("--target refreshes one NAME (not with --all, --dry-run, --record)")
        run_targeted(db, names[0], target_refs, fmt, replay, replay_ignore)
    targets = api.provider_names(db) if all_ else list(names)
    if not targets:
        raise UsageError("name a provider or use --all")
    results = []
    exit_code = 0
    for name in targets:
        view = ProgressView(enabled=not quiet and fmt == "text")
        try:
            result = api.refresh(
                db,
                name,
                dry_run=dry_run,
                full_compare=full_compare,
                allow_mass_delete=allow_mass_delete,
                mass_delete_share=mass_delete_share,
                progress=view,
                replay=replay,
                replay_ignore=replay_ignore,
                record=record,
                on_phase=functools.partial(view.phase, name),
            )
        finally:
            view.close()
        raise_pending()  # an interruption a database driver turned into an error
        if record:
            click.echo(f"recorded {record}", err=True)
        if replay and result.unused_interactions and fmt == "text":
            click.echo(
                f"{result.unused_interactions} recorded interaction(s) were not used", err=True
            )
        results.append(result)
        if not result.ok:
            exit_code = exit_code or result.exit_code
    if fmt == "json":
        echo_json([refresh_json(r) for r in results])
    else:
        doc: Doc = []
        for r in results:
            doc += [*([""] if doc else []), *refresh_doc(r)]
        echo(*doc)
    sys.exit(exit_code)


@main.command()
@click.argument("name")
@click.argument("collection", required=False)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "csv"]),
    default="text",
    show_default=True,
    help="Output format (csv: one COLLECTION's rows, with a header line).",
)
@click.option(
    "--limit",
    type=click.IntRange(0, api.MAX_LIMIT),
    default=50,
    show_default=True,
    help="Rows per collection (0: all).",
)
@click.option(
    "--archived",
    is_flag=True,
    help="The disconnected rows (vms, templates... that left the API) instead.",
)
@database_option
def inventory(
    name: str,
    collection: str | None,
    fmt: str,
    limit: int,
    archived: bool,
    database: str | None,
) -> None:
    """Show what was persisted for provider NAME (one COLLECTION, or counts of all;
    COLLECTION "events": its stored events, newest first)."""
    db = open_db(database, write=False)
    if collection == "events":  # event_streams: ManageIQ's EmsEvent rows
        show_events(db, name, fmt, limit)
        return
    if collection is None:
        if archived or fmt == "csv":
            raise UsageError("--archived and --format csv need a COLLECTION")
        counts = api.inventory_counts(db, name)
        if fmt == "json":
            echo_json(counts)
        else:
            echo(Table(("collection", "rows"), tuple(sorted(counts.items()))))
        return
    found = api.read_inventory(db, name, collection, limit=limit or None, archived=archived)
    if fmt == "csv":
        click.echo(rows_csv(found.rows, found.columns), nl=False)
    elif fmt == "json":
        echo_json(found.rows)
    else:
        echo(rows_table(found.rows, found.columns) if found.rows else "no rows")


@main.command()
@click.option("--instances", default=200, show_default=True)
@click.option("--flavors", default=8, show_default=True)
@click.option("--images", default=20, show_default=True)
@demo_database_option
def demo(instances: int, flavors: int, images: int, database: str | None) -> None:
    """Start the Awesome Cloud simulator, add the provider, refresh it, print the summary.

    The demo writes to a database of its own ($MIQSPEC_HOME/demo.db unless --database),
    never to the one your providers live in."""
    db = open_demo_db(database)
    view = ProgressView()
    try:
        result = api.run_demo(
            db, instances=instances, flavors=flavors, images=images, progress=view
        )
    finally:
        view.close()
    echo(*refresh_doc(result))
    click.echo(
        f"\ninventory saved in {db.url}; look at it with:\n"
        f"  miqspec inventory --database '{db.url}' '{api.DEMO_NAME}' vms"
    )
    sys.exit(result.exit_code)


@main.command()
@click.option("--once", is_flag=True, help="Refresh what is due once, then exit.")
@click.option("--poll", default=5.0, show_default=True, help="Seconds between schedule checks.")
@click.option(
    "--event-poll",
    type=click.FloatRange(min=0.1),
    help="Seconds between event polls (default: each spec's events.interval).",
)
@click.option(
    "--merge-window",
    type=click.FloatRange(min=0.0),
    default=1.0,
    show_default=True,
    help="Seconds event targets wait to be merged into one targeted refresh.",
)
@click.option("--no-events", is_flag=True, help="Run no event catchers (full refreshes only).")
@database_option
def worker(
    once: bool,
    poll: float,
    event_poll: float | None,
    merge_window: float,
    no_events: bool,
    database: str | None,
) -> None:
    """Refresh every provider at its spec's refresh interval until stopped (Ctrl+C).

    Providers whose spec has ``events`` also get an event catcher: their events are stored
    and the objects they name refreshed (targeted, merged over --merge-window)."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    api.run_worker(
        open_db(database),
        stop=stop,
        once=once,
        poll=poll,
        events=not no_events,
        event_poll=event_poll,
        merge_window=merge_window,
        log=lambda line: click.echo(f"{time.strftime('%H:%M:%S')} {line}"),
    )


@main.command()
@click.argument("provider_name", type=click.Choice(["awesome_cloud"]))
@click.option("--instances", type=int)
@click.option("--flavors", type=int)
@click.option("--images", type=int)
@click.option("--page-size", type=int)
@click.option("--seed", type=int)
@click.option("--port", type=int, help="Default: any free port.")
@click.option("--access-key")
@click.option(
    "--secret-key-env",
    metavar="ENVVAR",
    help="Environment variable holding the secret key (default: sim-secret).",
)
@click.option("--token-ttl", type=float)
@click.option(
    "--operation-delay",
    type=float,
    help="Seconds an operation or a create stays transitional (default 2).",
)
@click.option("--instance-quota", type=int, help="Most instances at once (0: no quota).")
@click.option("--latency-ms", type=int)
@click.option("--http-429", type=int, help="Answer the first N requests with 429.")
@click.option("--retry-after", type=float)
@click.option("--http-5xx", type=int, help="Answer the first N requests with 503.")
@click.option("--truncated-json", type=int)
@click.option("--malformed-json", type=int)
@click.option("--drop-connection", type=int)
@click.option("--endless-pages", is_flag=True, default=None)
@click.option("--fail-always-status", type=int)
@click.option("--fault-path", help="Apply faults only to paths containing this.")
def simulate(provider_name: str, secret_key_env: str | None, **options: Any) -> None:
    """Run the bundled simulator of PROVIDER_NAME on 127.0.0.1 until Ctrl+C.

    \b
    Example: miqspec simulate awesome_cloud --instances 100000 --flavors 1000 --images 10000
    """
    if secret_key_env:
        options["secret_key"] = os.environ.get(secret_key_env)
        if not options["secret_key"]:
            raise UsageError(f"environment variable {secret_key_env} is not set")
    api.run_simulator(**options)
