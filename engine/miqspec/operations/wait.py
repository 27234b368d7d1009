"""Waiting for an operation (or a provisioning task) to end: poll until an expression holds.

Takes: the provider's ``ProviderSession``, a ``Wait`` (its request, ``until``, ``failed_when``,
``done_on`` and the ``Poll`` timing: interval, backoff, max_interval, deadline), the template
variables of its request (``target``, ...), the expression scope and a label for messages.
Gives: ``wait_for`` -> ``Waited`` (the last body, or None when a ``done_on`` status ended it;
the status; the polls sent; the seconds waited). Polling is ``collect.poll_until`` (the
engine's one polling loop: waits grow by ``backoff`` up to ``max_interval``; when replaying
recorded traffic nothing sleeps).
Raises: ``ApiError`` when the deadline passes first ("timed out") or ``failed_when`` holds
(its value is the message), and what ``send`` raises. Does network I/O through the session.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from miqspec.collect import poll_until
from miqspec.connect import ProviderSession
from miqspec.errors import ApiError, MappingError
from miqspec.operations.send import Answer, send
from miqspec.operations.supports import truthy
from miqspec.spec import Expression, Wait

DONE = object()  # the body a done_on status stands for


@dataclass(frozen=True)
class Waited:
    body: Any
    status: int
    polls: int
    seconds: float


def _search(expr: Expression, body: Any, scope: Mapping[str, Any], label: str) -> Any:
    try:
        return expr.search(body, scope) if expr.roots else expr.search(body)
    except MappingError as exc:
        raise MappingError(f"{label}: {exc}") from None


def wait_for(
    session: ProviderSession,
    wait: Wait,
    extra: Mapping[str, Any],
    scope: Mapping[str, Any],
    label: str,
) -> Waited:
    """Poll ``wait.request`` until ``wait.poll.until`` holds (module doc)."""
    started = time.monotonic()
    full_scope = {**scope, **extra}

    def once() -> tuple[Answer, Any]:
        answer = send(session, wait.request, extra, f"{label}.wait", wait.done_on)
        if answer.status in wait.done_on:
            return answer, DONE
        if wait.failed_when is not None:
            failed = _search(wait.failed_when, answer.body, full_scope, f"{label}.wait.failed_when")
            if truthy(failed):
                text = failed if isinstance(failed, str) else "failed_when holds"
                raise ApiError(f"{label}: the provider reports a failure: {text}")
        return answer, answer.body

    def done(body: Any) -> bool:
        if body is DONE:
            return True
        return truthy(_search(wait.poll.until, body, full_scope, f"{label}.wait.until"))

    try:
        answer, body, polls = poll_until(
            wait.poll,
            once,
            done,
            sleep=session.client.sleep,
            replaying=session.replaying,
        )
    except ApiError as exc:
        if "did not hold within" in str(exc):
            raise ApiError(
                f"{label}: timed out after {wait.poll.deadline:g} s waiting for "
                f"{wait.poll.until.text!r}"
            ) from None
        raise
    return Waited(None if body is DONE else body, answer.status, polls, time.monotonic() - started)
