"""Human and JSON renderings of results: refresh summaries, provider details, inventory rows.

Takes: ``RefreshResult``, ``ProviderInfo``, row lists. Gives: strings, and for what people read
a ``Doc`` (lines, ``Table``s, ``Fields`` and styled ``Line``s) that ``plain`` turns into the
plain text (what a pipe gets) and ``cli.output`` draws with colours on a terminal. No I/O,
raises nothing.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, TypeAlias

from miqspec.api import ProviderInfo, RefreshResult, VerifyResult

COUNT_COLUMNS = ("created", "updated", "deleted", "disconnected", "unchanged")  # JSON's order
#: the refresh summary's columns: reconnected (a disconnected row with the same ems_ref taken
#: back, as ManageIQ does) beside the other changes
TEXT_COUNT_COLUMNS = ("created", "updated", "deleted", "disconnected", "reconnected", "unchanged")
#: counted in JSON always, in the summary's table when some collection has any
SOMETIMES_COLUMNS = ("archived", "dropped")


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[("" if v is None else str(v)) for v in row] for row in rows]
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(headers)]
    numeric = [
        all(r[i].replace(".", "", 1).isdigit() or r[i] == "" for r in cells) and cells
        for i in range(len(headers))
    ]

    def fmt(row: Sequence[str]) -> str:
        return "  ".join(
            v.rjust(w) if numeric[i] else v.ljust(w)
            for i, (v, w) in enumerate(zip(row, widths, strict=True))
        ).rstrip()

    lines = [fmt(list(headers)), fmt(["-" * w for w in widths])]
    lines.extend(fmt(r) for r in cells)
    return "\n".join(lines)


@dataclass(frozen=True)
class Table:
    """A table with a header line; plain text: ``table``."""

    headers: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]

    def __str__(self) -> str:
        return table(self.headers, self.rows)


@dataclass(frozen=True)
class Fields:
    """Names and values, one pair a line, the values aligned."""

    pairs: tuple[tuple[str, str], ...]

    def __str__(self) -> str:
        width = max((len(k) for k, _ in self.pairs), default=0)
        return "\n".join(f"{k.ljust(width)}  {v}" for k, v in self.pairs)


@dataclass(frozen=True)
class Line:
    """A line drawn in one style on a terminal: ``good``, ``bad`` or ``warn``."""

    text: str
    style: str = ""

    def __str__(self) -> str:
        return self.text


Block: TypeAlias = str | Table | Fields | Line
Doc: TypeAlias = list[Block]


def plain(doc: Sequence[Block]) -> str:
    """The plain text of ``doc``: its blocks, one after the other, a line break between."""
    return "\n".join(str(b) for b in doc)


def refresh_counts(result: RefreshResult) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    report = result.report
    if report is None:
        return out
    for name, stats in report.collections.items():
        row = {c: int(getattr(stats, c, 0) or 0) for c in COUNT_COLUMNS}
        row["reconnected"] = int(getattr(stats, "reconnected", 0) or 0)
        row["carried"] = int(getattr(stats, "carried", 0) or 0)  # of unchanged: not parsed
        for extra in SOMETIMES_COLUMNS:  # archived rows; records that gave no row
            row[extra] = int(getattr(stats, extra, 0) or 0)
        out[name] = row
    return out


def refresh_doc(result: RefreshResult) -> Doc:
    """The refresh summary: ok or FAILED, a table per call and per collection (created,
    updated, deleted, disconnected, reconnected, unchanged), rows written, a sample of changes,
    warnings and the time per phase."""
    head = f"{'Dry run of' if result.dry_run else 'Refresh of'} {result.provider}: "
    if not result.ok:
        return [head + f"FAILED: {result.error}", "(inventory unchanged)"]
    lines: Doc = [head + "ok"]
    if result.collected:
        rows = tuple(
            (c.name, c.status, c.pages, c.requests, len(c.records), f"{c.seconds:.2f}")
            for c in result.collected.calls.values()
        )
        lines += ["", Table(("call", "status", "pages", "requests", "records", "seconds"), rows)]
    counts = refresh_counts(result)
    if counts:
        shown = TEXT_COUNT_COLUMNS + tuple(
            k for k in SOMETIMES_COLUMNS if any(c[k] for c in counts.values())
        )
        rows2 = tuple((n, *(c[k] for k in shown)) for n, c in counts.items())
        lines += ["", Table(("collection", *shown), rows2)]
    if result.report is not None:
        lines.append(
            f"\nrows written: {result.report.rows_written}"
            + (" (dry run: nothing was written)" if result.dry_run else "")
        )
        tags = getattr(result.report, "tags", None)
        if tags:  # collections with tags: (persist.tags)
            lines.append(
                f"tags: {tags['added']} taggings added, {tags['removed']} removed, "
                f"{tags['entries']} new tag entries"
            )
        sample = getattr(result.report, "changes", None) or []
        if sample:
            lines.append("sample of changes:")
            for ch in sample:
                lines.append(
                    f"  {ch.collection} {ch.ref}: {ch.attribute}: {ch.old!r} -> {ch.new!r}"
                )
    lines.extend(Line(f"warning: {w}", "warn") for w in result.warnings)
    phases = "  ".join(f"{k} {v:.2f}s" for k, v in result.phases.items())
    lines.append(f"time: {phases}")
    return lines


def refresh_json(result: RefreshResult) -> dict[str, Any]:
    return {
        "provider": result.provider,
        "ok": result.ok,
        "error": result.error,
        "dry_run": result.dry_run,
        "exit_code": result.exit_code,
        "rows_written": result.report.rows_written if result.report else 0,
        "collections": refresh_counts(result),
        "calls": {
            c.name: {
                "status": c.status,
                "pages": c.pages,
                "requests": c.requests,
                "records": len(c.records),
                "seconds": round(c.seconds, 4),
            }
            for c in (result.collected.calls.values() if result.collected else [])
        },
        "phases": {k: round(v, 4) for k, v in result.phases.items()},
        "warnings": list(result.warnings),
    } | _tags(result)


def _tags(result: RefreshResult) -> dict[str, Any]:
    """``tags`` (taggings added, removed, entries made) when a collection has ``tags:``."""
    tags = getattr(result.report, "tags", None)
    return {"tags": dict(tags)} if tags else {}


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else "never"


def provider_fields(info: ProviderInfo) -> Fields:
    rows = (
        ("name", info.name),
        ("type", info.type),
        ("spec", info.spec_source),
        ("region", info.region or "-"),
        ("zone", info.zone or "-"),
        ("child managers", ", ".join(info.children) or "-"),
        ("credentials", info.auth_status or "not verified"),
        ("credential details", info.auth_status_details or "-"),
        ("last refresh", _when(info.last_refresh_date)),
        ("last success", _when(info.last_refresh_success_date)),
        ("last error", info.last_refresh_error or "-"),
        ("event stream", info.event_stream or "-"),
        ("last event poll", _when(info.last_event_poll_date)),
        ("last event error", info.last_event_error or "-"),
    )
    return Fields(rows)


def provider_json(info: ProviderInfo) -> dict[str, Any]:
    data = asdict(info)
    for k, v in data.items():
        if isinstance(v, datetime):
            data[k] = v.isoformat()
    return data


def verify_line(result: VerifyResult, label: str) -> Line:
    word = (
        "valid"
        if result.valid
        else "invalid"
        if result.status == "Invalid"
        else (result.status.lower())
    )
    return Line(f"{label}: {word}: {result.details}", "good" if result.valid else "bad")


def rows_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> Table:
    return Table(tuple(columns), tuple(tuple(r.get(c) for c in columns) for r in rows))


def rows_csv(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> str:
    """Rows as CSV (RFC 4180, a header line of ``columns``; JSON values as JSON text)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(
            [
                json.dumps(v, default=str)
                if isinstance(v, dict | list)
                else ("" if v is None else v)
                for v in (row.get(c) for c in columns)
            ]
        )
    return out.getvalue()
