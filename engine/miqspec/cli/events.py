"""``events`` command, and the targeted-refresh and event views ``refresh --target`` and
``inventory NAME events`` use.

Takes: a provider name, options. Gives: the ``events`` command (tails a provider's event
stream and stores it: one line per poll that stored something, a failing poll reported on
stderr and tried again; ``--once`` polls once; ``--status`` shows the stream's cursor and
last error, recorded per provider), ``run_targeted`` (a targeted refresh's
result as text or JSON; exit 5 when a target failed to collect) and ``show_events`` (stored
events, newest first, as a table or JSON). Calls ``miqspec.api``. Terminal I/O only.
"""

from __future__ import annotations

import contextlib
import json
import signal
import sys
import threading
import time
from collections.abc import Sequence
from typing import Any

import click

from miqspec import api
from miqspec.cli.app import main
from miqspec.cli.options import database_option, echo_json, format_option, open_db
from miqspec.cli.output import echo
from miqspec.cli.report import Table

EVENT_COLUMNS = ("timestamp", "event_type", "source", "vm_name", "vm_ems_ref", "message")
TARGET_FAILED_EXIT = 5


def targeted_json(result: Any) -> dict[str, Any]:
    report = result.report
    return {
        "provider": result.provider,
        "ok": result.ok,
        "targets": [str(t) for t in result.targets],
        "gone": [str(t) for t in result.gone],
        "failed": {str(t): why for t, why in result.failed.items()},
        "counts": result.counts,
        "saved": {n: vars(r) for n, r in report.collections.items()} if report else {},
        "seconds": {k: round(v, 3) for k, v in result.phases.items()},
        "requests": result.requests,
    }


def run_targeted(
    db: api.Database,
    name: str,
    targets: Sequence[str],
    fmt: str,
    replay: str | None,
    replay_ignore: tuple[str, ...],
) -> None:
    """Refresh ``targets`` of ``name``, print the result, exit (5 when a target failed)."""
    result = api.refresh_targets(db, name, targets, replay=replay, replay_ignore=replay_ignore)
    data = targeted_json(result)
    if fmt == "json":
        echo_json(data)
    else:
        rows = []
        for coll, rep in sorted(data["saved"].items()):
            changes = ("created", "updated", "deleted", "disconnected", "unchanged")
            rows.append((coll, result.counts.get(coll, 0), *(rep.get(k, 0) for k in changes)))
        head = ("collection", "objects", "created", "updated", "deleted", "disconnected",
                "unchanged")  # fmt: skip
        took = sum(result.phases.values())
        click.echo(f"{name}: targeted refresh of {len(result.targets)} target(s) in {took:.2f}s")
        echo(Table(head, tuple(rows)))
        for target in data["gone"]:
            click.echo(f"gone: {target}")
        for target, why in data["failed"].items():
            click.echo(f"failed: {target}: {why}", err=True)
    sys.exit(TARGET_FAILED_EXIT if result.failed else 0)


def show_events(db: api.Database, name: str, fmt: str, limit: int) -> None:
    """The stored events of ``name`` (newest first; ``limit`` 0: 100,000)."""
    rows = api.read_events(db, name, limit=limit or 100_000)
    if fmt == "json":
        for row in rows:
            with_data = row.get("full_data")
            if isinstance(with_data, str):
                with contextlib.suppress(ValueError):
                    row["full_data"] = json.loads(with_data)
        echo_json(rows)
    elif fmt == "csv":
        raise click.UsageError("events: --format text or json")
    elif not rows:
        echo("no events")
    else:
        echo(Table(EVENT_COLUMNS, tuple(tuple(r.get(c) for c in EVENT_COLUMNS) for r in rows)))


def show_status(db: api.Database, name: str, fmt: str) -> None:
    """The provider's event-stream row (``never polled`` before its first poll)."""
    found = api.event_stream_status(db, name)
    if fmt == "json":
        echo_json(found)
    elif found is None:
        click.echo(f"{name}: event stream never polled")
    else:
        keys = ("cursor", "last_poll_date", "last_success_date", "last_event_error",
                "last_event_error_date", "events_stored")  # fmt: skip
        echo(Table(("field", "value"), tuple((k, found.get(k)) for k in keys)))


@main.command()
@click.argument("name")
@click.option("--once", is_flag=True, help="Poll once, then exit.")
@click.option(
    "--status",
    is_flag=True,
    help="Show the stream's cursor, last poll, last success and last error; poll nothing.",
)
@click.option(
    "--interval",
    type=click.FloatRange(min=0.1),
    help="Seconds between polls (default: the spec's events.interval).",
)
@format_option
@database_option
def events(
    name: str, once: bool, status: bool, interval: float | None, fmt: str, database: str | None
) -> None:
    """Tail provider NAME's event stream and store it (Ctrl+C stops).

    \b
    Each poll reads the events after the stored cursor and stores the new ones (ManageIQ's
    event_streams); a poll that fails is reported and tried again after the interval.
    Exit codes: 0 ok; 2 usage (no events section); 10 no such provider; with --once, the
    failing poll's own code (3 credentials, 4 unreachable, 5 API error, 7 database).
    Examples:
      miqspec events aws1
      miqspec events aws1 --once --format json
      miqspec events aws1 --status
      miqspec inventory aws1 events
    """
    db = open_db(database, write=False)  # the provider must exist, so must the database
    if status:
        show_status(db, name, fmt)
        return
    stop = threading.Event()
    if not once:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())

    def report(result: Any, error: str | None) -> None:
        stamp = time.strftime("%H:%M:%S")
        if error is not None:
            click.echo(f"{stamp} {name}: event stream failed: {error}", err=True)
            return
        for line in result.errors:
            click.echo(f"{stamp} {name}: malformed event skipped: {line}", err=True)
        if fmt == "json":
            click.echo(json.dumps({
                "provider": name, "read": result.read, "stored": result.stored,
                "duplicates": result.duplicates, "ignored": result.ignored,
                "errors": result.errors, "targets": [str(t) for t in result.targets],
                "cursor": result.cursor,
            }))  # fmt: skip
        elif result.stored or once:
            click.echo(
                f"{stamp} {name}: {result.stored} event(s) stored ({result.read} read, "
                f"{result.duplicates} duplicate(s), {result.ignored} ignored), "
                f"{len(result.targets)} target(s)"
            )

    api.tail_events(db, name, stop=stop, on_poll=report, interval=interval, once=once)
