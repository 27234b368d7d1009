"""The event side of the worker: a catcher thread per provider whose spec has ``events``, and
the targeted refreshes their events queue, merged.

Takes: a database engine, the key ring, a log callback (``tell(line, level, **fields)``) and
options (a poll interval overriding the specs', the merge window in seconds).
Gives: ``EventDispatch``: ``sync(names)`` starts a catcher for each provider with events
(``pipeline.EventCatcher``: polls its stream every ``events.interval`` seconds, stores the
events and queues the targets they name) and, once, a dispatcher thread that runs
``run_due()`` every 50 ms, so that a long full refresh or metrics capture of the worker's
main loop never delays targeted refreshes; ``run_due()`` runs the batches that have waited
the merge window (``events.TargetQueue``: targets of one provider merged, a batch reaching
the spec's ``full_refresh_threshold`` or naming a collection without a target rule becomes
one full refresh) and returns how many refreshes ran; ``close()`` stops the catchers.
``refreshes``/``targeted``/``full`` count what ran. A stream that fails is logged (WARNING)
and recorded on its provider's stream row (``pipeline.EventCatcher``), polled again after its
interval; the provider's periodic full refresh goes on as before. Raises nothing for a
failing provider. Does network and database I/O through ``pipeline``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from miqspec.errors import MiqspecError, RefreshBusyError
from miqspec.events import Batch, TargetQueue
from miqspec.pipeline import EventCatcher, refresh_provider, refresh_targets
from miqspec.spec import Spec
from miqspec.store import Engine, KeyRing, ProviderStore, spec_for

Tell = Callable[..., None]


class EventDispatch:
    """Catchers and the target queue of one worker (module docstring)."""

    def __init__(
        self,
        engine: Engine,
        keyring: KeyRing,
        tell: Tell,
        *,
        event_poll: float | None = None,
        window: float = 1.0,
    ) -> None:
        self.engine, self.keyring, self.tell = engine, keyring, tell
        self.event_poll, self.window = event_poll, window
        self.queue = TargetQueue(window=window)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: dict[str, threading.Thread] = {}
        self._dispatcher: threading.Thread | None = None
        self._specs: dict[str, Spec] = {}  # provider -> its catcher's spec (targeted refreshes)
        self.refreshes = self.targeted = self.full = 0
        self.events_stored = 0

    # -- catchers -----------------------------------------------------------------------------

    def sync(self, names: Iterable[str]) -> None:
        """Start a catcher for every provider in ``names`` whose spec has ``events``."""
        store = ProviderStore(self.engine)
        for name in names:
            if name in self._threads:
                continue
            try:
                spec = spec_for(store.row(name))
            except MiqspecError:
                continue
            if spec.events is None:
                continue
            thread = threading.Thread(
                target=self._catch, args=(name,), name=f"miqspec-events-{name}", daemon=True
            )
            self._threads[name] = thread
            thread.start()
            self.tell(f"{name}: event catcher started", provider=name, event="catcher")
            if self._dispatcher is None:
                self._dispatcher = threading.Thread(
                    target=self._dispatch, name="miqspec-events-dispatch", daemon=True
                )
                self._dispatcher.start()

    def _dispatch(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_due()
            except Exception as exc:  # a bug must not end the dispatcher silently
                self.tell(f"event dispatch error: {type(exc).__name__}: {exc}", logging.ERROR,
                          event="error")  # fmt: skip
            self._stop.wait(0.05)

    def _catch(self, name: str) -> None:
        catcher: EventCatcher | None = None
        while not self._stop.is_set():
            interval = self.event_poll or 15.0
            try:
                if catcher is None:
                    catcher = EventCatcher(self.engine, name, self.keyring)
                interval = self.event_poll or float(catcher.interval)
                self._specs[name] = catcher.spec
                result = catcher.poll()
                spec = catcher.spec
                assert spec.events is not None
                with self._lock:
                    self.events_stored += result.stored
                    if result.targets:
                        self.queue.add(
                            name,
                            result.targets,
                            time.monotonic(),
                            targetable=spec.targets,
                            threshold=spec.events.full_refresh_threshold,
                        )
                if result.stored:
                    self.tell(
                        f"{name}: {result.stored} event(s) stored, "
                        f"{len(result.targets)} target(s) queued",
                        provider=name,
                        event="events",
                        rows=result.stored,
                    )
            except MiqspecError as exc:
                self.tell(
                    f"{name}: event stream failed: {exc}",
                    logging.WARNING,
                    provider=name,
                    event="events_failed",
                )
                if catcher is not None:
                    catcher.close()
                catcher = None
            except Exception as exc:  # a bug must not end the catcher silently
                self.tell(
                    f"{name}: event catcher error: {type(exc).__name__}: {exc}",
                    logging.ERROR,
                    provider=name,
                    event="events_failed",
                )
                catcher = None
            self._stop.wait(interval)
        if catcher is not None:
            catcher.close()

    def close(self) -> None:
        self._stop.set()
        for thread in [*self._threads.values(), *filter(None, [self._dispatcher])]:
            thread.join(timeout=30)
        self._threads, self._dispatcher = {}, None

    # -- refreshes ----------------------------------------------------------------------------

    def run_due(self) -> int:
        """Run the batches due now; how many refreshes ran."""
        with self._lock:
            batches = self.queue.due(time.monotonic())
        for batch in batches:
            self._run(batch)
        return len(batches)

    def _run(self, batch: Batch) -> None:
        name = batch.provider
        started = time.perf_counter()
        try:
            if batch.full:
                result: Any = refresh_provider(self.engine, name, self.keyring)
                self.full += 1
                ok, what = result.ok, "full refresh (events)"
                error = result.error
            else:
                result = refresh_targets(
                    self.engine, name, self.keyring, list(batch.targets), spec=self._specs.get(name)
                )
                self.targeted += 1
                ok, what = True, f"targeted refresh of {len(batch.targets)} target(s)"
                error = None
                for target, reason in result.failed.items():
                    self.tell(
                        f"{name}: target {target} failed: {reason}",
                        logging.WARNING,
                        provider=name,
                        event="target_failed",
                    )
            self.refreshes += 1
            took = time.perf_counter() - started
            if ok:
                self.tell(
                    f"{name}: {what} in {took:.2f}s ({batch.events} event target(s) merged)",
                    provider=name,
                    event="targeted" if not batch.full else "refreshed",
                    seconds=round(took, 3),
                )
            else:
                self.tell(f"{name}: {what} failed: {error}", logging.WARNING, provider=name,
                          event="failed")  # fmt: skip
        except RefreshBusyError as exc:  # a full refresh runs: try the batch again soon
            with self._lock:
                self.queue.add(name, batch.targets, time.monotonic(), targetable={
                    t.collection for t in batch.targets})  # fmt: skip
                if batch.full:
                    self.queue.add_full(name, time.monotonic())
            self.tell(f"{name}: refresh busy, batch requeued: {exc}", provider=name,
                      event="skipped")  # fmt: skip
        except MiqspecError as exc:
            self.tell(f"{name}: targeted refresh error: {exc}", logging.WARNING,
                      provider=name, event="error")  # fmt: skip
