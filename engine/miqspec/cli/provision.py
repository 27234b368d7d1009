"""``miqspec provision`` and ``miqspec requests``: provisioning requests and their tasks.

Takes: the command line. Gives: ``provision NAME --set FIELD=VALUE... [--count N] [--wait]
[--format text|json]`` (one request, a task per object; exit 5 when a task failed) and
``requests [NAME] [--follow] [--format text|json]`` (requests newest first with their tasks:
state, status, message, the new VM; ``--follow`` first checks each open task once, as the
worker does, and exits 5 when one of them ended with Error). Raises what ``miqspec.api``
raises (the group turns it into one line and an exit code). Does database and network I/O
through the API.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from miqspec import api
from miqspec.cli.app import main
from miqspec.cli.options import (
    database_option,
    echo_json,
    format_option,
    open_db,
    parse_pairs,
)
from miqspec.cli.output import echo
from miqspec.cli.report import Line, Table

FAILED_EXIT = 5  # a task failed (the API refused, a quota, a time-out): an API error


@main.command()
@click.argument("name")
@click.option(
    "--set",
    "pairs",
    multiple=True,
    metavar="FIELD=VALUE",
    help="A field of the provisioning dialog (vm_name, template, flavor, ...; a choice by its "
    "value or its label). Repeatable.",
)
@click.option("--count", type=click.IntRange(1, 1000), help="How many (default the form's, 1).")
@click.option("--wait", is_flag=True, help="Wait for each new VM, then refresh and link it.")
@format_option
@database_option
def provision(
    name: str, pairs: tuple[str, ...], count: int | None, wait: bool, fmt: str, database: str | None
) -> None:
    """Provision VMs on provider NAME as its spec's provisioning section declares.

    \b
    Example:
      miqspec form awesome_cloud --provisioning --provider ac    # the dialog and its choices
      miqspec provision ac --set vm_name=web --set template=rhel-9-00001 \\
          --set flavor=t3.nano --count 3 --wait
    """
    db = open_db(database, write=False)
    out = api.provision(db, name, parse_pairs(pairs, "--set"), count=count, wait=wait)
    if fmt == "json":
        echo_json(
            {
                "request_id": out.request_id,
                "provider": out.provider,
                "waited": out.waited,
                "request": out.request,
                "seconds": {k: round(v, 3) for k, v in out.seconds.items()},
                "tasks": [vars(t) for t in out.tasks],
            }
        )
    else:
        req = out.request
        style = "good" if req.get("status") == "Ok" else "bad"
        echo(
            Line(
                f"request {out.request_id}: {req.get('state')} {req.get('status')}: "
                f"{req.get('message')}",
                style,
            ),
            Table(
                ("task", "name", "ems_ref", "outcome"),
                tuple(
                    (t.task_id, t.name, t.ems_ref, t.error or ("ok" if t.row_id else "created"))
                    for t in out.tasks
                ),
            ),
        )
        if req.get("state") != "finished":
            click.echo(
                f"not waited for: miqspec worker (or miqspec requests {name} --follow) "
                "finishes the tasks"
            )
    if out.failed:
        sys.exit(FAILED_EXIT)


def _task_line(task: dict[str, Any]) -> tuple[Any, ...]:
    options = task.get("options") or {}
    return (
        task["miq_request_id"],
        task["id"],
        options.get("vm_name"),
        task.get("state"),
        task.get("status"),
        options.get("ems_ref"),
        task.get("destination_id"),
        task.get("message"),
    )


@main.command()
@click.argument("name", required=False)
@click.option(
    "--follow",
    is_flag=True,
    help="First check each open task once, as the worker does: finish the ready ones (refresh "
    "their VMs in, link them), end those past their deadline with Error.",
)
@format_option
@database_option
def requests(name: str | None, follow: bool, fmt: str, database: str | None) -> None:
    """Provisioning requests (of provider NAME, or all), newest first, with their tasks."""
    db = open_db(database, write=False)
    followed = api.follow_requests(db, name) if follow else None
    found = api.list_requests(db, name)
    if fmt == "json":
        if followed is None:
            echo_json(found)
        else:
            echo_json({**_followed_doc(followed), "requests": found})
    elif followed is not None:
        echo(*_followed_lines(followed), "")
    if fmt != "json":
        _requests_table(found)
    if followed is not None and followed.failed:
        sys.exit(FAILED_EXIT)


def _followed_doc(followed: api.FollowResult) -> dict[str, Any]:
    return {
        "checked": followed.checked,
        "waiting": followed.waiting,
        "finished": [vars(t) for t in followed.finished],
        "requests_finished": {str(k): v for k, v in followed.requests.items()},
        "refreshed": followed.refreshed,
        "warnings": followed.warnings,
    }


def _followed_lines(followed: api.FollowResult) -> list[Any]:
    lines: list[Any] = [
        Line(
            f"followed {followed.checked} open task(s): {len(followed.finished)} finished "
            f"({len(followed.failed)} with Error), {followed.waiting} still open"
        )
    ]
    lines += [
        Line(
            f"{t.kind} task {t.task_id} ({t.name}): {t.status}: {t.message}",
            "good" if t.status == "Ok" else "bad",
        )
        for t in followed.finished
    ]
    lines += [Line(f"warning: {w}", "warn") for w in followed.warnings]
    return lines


def _requests_table(found: list[dict[str, Any]]) -> None:
    if not found:
        click.echo("no requests")
        return
    echo(
        Table(
            ("request", "state", "status", "created", "message"),
            tuple((r["id"], r["state"], r["status"], r["created_on"], r["message"]) for r in found),
        ),
        "",
        Table(
            ("request", "task", "name", "state", "status", "ems_ref", "vm id", "message"),
            tuple(_task_line(t) for r in found for t in r["tasks"]),
        ),
    )
