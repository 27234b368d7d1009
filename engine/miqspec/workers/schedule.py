"""The refresh worker: every provider refreshed at its spec's interval, one at a time each,
its metrics captured on the spec's own interval (``metrics_capture``) and its open
provisioning tasks checked once per pass (``follow``).

Takes: a database engine, key ring, a stop event and a log callback. Gives: nothing; logs one
line per refresh, to the callback and to the ``miqspec.worker`` logger (INFO, or WARNING for a
failure; fields ``provider``, ``event``, ``seconds``, ``rows`` for a JSON formatter).
Raises nothing for a failing provider (it is logged and retried at the next interval). Does
database and network I/O through ``pipeline`` and ``store``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime

from miqspec.errors import MiqspecError, RefreshBusyError
from miqspec.pipeline import refresh_provider
from miqspec.store import Engine, KeyRing, ProviderStore, now, spec_for
from miqspec.workers.events import EventDispatch
from miqspec.workers.follow import follow_due
from miqspec.workers.metrics_capture import capture_due

LOG = logging.getLogger("miqspec.worker")


def due(last: datetime | None, interval: int, at: datetime) -> bool:
    """Whether a provider refreshed at ``last`` is due at ``at`` (interval 0: never)."""
    if interval <= 0:
        return False
    return last is None or (at - last).total_seconds() >= interval


def run_worker(
    engine: Engine,
    keyring: KeyRing,
    *,
    stop: threading.Event,
    log: Callable[[str], None],
    once: bool = False,
    poll: float = 5.0,
    events: bool = True,
    event_poll: float | None = None,
    merge_window: float = 1.0,
) -> None:
    """Refresh each provider when its spec's ``refresh_interval`` has passed since its last
    refresh, one provider at a time, checking every ``poll`` seconds until ``stop`` is set (or
    after one pass with ``once``); ``log`` gets one line per refresh, skip or error.
    ``events`` (not with ``once``): providers whose spec has ``events`` get a catcher
    (``workers.events``, polling every ``event_poll`` seconds, default the spec's interval)
    and the targeted refreshes their events queue, merged over ``merge_window`` seconds."""
    store = ProviderStore(engine)

    def tell(line: str, level: int = logging.INFO, **fields: object) -> None:
        log(line)
        LOG.log(level, line, extra=fields)

    tell("worker started", event="started")
    attempts: dict[str, float | None] = {}  # provider -> last metrics capture attempt
    dispatch = (
        None
        if once or not events
        else EventDispatch(engine, keyring, tell, event_poll=event_poll, window=merge_window)
    )
    while not stop.is_set():
        names = store.names()
        if dispatch is not None:
            dispatch.sync(names)
        for name in names:
            if stop.is_set():
                break
            try:
                ems = store.row(name)
                spec = spec_for(ems)
                attempts[name] = capture_due(engine, keyring, name, spec, tell, attempts.get(name))
                follow_due(engine, keyring, name, tell)  # open provisioning tasks, one check each
                interval = spec.provider.refresh_interval
                if not due(ems["last_refresh_date"], interval, now()):
                    continue
                started = time.perf_counter()
                result = refresh_provider(engine, name, keyring)
                took = time.perf_counter() - started
                if result.ok:
                    written = result.report.rows_written if result.report else 0
                    tell(
                        f"{name}: refreshed in {took:.1f}s, {written} row(s) written",
                        provider=name,
                        event="refreshed",
                        seconds=round(took, 3),
                        rows=written,
                    )
                else:
                    tell(
                        f"{name}: refresh failed: {result.error}",
                        logging.WARNING,
                        provider=name,
                        event="failed",
                        seconds=round(took, 3),
                    )
            except RefreshBusyError as exc:
                tell(f"{name}: skipped: {exc}", provider=name, event="skipped")
            except MiqspecError as exc:
                tell(f"{name}: error: {exc}", logging.WARNING, provider=name, event="error")
        if once:
            break
        stop.wait(poll)  # queued targeted refreshes run on the dispatch's own thread
    if dispatch is not None:
        dispatch.close()
    tell("worker stopped", event="stopped")
