"""The ``miqspec`` command group and the one place errors become exit codes.

Takes: the command line. Gives: ``main`` (the click group the console script runs) and
``MiqspecGroup``: every ``MiqspecError`` a command raises is caught once, in the group's
``invoke``, and printed as one line on stderr (``miqspec: error: ...``) with its exit code;
Ctrl+C exits 130; SIGTERM, where a command turns it into ``Terminated`` (``sigterm_interrupts``:
it unwinds like Ctrl+C, releasing locks and rolling back), exits 143; any other exception prints
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


@contextlib.contextmanager
def sigterm_interrupts() -> Iterator[None]:
    """While the block runs (on the main thread), SIGTERM raises ``Terminated``; a second
    SIGTERM during the unwinding ends the process at once."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def terminate(signum: int, frame: FrameType | None) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        raise Terminated("SIGTERM")

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


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
