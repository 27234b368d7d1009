"""``miqspec vm``: list and show a provider's VMs, run the operations its spec declares.

Takes: the command line. Gives: the ``vm`` group on ``main``: ``list NAME``, ``show NAME VM``,
``start|stop|suspend|reboot|destroy NAME VM`` (``reboot`` runs ``reboot_guest``) and
``run NAME VM OPERATION`` (any operation the spec declares), each with ``--wait`` (wait for
the end and print the new state; without it the operation is recorded as a task the worker
finishes), ``--collection`` (default vms) and ``--format text|json``; ``tasks [NAME]`` lists
those tasks; ``destroy`` asks for confirmation unless ``--yes`` (without a terminal it needs
``--yes``).
An unsupported operation exits 13 with ManageIQ's reason; one already running on the VM exits
8. Raises what ``miqspec.api`` raises (the group turns it into one line and an exit code).
Does database and network I/O through the API.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from miqspec import api
from miqspec.cli.app import main
from miqspec.cli.options import database_option, echo_json, format_option, open_db
from miqspec.cli.output import echo
from miqspec.cli.report import Fields, Line, Table
from miqspec.errors import UsageError

VERBS = {
    "start": "start",
    "stop": "stop",
    "suspend": "suspend",
    "reboot": "reboot_guest",
    "destroy": "destroy",
}
SHOWN = ("name", "ems_ref", "power_state", "raw_power_state", "state_changed_on")

collection_option = click.option(
    "--collection",
    default="vms",
    show_default=True,
    help="The collection the object is in (operations are declared per collection).",
)
wait_option = click.option(
    "--wait", is_flag=True, help="Wait until the operation is over, then print the new state."
)


@main.group()
def vm() -> None:
    """VMs of a provider and the operations its spec declares (start, stop, ...)."""


def _supported(row: dict[str, Any]) -> str:
    return " ".join(op for op, why in (row.get("supports") or {}).items() if why is None) or "-"


@vm.command("list")
@click.argument("name")
@collection_option
@format_option
@database_option
def vm_list(name: str, collection: str, fmt: str, database: str | None) -> None:
    """The VMs of provider NAME with the operations each supports now."""
    listed = api.object_list(open_db(database, write=False), name, collection)
    if fmt == "json":
        echo_json(listed.rows)
        return
    echo(
        Table(
            (*SHOWN[:4], "supported operations"),
            tuple((*(r.get(c) for c in SHOWN[:4]), _supported(r)) for r in listed.rows),
        )
    )


@vm.command("show")
@click.argument("name")
@click.argument("vm_key", metavar="VM")
@collection_option
@format_option
@database_option
def vm_show(name: str, vm_key: str, collection: str, fmt: str, database: str | None) -> None:
    """One VM of provider NAME (by name or ems_ref), with why each operation is unsupported."""
    row = api.object_show(open_db(database, write=False), name, vm_key, collection)
    if fmt == "json":
        echo_json(row)
        return
    pairs = [(c, str(row.get(c) if row.get(c) is not None else "")) for c in SHOWN]
    pairs.append(("archived", "yes" if row.get("archived") else "no"))
    pairs += [
        (f"supports {op}", "yes" if why is None else f"no: {why}")
        for op, why in (row.get("supports") or {}).items()
    ]
    echo(Fields(tuple(pairs)))


def _confirm(operation: str, name: str, vm_key: str, yes: bool) -> None:
    if yes:
        return
    if not sys.stdin.isatty():
        raise UsageError(
            f"{operation} of {vm_key!r} needs confirmation and stdin is not a terminal; "
            "pass --yes to go ahead without asking"
        )
    if not click.confirm(f"{operation} {vm_key!r} of provider {name!r}? It cannot be undone"):
        raise UsageError("not confirmed; nothing was done")


def _run(
    name: str,
    vm_key: str,
    operation: str,
    collection: str,
    wait: bool,
    fmt: str,
    database: str | None,
) -> None:
    result = api.run_operation(
        open_db(database, write=False), name, vm_key, operation, collection=collection, wait=wait
    )
    out = result.outcome
    if fmt == "json":
        echo_json(
            {
                "provider": name,
                "collection": collection,
                "operation": operation,
                "name": out.name,
                "ems_ref": out.ems_ref,
                "status": out.status,
                "raw_power_state": out.raw_power_state,
                "waited": out.waited,
                "finished": out.finished,
                "polls": out.polls,
                "seconds": round(out.seconds, 3),
                "removed": out.removed,
                "refreshed": result.refreshed,
                "row": result.row,
                "warnings": result.warnings,
                "task_id": result.task_id,
            }
        )
        return
    what = f"{operation} of {out.name or out.ems_ref!r}"
    lines: list[Any] = []
    if out.waited or out.finished:
        lines.append(Line(f"{what}: done in {out.seconds:.1f}s", "good"))
    else:
        lines.append(Line(f"{what}: accepted (status {out.status}); not waited for", "good"))
        if result.task_id is not None:
            lines.append(
                f"task {result.task_id}: the worker (or miqspec requests --follow) finishes it"
            )
    if out.removed:
        lines.append(f"row {out.removed} (archived; see miqspec inventory {name} vms --archived)")
    elif result.row is not None:
        row = result.row
        lines.append(
            f"power_state {row.get('power_state')} (raw_power_state {row.get('raw_power_state')})"
            + (f"; refreshed ({result.refreshed})" if result.refreshed else "")
        )
    lines += [Line(f"warning: {w}", "warn") for w in result.warnings]
    echo(*lines)


def _operation_command(verb: str, operation: str) -> None:
    confirm = operation == "destroy"

    @vm.command(verb, help=f"Run {operation} on VM (name or ems_ref) of provider NAME.")
    @click.argument("name")
    @click.argument("vm_key", metavar="VM")
    @wait_option
    @collection_option
    @format_option
    @database_option
    @click.option("--yes", is_flag=True, help="Do not ask for confirmation (destroy).")
    def command(
        name: str,
        vm_key: str,
        wait: bool,
        collection: str,
        fmt: str,
        database: str | None,
        yes: bool,
    ) -> None:
        if confirm:
            _confirm(operation, name, vm_key, yes)
        _run(name, vm_key, operation, collection, wait, fmt, database)


for _verb, _op in VERBS.items():
    _operation_command(_verb, _op)


@vm.command("run")
@click.argument("name")
@click.argument("vm_key", metavar="VM")
@click.argument("operation")
@wait_option
@collection_option
@format_option
@database_option
@click.option("--yes", is_flag=True, help="Do not ask for confirmation (destroy).")
def vm_run(
    name: str,
    vm_key: str,
    operation: str,
    wait: bool,
    collection: str,
    fmt: str,
    database: str | None,
    yes: bool,
) -> None:
    """Run any OPERATION the spec declares on VM of provider NAME."""
    if operation == "destroy":
        _confirm(operation, name, vm_key, yes)
    _run(name, vm_key, operation, collection, wait, fmt, database)


@vm.command("tasks")
@click.argument("name", required=False)
@format_option
@database_option
def vm_tasks(name: str | None, fmt: str, database: str | None) -> None:
    """Operations run without --wait (of provider NAME, or all), newest first, as tasks."""
    found = api.list_tasks(open_db(database, write=False), name)
    if fmt == "json":
        echo_json(found)
        return
    if not found:
        click.echo("no tasks")
        return
    echo(
        Table(
            ("task", "name", "state", "status", "created", "message"),
            tuple(
                (t["id"], t["name"], t["state"], t["status"], t["created_on"], t["message"])
                for t in found
            ),
        )
    )
