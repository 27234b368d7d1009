"""Event polling: one poll of a provider's event stream, stored with its cursor.

Takes: a database engine, a provider name, the key ring, and options (an adapter for recorded
traffic, a session to reuse between polls, a log callback). Gives: ``poll_events`` ->
``PollResult`` (events read, stored, duplicates dropped, ignored, malformed with their
one-line errors, and the refresh targets the stored events name) and ``EventCatcher`` (a
provider's session kept between polls; ``poll()``, ``close()``). A poll renders the events
call with ``events.cursor``/``events.since`` (``events.cursor_vars``), maps each raw event
(``events.map_events``; a malformed one is logged and skipped, the others go on), stores the
new rows and the advanced cursor in one transaction (``store.EventLog``), so nothing is
missed or stored twice. A stream that fails (an HTTP error, a truncated or malformed page)
records the error on the provider's stream row, keeps the cursor and stores nothing; the
error is raised. Raises: ``UsageError`` when the spec has no ``events``, ``MiqspecError``
subclasses for a failing stream. Does network and database I/O.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from miqspec.collect import collect
from miqspec.connect import ProviderSession
from miqspec.errors import MiqspecError, UsageError
from miqspec.events import Target, advance, cursor_vars, map_events
from miqspec.pipeline.session import make_session
from miqspec.spec import Spec
from miqspec.store import Engine, EventLog, KeyRing, ProviderStore, now, spec_for

LOG = logging.getLogger("miqspec.events")


@dataclass
class PollResult:
    provider: str
    read: int = 0
    stored: int = 0
    duplicates: int = 0
    ignored: int = 0
    errors: list[str] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    cursor: Any = None


class EventCatcher:
    """One provider's event stream, its session kept between polls."""

    def __init__(self, engine: Engine, name: str, keyring: KeyRing, *, adapter: Any = None) -> None:
        self.engine, self.name = engine, name
        store = ProviderStore(engine)
        self.ems = store.row(name)
        self.spec: Spec = spec_for(self.ems)
        if self.spec.events is None:
            raise UsageError(
                f"provider {name!r}: spec {self.spec.provider.name!r} has no events section"
            )
        self.log = EventLog(engine)
        self.session: ProviderSession = make_session(
            self.spec, store.args(self.ems, keyring), adapter, provider=self.ems
        )

    @property
    def interval(self) -> int:
        assert self.spec.events is not None
        return self.spec.events.interval

    def close(self) -> None:
        self.session.close()

    def poll(self) -> PollResult:
        """Read the events after the stored cursor and store them (module docstring)."""
        events = self.spec.events
        assert events is not None
        ems_id = self.ems["id"]
        result = PollResult(provider=self.name)
        stored_cursor = self.log.cursor(ems_id)
        self.session.ctx["events"] = cursor_vars(events, stored_cursor, now())
        try:
            got = collect(self.session, [events.call])
        except MiqspecError as exc:
            self.log.record_failure(ems_id, str(exc))
            LOG.error("%s: event stream failed: %s", self.name, exc)
            raise
        finally:
            self.session.ctx.pop("events", None)
        records = got.calls[events.call].records
        scope = {k: self.session.ctx.get(k) for k in ("region", "provider", "settings")}
        batch = map_events(events, records, scope)
        for line in batch.errors:
            LOG.error("%s: malformed event skipped: %s", self.name, line)
        cursor = advance(events, stored_cursor, records, scope)
        saved = self.log.save(ems_id, batch.rows, cursor)
        result.read, result.ignored, result.errors = len(records), batch.ignored, batch.errors
        result.stored, result.duplicates = len(saved.stored), saved.duplicates
        result.cursor = cursor
        for i in saved.stored:
            result.targets.extend(batch.targets[i])
        return result


def poll_events(engine: Engine, name: str, keyring: KeyRing, *, adapter: Any = None) -> PollResult:
    """One poll of provider ``name``'s event stream (module docstring)."""
    catcher = EventCatcher(engine, name, keyring, adapter=adapter)
    try:
        return catcher.poll()
    finally:
        catcher.close()
