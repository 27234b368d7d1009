"""The typed ``events`` section of a spec and each collection's ``target`` rule.

Takes: nothing at import; values are built by ``build_events``.
Gives: ``EventsSpec`` (the poll call, its ``EventCursor``, the field expressions mapping a raw
event onto ManageIQ's ``event_streams`` columns, ignore rules, ``EventTargetRule``\\ s),
``CollectionTarget`` (how one object of a collection is collected in a targeted refresh) and
the vocabulary shared by checks, the builder and the events stage: ``EVENT_FIELDS`` (the
columns a spec may map), ``DEFAULT_POLL``, ``DEFAULT_OVERLAP``, ``DEFAULT_START``,
``DEFAULT_FULL_REFRESH_THRESHOLD``, ``DEFAULT_GONE_ON``. Raises nothing; no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from miqspec.errors import Location
from miqspec.spec.expressions import Expression

#: event_streams columns a spec maps from a raw event (ManageIQ's EmsEvent fields).
EVENT_FIELDS = (
    "event_type",
    "timestamp",
    "source",
    "message",
    "ems_ref",
    "vm_ems_ref",
    "host_ems_ref",
    "chain_id",
    "is_task",
    "username",
    "full_data",
)
DEFAULT_POLL = 15  # seconds between polls (Azure's event catcher)
DEFAULT_OVERLAP = 120  # timestamp cursors read this far back again (Azure: 2 minutes)
DEFAULT_START = 120  # the first poll of a timestamp cursor reads this far back
DEFAULT_FULL_REFRESH_THRESHOLD = 100  # ManageIQ's ems_refresh.full_refresh_threshold
DEFAULT_GONE_ON = (404,)


@dataclass(frozen=True)
class CollectionTarget:
    """``collections.<name>.target``: ``call`` fetches one object (templates read
    ``target.ems_ref`` and ``target.<manager_ref attribute>``); its records stand for those of
    ``replaces`` (every collection reading that call, and fan-outs below it, are refreshed for
    the target); an answer in ``gone_on`` (or no record) means the object is gone. ``with_calls``
    (``with:``): listing call -> the call standing for it in a targeted refresh, usually a
    fan-out below the target call fetching the objects the target's record names (its NICs,
    disks...), so those collections are refreshed with it."""

    collection: str
    call: str
    replaces: str
    gone_on: tuple[int, ...]
    location: Location
    with_calls: Mapping[str, str] = field(default_factory=dict)
    fan_outs: bool = True  # false: the fan-outs below ``replaces`` are not run for it


@dataclass(frozen=True)
class EventCursor:
    """``sequence``: ``value`` is each event's increasing id; ``timestamp``: its time, the
    next poll reading from the newest seen less ``overlap`` seconds (the first: ``start``
    seconds back)."""

    type: str
    value: Expression
    overlap: int = DEFAULT_OVERLAP
    start: int = DEFAULT_START


@dataclass(frozen=True)
class EventTargetRule:
    """``events.targets[i]``: where ``where`` holds, ``ref`` gives the manager_ref(s) of
    ``collection`` objects the event is about."""

    collection: str
    ref: Expression
    where: Expression | None
    location: Location


@dataclass(frozen=True)
class EventsSpec:
    """A spec's ``events`` section, its expressions compiled; ``interval`` in seconds."""

    call: str
    interval: int
    cursor: EventCursor
    fields: Mapping[str, Expression]
    ignore_types: frozenset[str]
    ignore_where: Expression | None
    targets: tuple[EventTargetRule, ...]
    full_refresh_threshold: int
    location: Location
