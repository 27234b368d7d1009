"""The stages wired together: verify, collect, parse, persist, refresh status.

Takes: a database engine, provider names or a spec plus an argument hash, and options (an
HTTP adapter for recorded traffic among them).
Gives: ``verify`` (class level) and ``verify_provider`` (instance level) -> ``VerifyResult``;
``refresh_provider`` -> ``RefreshResult`` (counts per collection, time per phase, calls);
``replay_adapter``/``recording_adapter``/``provider_adapter`` (requests served from or recorded
to a cassette), ``make_session`` and ``owners_for`` (which manager row owns each collection).
Raises: ``MiqspecError`` subclasses; a failed refresh has rolled back every inventory write and
recorded ``last_refresh_error``/``last_refresh_date`` on the provider row (an interrupted one
too, before ``KeyboardInterrupt`` goes on). A refresh holds the provider's ``RefreshLock``.
Does network and database I/O through the stage packages; the database only through ``store``.
``capture_metrics`` (one metrics capture) and ``metrics_owner``.
Targeted refresh: ``refresh_targets`` -> ``TargetedResult`` (only the targets and what hangs
on them, ManageIQ's targeted semantics). Events: ``EventCatcher`` and ``poll_events`` ->
``PollResult`` (a poll of the event stream stored with its cursor, and the targets it names).
Operations and provisioning: ``run_operation`` -> ``OperationResult``, ``provision``,
``object_rows``, ``find_object``, ``provisioning_rows``, ``requests_of``, ``tasks_of``;
``follow_requests`` -> ``FollowResult`` (the open provisioning and operation tasks checked
once, the ready ones finished).
One module per job: ``session``, ``verify``, ``adapters``, ``refresh``, ``metrics``,
``targeted``, ``events``, ``operations``, ``follow``.
"""

from miqspec.pipeline.adapters import (
    provider_adapter,
    recording_adapter,
    replay_adapter,
    secret_placeholders,
)
from miqspec.pipeline.events import EventCatcher, PollResult, poll_events
from miqspec.pipeline.follow import FollowedTask, FollowResult, follow_requests
from miqspec.pipeline.metrics import capture_metrics, metrics_owner
from miqspec.pipeline.operations import (
    OperationResult,
    find_object,
    object_rows,
    provision,
    provisioning_rows,
    requests_of,
    run_operation,
    tasks_of,
)
from miqspec.pipeline.refresh import RefreshResult, owners_for, refresh_provider
from miqspec.pipeline.session import make_session
from miqspec.pipeline.targeted import TargetedResult, refresh_targets
from miqspec.pipeline.verify import VerifyResult, verify, verify_provider

__all__ = [
    "EventCatcher",
    "FollowResult",
    "FollowedTask",
    "OperationResult",
    "PollResult",
    "RefreshResult",
    "TargetedResult",
    "VerifyResult",
    "capture_metrics",
    "find_object",
    "follow_requests",
    "make_session",
    "metrics_owner",
    "object_rows",
    "owners_for",
    "poll_events",
    "provider_adapter",
    "provision",
    "provisioning_rows",
    "recording_adapter",
    "refresh_provider",
    "refresh_targets",
    "replay_adapter",
    "requests_of",
    "run_operation",
    "secret_placeholders",
    "tasks_of",
    "verify",
    "verify_provider",
]
