"""The worker's follow-up of the tasks nobody waits for, one check per task per tick.

Takes: a database engine, the key ring, a provider name and the worker's log function.
Gives: ``follow_due``: the provider's open provisioning and operation tasks checked once each
(``pipeline.follow_requests``: the spec's wait rule polled once, a task past its deadline
ended with Error, the ready ones refreshed in, linked and finished, their requests finished
when all their tasks are; an operation's row refreshed or removed); logs one line per task
that ended and per request that finished (``event`` task_finished, task_failed,
request_finished; WARNING for a failure). Returns how many tasks are still open.
Raises nothing for a failing provider (it is logged, WARNING ``follow_failed``, and tried
again at the next tick). Does network and database I/O through ``pipeline``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from miqspec.errors import MiqspecError
from miqspec.pipeline import follow_requests
from miqspec.store import Engine, KeyRing

Tell = Callable[..., None]


def follow_due(engine: Engine, keyring: KeyRing, name: str, tell: Tell) -> int:
    """Check ``name``'s open provisioning tasks once (module doc); how many stay open."""
    try:
        result = follow_requests(engine, keyring, name)
    except MiqspecError as exc:
        tell(f"{name}: following provisioning tasks failed: {exc}", logging.WARNING,
             provider=name, event="follow_failed")  # fmt: skip
        return 0
    for task in result.finished:
        failed = task.status != "Ok"
        tell(
            f"{name}: {task.kind} task {task.task_id} ({task.name}) {task.status}: {task.message}",
            logging.WARNING if failed else logging.INFO,
            provider=name,
            event="task_failed" if failed else "task_finished",
        )
    for request_id, request in result.requests.items():
        tell(
            f"{name}: request {request_id} finished {request.get('status')}: "
            f"{request.get('message')}",
            provider=name,
            event="request_finished",
        )
    for warning in result.warnings:
        tell(warning, logging.WARNING, provider=name, event="follow_failed")
    return result.waiting
