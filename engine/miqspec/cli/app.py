"""The ``miqspec`` command group and the one place errors become exit codes.

Takes: the command line. Gives: ``main`` (the click group the console script runs) and
``MiqspecGroup``: every ``MiqspecError`` a command raises is caught once, in the group's
``invoke``, and printed as one line on stderr (``miqspec: error: ...``) with its exit code;
Ctrl+C exits 130; SIGTERM, where a command turns it into ``Terminated`` (``interruptible``: it
unwinds like Ctrl+C, releasing locks and rolling back), exits 143; any other exception prints
one "internal error" line and exits 70 (``MIQSPEC_DEBUG=1`` shows the traceback instead). See
docs/cli.md. ``-v``/``-vv``, ``MIQSPEC_LOG_LEVEL`` and ``--log-format text|json`` set up the
standard ``logging`` of the ``miqspec`` loggers on stderr (``configure_logging``). Terminal I/O
and signal handlers only.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from types import FrameType
from typing import Any

import click

from miqspec.cli.output import no_color_option
from miqspec.errors import MiqspecError, UsageError
from miqspec.version import __version__

INTERRUPTED = 130
TERMINATED = 143  # 128 + SIGTERM
INTERNAL_ERROR = 70


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the program is, so that it unwinds as for Ctrl+C."""


_pending: list[KeyboardInterrupt] = []  # what the handlers of ``interruptible`` raised


def raise_pending() -> None:
    """Raise again the interruption a signal raised inside ``interruptible``, if any: code that
    ran Python from C may have swallowed it (psycopg2's COPY turns an exception in its read
    callback into a database error), and the command must stop all the same."""
    if _pending:
        raise _pending[0]


@contextlib.contextmanager
def interruptible() -> Iterator[None]:
    """While the block runs (on the main thread), SIGTERM raises ``Terminated`` and Ctrl+C
    ``KeyboardInterrupt``, each remembered for ``raise_pending`` (checked again when the block
    ends); a second signal of the same kind ends the process at once."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: FrameType | None) -> None:
        signal.signal(signum, signal.SIG_DFL)
        name = signal.Signals(signum).name
        exc = Terminated(name) if signum == signal.SIGTERM else KeyboardInterrupt(name)
        _pending.append(exc)
        raise exc

    _pending.clear()
    previous = {s: signal.signal(s, interrupt) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
        raise_pending()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class MiqspecGroup(click.Group):
    """A click group whose commands report errors as one line and an exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise  # click reports its own
        except MiqspecError as exc:
            click.echo(f"miqspec: error: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except Terminated:
            click.echo("miqspec: terminated (SIGTERM)", err=True)
            ctx.exit(TERMINATED)
        except KeyboardInterrupt:
            click.echo("miqspec: interrupted", err=True)
            ctx.exit(INTERRUPTED)
        except Exception as exc:  # last resort: one line, never a traceback
            if os.environ.get("MIQSPEC_DEBUG"):
                raise
            click.echo(
                f"miqspec: internal error: {type(exc).__name__}: {exc} (set "
                "MIQSPEC_DEBUG=1 for the traceback and please report it)",
                err=True,
            )
            ctx.exit(INTERNAL_ERROR)


LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_RECORD_FIELDS = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, and the record's
    extra fields (``provider``, ``event``, ``status``, ``seconds``, ...)."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        out.update((k, v) for k, v in vars(record).items() if k not in _RECORD_FIELDS)
        return json.dumps(out, default=str)


JsonFormatter.converter = time.gmtime


class _Handler(logging.StreamHandler):
    """The handler ``configure_logging`` installs (replaced, not added, when called again); it
    writes to whatever ``sys.stderr`` is when a record comes."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


def configure_logging(verbose: int, log_format: str) -> None:
    """Log the ``miqspec`` loggers to stderr: WARNING and above by default (INFO with the json
    format), ``MIQSPEC_LOG_LEVEL`` when set, INFO with ``-v``, DEBUG (the request trace of
    ``miqspec.http``) with ``-vv``. ``UsageError`` for an unknown ``MIQSPEC_LOG_LEVEL``."""
    env = os.environ.get("MIQSPEC_LOG_LEVEL", "").strip().upper()
    if env and env not in LEVELS:
        raise UsageError(f"MIQSPEC_LOG_LEVEL must be one of {', '.join(LEVELS)}, got {env!r}")
    level = env or ("INFO" if log_format == "json" else "WARNING")
    if verbose:
        level = "DEBUG" if verbose > 1 else min(level, "INFO", key=LEVELS.index)
    logger = logging.getLogger("miqspec")
    for old in [h for h in logger.handlers if isinstance(h, _Handler)]:
        logger.removeHandler(old)
    handler = _Handler(sys.stderr)
    handler.setFormatter(
        JsonFormatter()
        if log_format == "json"
        else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    logger.addHandler(handler)
    logger.setLevel(level)


@click.group(cls=MiqspecGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="miqspec")
@click.option(
    "-v",
    "--verbose",
    count=True,
    help="Log more on stderr: -v INFO, -vv DEBUG with a trace of every HTTP request "
    "(default: MIQSPEC_LOG_LEVEL, else WARNING).",
)
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    envvar="MIQSPEC_LOG_FORMAT",
    help="Log lines as text or as one JSON object each (e.g. for the worker; INFO by default).",
)
@no_color_option
def main(verbose: int, log_format: str) -> None:
    """miqspec: ManageIQ-style providers as one YAML spec.

    \b
    Write a spec, lint it, run it:
      miqspec new my_cloud --manager-type cloud > provider_specs/my_cloud.yaml
      miqspec validate provider_specs/*.yaml
      miqspec demo
    """
    configure_logging(verbose, log_format)
