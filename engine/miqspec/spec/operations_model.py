"""The typed ``operations`` and ``provisioning`` sections of a spec.

Takes: nothing at import; values are built by ``build_operations``.
Gives: ``Operation`` (one named operation of a collection: its ``OpRequest``, the
``UnsupportedRule``\\ s, the transitional ``raw_power_state``, ``removes`` and the ``Wait``),
``Provisioning`` (the dialog, the create request, ``new_ref``, the wait) and the defaults
(``DEFAULT_WAIT_DEADLINE``, ``DEFAULT_MAX_COUNT``, ``COUNT_FIELD``, ``NAME_FIELD``).
Raises nothing; no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from miqspec.errors import Location
from miqspec.spec.expressions import Expression
from miqspec.spec.model_calls import Body, Poll, Retry
from miqspec.spec.templating import Template

DEFAULT_WAIT_INTERVAL = 2.0
DEFAULT_WAIT_BACKOFF = 1.5
DEFAULT_WAIT_MAX_INTERVAL = 30.0
DEFAULT_WAIT_DEADLINE = 600.0
DEFAULT_MAX_COUNT = 100
NAME_FIELD = "vm_name"  # ManageIQ's provisioning option names
COUNT_FIELD = "number_of_vms"
NO_RETRY = Retry(attempts=1)


@dataclass(frozen=True)
class OpRequest:
    """One request of an operation or of provisioning: like a call without pagination,
    records or fan-out. ``query`` values are templates (rendered with ``render_value``)."""

    service: str
    method: str
    path: Template
    url_join: bool
    query: Mapping[str, Any]
    headers: Mapping[str, Template]
    body: Body | None
    timeout: float | None
    retry: Retry
    location: Location


@dataclass(frozen=True)
class Wait:
    """Poll ``request`` until ``poll.until`` holds on its body (or it answers a ``done_on``
    status); ``failed_when`` truthy on a body ends the wait as a failure."""

    request: OpRequest
    poll: Poll
    done_on: tuple[int, ...]
    failed_when: Expression | None
    location: Location


@dataclass(frozen=True)
class UnsupportedRule:
    """ManageIQ's ``supports`` block as data: where ``when`` holds on the row, ``reason``."""

    when: Expression
    reason: str
    location: Location


@dataclass(frozen=True)
class Operation:
    collection: str
    name: str
    title: str
    request: OpRequest
    unsupported: tuple[UnsupportedRule, ...]
    raw_power_state: str | None
    removes: bool
    wait: Wait | None
    location: Location


@dataclass(frozen=True)
class Provisioning:
    """``provisioning``: ``fields`` are the dialog's data-driven-forms fields as written
    (``options_from`` filled from the inventory when the dialog is given out)."""

    collection: str
    fields: tuple[Mapping[str, Any], ...]
    request: OpRequest
    new_ref: Expression
    raw_power_state: str | None
    wait: Wait | None
    max_count: int
    location: Location
