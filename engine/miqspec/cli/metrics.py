"""``miqspec metrics``: capture a provider's metrics, show one target's series, report rollups.

Takes: the command line. Gives: the ``metrics`` group on ``main`` with ``capture NAME``,
``show NAME TARGET [--since 4h] [--rollup hourly|daily] [--format text|json|csv]`` (text: a
summary or rollup table and a terminal line chart per counter, drawn by plotext; a gap in
the data is a gap in the line) and ``report NAME [--rollup daily|hourly] [--since 30d]
[--format csv|json|text]`` (one row per target per day or hour). Raises what ``miqspec.api``
raises (the group turns it into one line and an exit code). Does database and network I/O
through the API.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import sys
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import click
import plotext

from miqspec import api
from miqspec.cli.app import main
from miqspec.cli.options import (
    database_option,
    echo_json,
    format_option,
    open_db,
    provider_argument,
)
from miqspec.cli.report import table

UNITS = {
    "cpu_usage_rate_average": "%",
    "mem_usage_absolute_average": "%",
    "disk_usage_rate_average": "KB/s",
    "net_usage_rate_average": "KB/s",
}
REPORT_COLUMNS = (
    "timestamp",
    "target_name",
    "ems_ref",
    *UNITS,
    *(f"{k}_{c}" for c in UNITS for k in ("min", "max")),
    "derived_vm_numvcpus",
    "derived_memory_available",
    "derived_memory_used",
    "intervals_in_rollup",
)
CHART_HEIGHT = 12  # lines per counter's chart
SERIES_COLUMNS = ("timestamp", *UNITS, "derived_memory_used")


@main.group()
def metrics() -> None:
    """Utilisation metrics: capture, show, report (ManageIQ's realtime and rollups)."""


@metrics.command()
@provider_argument
@click.option("--due-only", is_flag=True, help="Only targets whose capture_threshold passed.")
@click.option(
    "--retention",
    metavar="DURATION",
    help="Keep realtime rows this long (default MIQSPEC_METRICS_RETENTION, else 4h).",
)
@format_option
@database_option
def capture(
    name: str, due_only: bool, retention: str | None, fmt: str, database: str | None
) -> None:
    """Capture provider NAME's metrics once (every target, or --due-only)."""
    db = open_db(database)
    result = api.capture_metrics(db, name, due_only=due_only, retention=retention)
    if fmt == "json":
        echo_json(vars(result))
        return
    lines = [
        f"{name}: metrics of {result.captured} of {result.targets} target(s) captured in "
        f"{result.seconds:.1f}s",
        table(
            ("samples", "realtime rows", "hourly", "daily", "purged", "skipped", "failed"),
            [
                (
                    result.samples,
                    result.rows,
                    result.hourly,
                    result.daily,
                    result.purged,
                    result.skipped,
                    len(result.failed),
                )
            ],
        ),
    ]
    lines += [f"failed: {ref}: {why}" for ref, why in list(result.failed.items())[:10]]
    if result.dropped:
        lines.append(f"warning: {result.dropped} point(s) without a usable time or target dropped")
    click.echo("\n".join(lines))
    if result.failed:
        sys.exit(5)


def _cell(value: Any) -> Any:
    if isinstance(value, float):
        return f"{value:.2f}"
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="seconds")
    return value


def _csv(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if row.get(c) is None else row.get(c) for c in columns])
    return out.getvalue()


def _with_min_max(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Rollup rows with ``min_max`` (JSON text) spread into ``min_*``/``max_*`` keys."""
    out = []
    for row in rows:
        flat = {k: v for k, v in row.items() if k != "min_max"}
        flat.update(json.loads(row.get("min_max") or "{}"))
        out.append(flat)
    return out


def _summary(rows: Sequence[Mapping[str, Any]]) -> str:
    body = []
    for counter, unit in UNITS.items():
        values = [r[counter] for r in rows if r.get(counter) is not None]
        if not values:
            body.append((counter, unit, "", "", "", "", 0))
            continue
        body.append(
            (
                counter,
                unit,
                _cell(values[-1]),
                _cell(sum(values) / len(values)),
                _cell(min(values)),
                _cell(max(values)),
                len(values),
            )
        )
    return table(("counter", "unit", "latest", "average", "min", "max", "samples"), body)


def _segments(rows: Sequence[Mapping[str, Any]], counter: str, gap: timedelta) -> list[Any]:
    """Runs of consecutive points of ``counter`` (a missing value or a time gap ends one)."""
    runs: list[tuple[list[str], list[float]]] = []
    last: datetime | None = None
    for row in rows:
        value, at = row.get(counter), row["timestamp"]
        if value is None:
            last = None
            continue
        if last is None or at - last > gap:
            runs.append(([], []))
        runs[-1][0].append(at.strftime("%Y-%m-%d %H:%M:%S"))
        runs[-1][1].append(float(value))
        last = at
    return runs


def chart(series: api.MetricsSeries, width: int, color: bool) -> str:
    """A line chart per counter (plotext), stacked, ``width`` characters wide."""
    step = {"realtime": 20, "hourly": 3600, "daily": 86400}[series.interval]
    counters = [c for c in series.counters if any(r.get(c) is not None for r in series.rows)]
    if not counters:
        return ""
    plotext.clear_figure()
    plotext.subplots(len(counters), 1)
    plotext.limitsize(False, False)  # taller than the terminal: the page scrolls
    plotext.plotsize(width, CHART_HEIGHT * len(counters))
    plotext.date_form("Y-m-d H:M:S", "d H:M" if series.interval != "daily" else "Y-m-d")
    for i, counter in enumerate(counters, start=1):
        plotext.subplot(i, 1)
        plotext.plotsize(width, CHART_HEIGHT)
        plotext.title(f"{counter} ({UNITS.get(counter, '')})")
        for xs, ys in _segments(series.rows, counter, timedelta(seconds=step * 3)):
            plotext.plot(xs, ys, marker="braille", color="cyan")
    text = str(plotext.build())
    return text if color else str(plotext.uncolorize(text))


@metrics.command()
@provider_argument
@click.argument("target")
@click.option(
    "--since",
    default="4h",
    show_default=True,
    metavar="DURATION",
    help="How far back: 90s, 30m, 4h, 7d.",
)
@click.option(
    "--rollup",
    type=click.Choice(["realtime", "hourly", "daily"]),
    default="realtime",
    show_default=True,
    help="Realtime (20-second) rows or hourly/daily rollups.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "csv"]),
    default="text",
    show_default=True,
    help="A table and charts, or JSON/CSV rows for scripts.",
)
@click.option("--no-chart", is_flag=True, help="The table only.")
@database_option
def show(
    name: str,
    target: str,
    since: str,
    rollup: str,
    fmt: str,
    no_chart: bool,
    database: str | None,
) -> None:
    """Show the metrics of TARGET (a VM's name or ems_ref) of provider NAME."""
    db = open_db(database, write=False)
    series = api.metrics_series(db, name, target, since=since, rollup=rollup)
    rollups = series.interval != "realtime"
    rows = _with_min_max(series.rows) if rollups else series.rows
    columns = REPORT_COLUMNS[3:] if rollups else SERIES_COLUMNS
    columns = ("timestamp", *columns) if rollups else columns
    if fmt == "json":
        echo_json(
            {
                "provider": name,
                "target": series.target,
                "ems_ref": series.ems_ref,
                "interval": series.interval,
                "rows": [{c: r.get(c) for c in columns} for r in rows],
            }
        )
        return
    if fmt == "csv":
        click.echo(_csv(rows, columns), nl=False)
        return
    head = (
        f"{series.target} ({series.ems_ref}): {len(rows)} {series.interval} row(s) since "
        f"{series.since.isoformat(sep=' ', timespec='seconds')} UTC"
    )
    if not rows:
        click.echo(head + "\nno metrics in that time (has `miqspec metrics capture` run?)")
        return
    shown = [("timestamp", *UNITS, "intervals_in_rollup")] if rollups else []
    text = (
        table(shown[0], [[_cell(r.get(c)) for c in shown[0]] for r in rows])
        if rollups
        else _summary(rows)
    )
    click.echo(head + "\n" + text)
    if not no_chart:
        width = min(shutil.get_terminal_size((100, 24)).columns, 160)
        color = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
        click.echo(chart(series, width, color))


@metrics.command()
@provider_argument
@click.option(
    "--rollup",
    type=click.Choice(["daily", "hourly"]),
    default="daily",
    show_default=True,
    help="One row per target per day or per hour.",
)
@click.option(
    "--since",
    default="30d",
    show_default=True,
    metavar="DURATION",
    help="How far back: 12h, 7d, 30d.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "json", "text"]),
    default="csv",
    show_default=True,
    help="CSV (chargeback-ready), JSON or a text table.",
)
@database_option
def report(name: str, rollup: str, since: str, fmt: str, database: str | None) -> None:
    """Rollups of every target of provider NAME: one row per target per day (or hour)."""
    db = open_db(database, write=False)
    rows = _with_min_max(api.metrics_report(db, name, rollup=rollup, since=since))
    if fmt == "csv":
        click.echo(_csv(rows, REPORT_COLUMNS), nl=False)
    elif fmt == "json":
        echo_json([{c: r.get(c) for c in REPORT_COLUMNS} for r in rows])
    else:
        shown = ("timestamp", "target_name", *UNITS, "intervals_in_rollup")
        click.echo(
            table(shown, [[_cell(r.get(c)) for c in shown] for r in rows])
            if rows
            else "no rollups in that time"
        )
