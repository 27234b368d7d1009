"""A request memo: identical rendered reads sent once while it lives (one targeted refresh).

Takes: a key (method, URL, the call's query and headers, how the body is read) and a function
sending the request. Gives: ``RequestMemo.fetch`` (the first answer for a key, sent once even
when fan-out threads ask for it together; an answer ``keep`` refuses, such as a 401 that makes
the session log in again, is not kept) and ``memo_key``. A targeted refresh of several objects
asks the same things more than once (the region's VM sizes for each VM, a NIC that is a target
and a VM's NIC): one request serves them all, live or replayed. Raises what ``send`` raises
(nothing kept then). No I/O of its own.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import Any

from miqspec.connect.http import HttpResponse


def memo_key(
    method: str,
    url: str,
    params: Mapping[str, Any] | None,
    headers: Mapping[str, str] | None,
    expect_json: bool,
    expect_xml: Iterable[str] | None,
) -> Hashable:
    """What makes two requests of a call the same (the auth decoration is the session's)."""
    return (
        method.upper(),
        url,
        repr(sorted((params or {}).items())),
        repr(sorted((headers or {}).items())),
        expect_json,
        None if expect_xml is None else tuple(expect_xml),
    )


class RequestMemo:
    """Answers by key, each request sent once (module docstring); thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._answers: dict[Hashable, HttpResponse] = {}
        self._pending: dict[Hashable, threading.Lock] = {}
        self.hits = 0

    def fetch(
        self,
        key: Hashable,
        send: Callable[[], HttpResponse],
        keep: Callable[[HttpResponse], bool] = lambda resp: True,
    ) -> HttpResponse:
        with self._lock:
            gate = self._pending.setdefault(key, threading.Lock())
        with gate:  # a second asker waits for the first answer
            with self._lock:
                known = self._answers.get(key)
                if known is not None:
                    self.hits += 1  # its own copy: records parsed from it may be changed
                    return dataclasses.replace(known, _json=None, _decoded=False, _xml=None)
            resp = send()
            if keep(resp):
                with self._lock:
                    self._answers[key] = resp
            return resp
