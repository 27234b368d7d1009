"""The ``miqspec`` command group and the one place errors become exit codes.

Takes: the command line. Gives: ``main`` (the click group the console script runs) and
``MiqspecGroup``: every ``MiqspecError`` a command raises is caught once, in the group's
``invoke``, and printed as one line on stderr (``miqspec: error: ...``) with its exit code;
Ctrl+C exits 130; SIGTERM, where a command turns it into ``Terminated`` (``interruptible``: it
unwinds like Ctrl+C, releasing locks and rolling back), exits 143; any other exception prints
one "internal error" line and exits 70 (``MIQSPEC_DEBUG=1`` shows the traceback instead). See
docs/cli.md. Terminal I/O and signal handlers only.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator
from types import FrameType
from typing import Any

import click

from miqspec.errors import MiqspecError
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


@click.group(cls=MiqspecGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="miqspec")
def main() -> None:
    """miqspec: ManageIQ-style providers as one YAML spec.

    \b
    Write a spec, lint it, run it:
      miqspec new my_cloud --manager-type cloud > provider_specs/my_cloud.yaml
      miqspec validate provider_specs/*.yaml
      miqspec demo
    """
