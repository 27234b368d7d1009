"""Stored provider events and each provider's event-stream cursor.

Takes: a database engine, a provider (ems) id, event rows (dicts of ``event_streams``
columns, ``timestamp`` a naive UTC datetime, ``full_data`` text) and the stream's cursor (a
JSON-able value).
Gives: ``EventLog``: ``cursor(ems_id)`` (the stored cursor, None before the first poll);
``save(ems_id, rows, cursor)`` (one transaction: links resolved, duplicates dropped, rows
inserted, cursor and success stamped) -> ``SavedEvents`` (the stored rows' indexes,
duplicates); ``record_failure`` (the stream's last error, cursor untouched); ``status``;
``rows`` (newest first, for listings); ``delete_provider``. Duplicates are ManageIQ's
``EmsEvent.add`` check: same ems_id, event_type, timestamp, ems_ref and chain_id, in the
database or earlier in the batch. Links (``EmsEvent.add``): ``vm_ems_ref`` -> the provider's
vm or template row (``vm_or_template_id``, ``vm_name``, ``vm_location``), ``host_ems_ref`` ->
its host row (``host_id``, ``host_name``); an unknown object leaves them NULL.
Raises: ``DatabaseError`` (one line) for what the database reports. Does database I/O.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from miqspec.errors import DatabaseError
from miqspec.store.database import error_reason
from miqspec.store.event_tables import EVENT_COLUMNS, EVENT_CURSORS, EVENT_STREAMS

CHUNK = 500
EVENT_TYPE = "EmsEvent"


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass
class SavedEvents:
    """What ``save`` did: ``stored`` holds the indexes (in ``rows``) of the rows inserted."""

    stored: list[int] = field(default_factory=list)
    duplicates: int = 0


def _key(row: Mapping[str, Any]) -> tuple[Any, ...]:
    return (row.get("event_type"), row.get("timestamp"), row.get("ems_ref"), row.get("chain_id"))


class EventLog:
    """Events and cursors of the providers in one database."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except sa.exc.SQLAlchemyError as exc:
            raise DatabaseError(f"event store: {error_reason(exc)}") from None

    def cursor(self, ems_id: int) -> Any:
        c = EVENT_CURSORS.c
        with self._errors(), self.engine.connect() as conn:
            text = conn.execute(sa.select(c.cursor).where(c.ems_id == ems_id)).scalar()
        return None if text is None else json.loads(text)

    def status(self, ems_id: int) -> dict[str, Any] | None:
        """The stream's cursor row (cursor, last poll/success/error), None before any poll."""
        with self._errors(), self.engine.connect() as conn:
            row = (
                conn.execute(sa.select(EVENT_CURSORS).where(EVENT_CURSORS.c.ems_id == ems_id))
                .mappings()
                .first()
            )
        return None if row is None else dict(row)

    def record_failure(self, ems_id: int, error: str) -> None:
        """The stream failed: its error and time kept, its cursor left as it was."""
        with self._errors(), self.engine.begin() as conn:
            self._upsert(conn, ems_id, last_poll_date=_now(), last_event_error=error,
                         last_event_error_date=_now())  # fmt: skip

    def save(self, ems_id: int, rows: Sequence[dict[str, Any]], cursor: Any) -> SavedEvents:
        """Store the rows not stored before, and the cursor, in one transaction."""
        out = SavedEvents()
        stamp = _now()
        with self._errors(), self.engine.begin() as conn:
            known = self._existing(conn, ems_id, rows)
            fresh: list[dict[str, Any]] = []
            for i, row in enumerate(rows):
                key = _key(row)
                if key in known:
                    out.duplicates += 1
                    continue
                known.add(key)
                out.stored.append(i)
                full = {c: row.get(c) for c in EVENT_COLUMNS}
                full.update(type=EVENT_TYPE, ems_id=ems_id, created_on=stamp)
                fresh.append(full)
            self._link(conn, ems_id, fresh)
            for start in range(0, len(fresh), CHUNK):
                conn.execute(EVENT_STREAMS.insert(), fresh[start : start + CHUNK])
            previous = conn.execute(
                sa.select(EVENT_CURSORS.c.events_stored).where(EVENT_CURSORS.c.ems_id == ems_id)
            ).scalar()
            self._upsert(
                conn,
                ems_id,
                cursor=json.dumps(cursor),
                last_poll_date=stamp,
                last_success_date=stamp,
                last_event_error=None,
                events_stored=(previous or 0) + len(fresh),
            )
        return out

    def rows(self, ems_id: int, limit: int = 100) -> list[dict[str, Any]]:
        """The provider's stored events, newest first (at most ``limit``)."""
        t = EVENT_STREAMS
        query = (
            sa.select(t).where(t.c.ems_id == ems_id).order_by(t.c.timestamp.desc(), t.c.id.desc())
        )
        with self._errors(), self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(query.limit(limit)).mappings()]

    def count(self, ems_id: int) -> int:
        t = EVENT_STREAMS
        with self._errors(), self.engine.connect() as conn:
            query = sa.select(sa.func.count()).select_from(t).where(t.c.ems_id == ems_id)
            return int(conn.execute(query).scalar() or 0)

    def delete_provider(self, conn: sa.Connection, ems_id: int) -> None:
        """Drop a provider's events and cursor (inside the caller's transaction)."""
        conn.execute(EVENT_STREAMS.delete().where(EVENT_STREAMS.c.ems_id == ems_id))
        conn.execute(EVENT_CURSORS.delete().where(EVENT_CURSORS.c.ems_id == ems_id))

    # -- helpers ------------------------------------------------------------------------------

    def _existing(
        self, conn: sa.Connection, ems_id: int, rows: Sequence[Mapping[str, Any]]
    ) -> set[tuple[Any, ...]]:
        t = EVENT_STREAMS
        stamps = sorted({r["timestamp"] for r in rows if r.get("timestamp") is not None})
        found: set[tuple[Any, ...]] = set()
        for start in range(0, len(stamps), CHUNK):
            part = stamps[start : start + CHUNK]
            query = sa.select(t.c.event_type, t.c.timestamp, t.c.ems_ref, t.c.chain_id).where(
                t.c.ems_id == ems_id, t.c.timestamp.in_(part)
            )
            found.update(tuple(r) for r in conn.execute(query))
        return found

    def _link(self, conn: sa.Connection, ems_id: int, rows: list[dict[str, Any]]) -> None:
        inspector = sa.inspect(conn)
        for table, ref, fields in (
            ("vms", "vm_ems_ref", (("vm_or_template_id", "id"), ("vm_name", "name"),
                                   ("vm_location", "location"))),
            ("hosts", "host_ems_ref", (("host_id", "id"), ("host_name", "name"))),
        ):  # fmt: skip
            wanted = sorted({r[ref] for r in rows if r.get(ref)})
            if not wanted or not inspector.has_table(table):
                continue
            columns = {c["name"] for c in inspector.get_columns(table)}
            cols = [src for _, src in fields if src in columns]
            t = sa.table(table, *(sa.column(c) for c in {"ems_ref", "ems_id", *cols}))
            found: dict[str, Mapping[str, Any]] = {}
            for start in range(0, len(wanted), CHUNK):
                query = sa.select(t.c.ems_ref, *(t.c[c] for c in cols)).where(
                    t.c.ems_id == ems_id, t.c.ems_ref.in_(wanted[start : start + CHUNK])
                )
                for r in conn.execute(query).mappings():
                    found.setdefault(r["ems_ref"], dict(r))
            for row in rows:
                hit = found.get(row.get(ref) or "")
                if hit is not None:
                    row.update({dst: hit[src] for dst, src in fields if src in cols})

    def _upsert(self, conn: sa.Connection, ems_id: int, **values: Any) -> None:
        c = EVENT_CURSORS.c
        exists = conn.execute(sa.select(c.id).where(c.ems_id == ems_id)).scalar()
        if exists is None:
            conn.execute(EVENT_CURSORS.insert().values(ems_id=ems_id, **values))
        else:
            conn.execute(EVENT_CURSORS.update().where(c.ems_id == ems_id).values(**values))
