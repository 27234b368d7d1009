"""The progress of a refresh on stderr: rich's live lines on a terminal, plain lines otherwise.

Takes: the callbacks of ``api.refresh`` and ``api.run_demo`` (per call: pages and records so
far; the phase that starts). Gives: ``ProgressView``. On a terminal that can redraw lines (a
tty, not ``TERM=dumb``), a line per call (spinner, call, records, pages, time) under the
phase that runs, coloured unless ``NO_COLOR``/``--no-color``; anywhere else, a line on stderr
per phase as it starts and one per call at the end. Terminal output only; raises nothing.
"""

from __future__ import annotations

import sys
import threading
from typing import Any

import click

from miqspec.cli.output import color_enabled, console, interactive


class ProgressView:
    """Per call: pages and records; live lines on a terminal, plain lines otherwise."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self.live = enabled and interactive(sys.stderr)
        self.progress: Any = None  # rich.progress.Progress, started on first use
        self.tasks: dict[str, Any] = {}
        self.phase_task: Any = None
        self.last: dict[str, tuple[int, int]] = {}
        self.lock = threading.Lock()

    def _start(self) -> Any:
        if self.progress is None:
            from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
            from rich.text import Text

            class PhaseClock(TimeElapsedColumn):
                """The time since the refresh started, on the phase's line only."""

                def render(self, task: Any) -> Text:
                    return super().render(task) if task.fields.get("clock") else Text("")

            out = console(sys.stderr, color=color_enabled(sys.stderr))
            done = "✓" if (out.encoding or "").lower().startswith("utf") else "*"
            self.progress = Progress(
                SpinnerColumn(finished_text=done),
                TextColumn("{task.description}"),
                TextColumn("{task.fields[info]}", style="cyan"),
                PhaseClock(),
                console=out,
                transient=False,
            )
            self.progress.start()
        return self.progress

    def __call__(self, call: str, pages: int, records: int) -> None:
        if not self.enabled:
            return
        with self.lock:
            if self.live:
                progress = self._start()
                info = f"{records} record(s), {pages} page(s)"
                task = self.tasks.get(call)
                if task is None:
                    self.tasks[call] = progress.add_task(call, total=None, info=info)
                else:
                    progress.update(task, info=info)
            self.last[call] = (pages, records)

    def phase(self, provider: str, name: str) -> None:
        """A phase starts (collect, parse, persist): the line above the calls on a terminal,
        one line on stderr otherwise."""
        if not self.enabled:
            return
        if not self.live:
            click.echo(f"{provider}: {name}", err=True)
            return
        with self.lock:
            progress = self._start()
            if self.phase_task is None:
                self.phase_task = progress.add_task(
                    f"{provider}: {name}", total=None, info="", clock=True
                )
            else:
                progress.update(self.phase_task, description=f"{provider}: {name}")

    def close(self) -> None:
        with self.lock:
            if self.progress is not None:
                if self.phase_task is not None:
                    self.progress.remove_task(self.phase_task)
                for task in self.tasks.values():
                    self.progress.update(task, total=1, completed=1)
                self.progress.stop()
            if self.enabled and not self.live:
                for call, (pages, records) in self.last.items():
                    click.echo(f"{call}: {pages} page(s), {records} record(s)", err=True)
            self.progress = None
            self.phase_task = None
            self.tasks.clear()
            self.last.clear()
