"""Events and targeted refresh in the public API.

Takes: an open ``Database``, a provider name, targets as ``COLLECTION:MANAGER_REF`` strings
(or ``Target``\\ s), options (a cassette to replay, a poll interval, a stop event).
Gives: ``refresh_targets`` -> ``TargetedResult`` (only those objects and what hangs on them;
ManageIQ's targeted semantics); ``poll_events`` -> ``PollResult`` (one poll, stored);
``tail_events`` (polls until ``stop``, each result to a callback; a failing poll is reported
and retried after the interval); ``read_events`` (stored events newest first, as
JSON-ready dicts) and ``event_stream_status`` (the stream's cursor, last poll, success and
error). Raises ``NotFoundError`` for an unknown provider, ``UsageError`` for a bad target or
a spec without ``events``, other ``MiqspecError`` subclasses as the pipeline does. Does
network and database I/O.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from miqspec import pipeline
from miqspec.errors import MiqspecError, UsageError
from miqspec.events import Target, parse_target
from miqspec.pipeline import EventCatcher, PollResult, TargetedResult
from miqspec.store import EventLog, ProviderStore

from .database import Database

MAX_EVENTS = 100_000


def refresh_targets(
    db: Database,
    name: str,
    targets: Iterable[str | Target],
    *,
    replay: str | Path | None = None,
    replay_ignore: tuple[str, ...] = (),
    log: Callable[[str], None] | None = None,
) -> TargetedResult:
    """Refresh only ``targets`` (``vms:ID``) of provider ``name`` (``replay``: a cassette)."""
    wanted = [t if isinstance(t, Target) else parse_target(t) for t in targets]
    adapter: Any = pipeline.provider_adapter(db.engine, name, db.keyring, replay, replay_ignore)
    return pipeline.refresh_targets(db.engine, name, db.keyring, wanted, adapter=adapter, log=log)


def poll_events(db: Database, name: str) -> PollResult:
    """One poll of provider ``name``'s event stream, stored with its cursor."""
    return pipeline.poll_events(db.engine, name, db.keyring)


def tail_events(
    db: Database,
    name: str,
    *,
    stop: threading.Event,
    on_poll: Callable[[PollResult | None, str | None], None],
    interval: float | None = None,
    once: bool = False,
) -> None:
    """Poll until ``stop`` is set: ``on_poll(result, None)`` after each poll,
    ``on_poll(None, error)`` when one fails (tried again after the interval). ``once``: one
    poll, its failure raised."""
    catcher = EventCatcher(db.engine, name, db.keyring)
    try:
        wait = interval if interval is not None else float(catcher.interval)
        if wait <= 0:
            raise UsageError(f"the poll interval must be above 0, got {wait}")
        if once:  # a failure is the caller's: raised
            on_poll(catcher.poll(), None)
            return
        while not stop.is_set():
            try:
                on_poll(catcher.poll(), None)
            except MiqspecError as exc:
                on_poll(None, str(exc))
            stop.wait(wait)
    finally:
        catcher.close()


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def read_events(db: Database, name: str, *, limit: int = 100) -> list[dict[str, Any]]:
    """The stored events of provider ``name``, newest first (``limit`` 1 to 100,000)."""
    if not 1 <= limit <= MAX_EVENTS:
        raise UsageError(f"limit must be a whole number from 1 to {MAX_EVENTS}, got {limit}")
    ems = ProviderStore(db.engine).row(name)
    return [
        {k: _plain(v) for k, v in r.items()} for r in EventLog(db.engine).rows(ems["id"], limit)
    ]


def event_stream_status(db: Database, name: str) -> dict[str, Any] | None:
    """Provider ``name``'s stream row (cursor, last poll/success/error), None before a poll."""
    ems = ProviderStore(db.engine).row(name)
    status = EventLog(db.engine).status(ems["id"])
    return None if status is None else {k: _plain(v) for k, v in status.items()}
