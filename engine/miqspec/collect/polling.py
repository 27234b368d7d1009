"""Polling: send a request again until an expression holds on its answer (asynchronous jobs).

Takes: a ``Poll`` (``until``, ``interval``, ``backoff``, ``max_interval``, ``deadline``), a
function sending the request once and giving (answer, decoded body), a test of the body, a
sleep function and whether traffic is replayed. Gives: ``poll_until`` -> the first answer
whose body passes (with the number of requests sent). When replaying recorded traffic nothing
sleeps: the waits are only counted, so the deadline holds against the waits a live run would
have made and a replay is as fast as the recording holds answers.
Raises: ``ApiError`` when the deadline passes first (naming the polls and the seconds); what
``send`` and ``done`` raise. No I/O of its own (``send`` does it).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

from miqspec.errors import ApiError
from miqspec.spec import Poll

T = TypeVar("T")


def poll_until(
    poll: Poll,
    send: Callable[[], tuple[T, Any]],
    done: Callable[[Any], bool],
    *,
    sleep: Callable[[float], None] = time.sleep,
    replaying: bool = False,
    clock: Callable[[], float] = time.monotonic,
) -> tuple[T, Any, int]:
    """``send()`` until ``done(body)``; gives (answer, body, requests sent)."""
    started = clock()
    waited = 0.0
    interval = poll.interval
    sent = 0
    while True:
        answer, body = send()
        sent += 1
        if done(body):
            return answer, body, sent
        wait = min(interval, poll.max_interval)
        elapsed = waited if replaying else max(waited, clock() - started)
        if elapsed + wait > poll.deadline:
            raise ApiError(
                f"poll.until {poll.until.text!r} did not hold within {poll.deadline:g} s "
                f"({sent} request(s))"
            )
        if not replaying and wait > 0:
            sleep(wait)
        waited += wait
        interval = interval * poll.backoff
