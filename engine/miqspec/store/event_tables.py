"""The event tables as SQLAlchemy Core sees them (migration 0006 creates them).

Takes: nothing. Gives: ``EVENT_METADATA`` with ``EVENT_STREAMS`` (ManageIQ's
``event_streams``: one row per stored provider event, ``type`` "EmsEvent") and
``EVENT_CURSORS`` (``miqspec_event_cursors``: per provider, where its stream was read up to,
and the stream's last failure and success), ``EVENT_COLUMNS`` (the columns an event row may
set, in table order). Raises nothing; no I/O.
"""

from __future__ import annotations

import sqlalchemy as sa

EVENT_METADATA = sa.MetaData()


def _id() -> sa.Column[int]:
    return sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True)


EVENT_STREAMS = sa.Table(
    "event_streams",
    EVENT_METADATA,
    _id(),
    sa.Column("type", sa.String(255)),
    sa.Column("event_type", sa.String(255)),
    sa.Column("source", sa.String(255)),
    sa.Column("timestamp", sa.DateTime()),
    sa.Column("message", sa.Text()),
    sa.Column("full_data", sa.Text()),
    sa.Column("ems_ref", sa.String(255)),
    sa.Column("chain_id", sa.BigInteger()),
    sa.Column("is_task", sa.Boolean()),
    sa.Column("username", sa.String(255)),
    sa.Column("ems_id", sa.BigInteger()),
    sa.Column("vm_or_template_id", sa.BigInteger()),
    sa.Column("vm_name", sa.String(255)),
    sa.Column("vm_location", sa.String(255)),
    sa.Column("vm_ems_ref", sa.String(255)),
    sa.Column("host_id", sa.BigInteger()),
    sa.Column("host_name", sa.String(255)),
    sa.Column("host_ems_ref", sa.String(255)),
    sa.Column("availability_zone_id", sa.BigInteger()),
    sa.Column("target_type", sa.String(255)),
    sa.Column("target_id", sa.BigInteger()),
    sa.Column("generating_ems_id", sa.BigInteger()),
    sa.Column("created_on", sa.DateTime()),
    sa.Index("ix_event_streams_ems_id_timestamp", "ems_id", "timestamp"),
    sa.Index("ix_event_streams_vm_or_template_id", "vm_or_template_id"),
)

EVENT_CURSORS = sa.Table(
    "miqspec_event_cursors",
    EVENT_METADATA,
    _id(),
    sa.Column("ems_id", sa.BigInteger(), nullable=False, unique=True),
    sa.Column("cursor", sa.Text()),
    sa.Column("last_poll_date", sa.DateTime()),
    sa.Column("last_success_date", sa.DateTime()),
    sa.Column("last_event_error", sa.Text()),
    sa.Column("last_event_error_date", sa.DateTime()),
    sa.Column("events_stored", sa.BigInteger()),
)

EVENT_COLUMNS = tuple(c.name for c in EVENT_STREAMS.columns if c.name != "id")
