"""What the CLI prints for people: plain text through a pipe, colours and tidy tables on a
terminal (``rich``, which only the CLI imports).

Takes: a ``report.Doc`` (lines, ``Table``, ``Fields``, styled ``Line``). Gives: ``echo`` (the
doc on stdout), ``color_enabled`` (the decision for a stream), ``no_color_option`` (the group's
``--no-color``) and ``console`` (a rich console for a stream, used by the progress view).

Colour is off with ``--no-color`` or ``NO_COLOR`` set to anything but empty (no-color.org);
else on with ``FORCE_COLOR`` set to anything but empty (force-color.org), even through a pipe;
else off when ``TERM=dumb`` or the stream is not a terminal. Off, the output is exactly
``report.plain(doc)``, the text a pipe has always had. Terminal output only; raises nothing.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Sequence
from typing import IO, TYPE_CHECKING, Any, TypeVar

import click

from miqspec.cli.report import Block, Fields, Line, Table, plain

if TYPE_CHECKING:
    from rich.console import Console, RenderableType
    from rich.text import Text

F = TypeVar("F", bound=Callable[..., Any])
_NO_COLOR_KEY = "miqspec.no_color"

#: the style of a line's marker words, found by pattern (the group names a style below)
_MARKS = re.compile(
    r"^(?:(?:Refresh|Dry run) of .*: (?P<good>ok)$"
    r"|(?:Refresh|Dry run) of .*?: (?P<bad>FAILED):"
    r"|(?P<bad2>FAILED):"
    r"|(?P<good2>ok):"
    r"|(?P<warn>warning):"
    r"|(?P<dim>\(inventory unchanged\))$)"
)
_STYLES = {
    "good": "bold green",
    "bad": "bold red",
    "warn": "yellow",
    "dim": "dim",
    "head": "bold",
    "name": "cyan",
}
#: count columns of the refresh summary: the style of a value other than 0
_COUNT_STYLES = {
    "created": "green",
    "updated": "cyan",
    "deleted": "red",
    "disconnected": "yellow",
    "reconnected": "magenta",
}
#: the style of a cell by its value, in the status-like columns
_VALUE_STYLES = {
    "ok": "green",
    "valid": "green",
    "error": "red",
    "failed": "red",
    "invalid": "red",
    "unreachable": "red",
    "incomplete": "yellow",
    "not verified": "yellow",
    "never": "dim",
}
_STATUS_COLUMNS = {"status", "credentials", "last error"}
_UNBOUNDED = 1 << 20  # the width a table is measured in: as wide as its cells make it


def _set_no_color(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value:
        ctx.meta[_NO_COLOR_KEY] = True


def no_color_option(fn: F) -> F:
    """``--no-color``: plain text even on a terminal (as ``NO_COLOR`` does)."""
    return click.option(
        "--no-color",
        is_flag=True,
        expose_value=False,
        is_eager=True,
        callback=_set_no_color,
        help="No colours, even on a terminal (as NO_COLOR=1 does).",
    )(fn)


def _no_color_asked() -> bool:
    ctx = click.get_current_context(silent=True)
    return bool(ctx is not None and ctx.meta.get(_NO_COLOR_KEY))


def color_enabled(stream: IO[str]) -> bool:
    """Whether what is written to ``stream`` gets colours (see the module's docstring)."""
    if _no_color_asked() or os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    if os.environ.get("TERM", "").lower() == "dumb":
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or closed
        return False


def interactive(stream: IO[str]) -> bool:
    """Whether ``stream`` is a terminal that can redraw lines (progress): a tty, not dumb."""
    if os.environ.get("TERM", "").lower() == "dumb":
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _color_system() -> str:
    if os.environ.get("COLORTERM", "").strip().lower() in ("truecolor", "24bit"):
        return "truecolor"
    return "256" if os.environ.get("TERM", "").endswith("256color") else "standard"


def console(stream: IO[str], *, color: bool) -> Console:
    """A rich console writing to ``stream``: with colours when ``color``, else none."""
    from rich.console import Console

    if not color:
        return Console(file=stream, no_color=True, highlight=False, markup=False, emoji=False)
    return Console(
        file=stream,
        force_terminal=True,
        no_color=False,
        color_system=_color_system(),  # type: ignore[arg-type]
        highlight=False,
        markup=False,
        emoji=False,
    )


def _marked(text: str, style: str = "") -> Text:
    """One or more lines of text, the marker words (ok, FAILED, warning) styled."""
    from rich.text import Text

    out = Text(text, style=_STYLES.get(style, ""))
    offset = 0
    for line in text.split("\n"):
        found = _MARKS.match(line)
        if found is not None:
            for group, value in found.groupdict().items():
                if value is not None:
                    start, end = found.span(group)
                    out.stylize(_STYLES[group.rstrip("2")], offset + start, offset + end)
        offset += len(line) + 1
    return out


def _cell(value: Any, header: str, numeric: bool) -> Text:
    from rich.text import Text

    text = "" if value is None else str(value)
    style = ""
    if header in _COUNT_STYLES and numeric:
        style = _COUNT_STYLES[header] if text not in ("", "0") else "dim"
    elif header in _STATUS_COLUMNS:
        style = _VALUE_STYLES.get(text.lower(), "")
    return Text(text, style=style)


def _table(block: Table) -> RenderableType:
    from rich import box
    from rich.table import Table as RichTable

    cells = [["" if v is None else str(v) for v in row] for row in block.rows]
    grid = RichTable(
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        header_style=_STYLES["head"],
    )
    numeric = []
    for i, header in enumerate(block.headers):
        is_num = bool(cells) and all(
            r[i].replace(".", "", 1).isdigit() or r[i] == "" for r in cells
        )
        numeric.append(is_num)
        grid.add_column(
            header, justify="right" if is_num else "left", style=_STYLES["name"] if i == 0 else ""
        )
    for row in block.rows:
        grid.add_row(*(_cell(v, h, n) for v, h, n in zip(row, block.headers, numeric, strict=True)))
    return grid


def _fields(block: Fields) -> RenderableType:
    from rich.table import Table as RichTable
    from rich.text import Text

    grid = RichTable.grid(padding=(0, 2))
    grid.add_column(style=_STYLES["head"])
    grid.add_column()
    for key, value in block.pairs:
        style = _VALUE_STYLES.get(value.lower(), "") if key in _STATUS_COLUMNS else ""
        if key == "last error" and value != "-":
            style = "red"
        grid.add_row(Text(key), Text(value, style=style))
    return grid


def render(out: Console, doc: Sequence[Block]) -> None:
    """Draw ``doc`` on ``out``: tables at their natural width (a wide one is never squeezed
    or cut: the terminal wraps it, as plain text), lines never wrapped by rich."""
    for block in doc:
        if isinstance(block, Table | Fields):
            drawn = _table(block) if isinstance(block, Table) else _fields(block)
            natural = out.measure(drawn, options=out.options.update_width(_UNBOUNDED)).maximum
            width = out.width
            out.width = max(width, natural)  # print(width=) would not go past the console's
            try:
                out.print(drawn, crop=False)
            finally:
                out.width = width
        elif isinstance(block, Line):
            out.print(_marked(block.text, block.style), soft_wrap=True)
        else:
            out.print(_marked(block), soft_wrap=True)


def echo(*doc: Block, err: bool = False) -> None:
    """Write ``doc`` on stdout (stderr with ``err``): ``plain(doc)`` without colours, else
    drawn by rich."""
    stream = sys.stderr if err else sys.stdout
    if not color_enabled(stream):
        click.echo(plain(doc), err=err)
        return
    render(console(stream, color=True), doc)
