"""Running a spec's metrics call: once per target (bounded concurrency) or once in bulk.

Takes: the provider's ``ProviderSession``, the name of the metrics call, and for each run the
template variables it adds (``target`` and ``metrics``; in bulk ``targets`` and ``metrics``).
Gives: ``run_each`` (yields (index, ``CallOutcome``) as runs finish, at most ``concurrency``
running and twice that many finished and not yet taken, so memory stays bounded however many
targets there are) and ``run_once``. Each run goes through ``collect`` like any call:
pagination, retries, ``skip_on`` (the target is then skipped), ``when``, ``where`` and
``fallback`` behave as in a refresh.
Raises: ``CredentialsError`` (401/403: no other target would do better); other failures of one
run are in its outcome. Does network I/O through the session.
"""

from __future__ import annotations

from collections import ChainMap
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, cast

from miqspec.collect import collect
from miqspec.connect import ProviderSession
from miqspec.errors import CredentialsError, MiqspecError


@dataclass
class CallOutcome:
    """What one run of the metrics call gave: its records, or why it gave none."""

    records: list[Any] = field(default_factory=list)
    skipped: str | None = None  # e.g. "skipped (404)"
    error: str | None = None  # one line, secrets masked


class _ScopedSession:
    """The provider's session, its template context extended by ``extra`` for one run (read
    through to the session's own context, so a later login is seen)."""

    def __init__(self, base: ProviderSession, extra: Mapping[str, Any]) -> None:
        self._base = base
        self.ctx = ChainMap(dict(extra), base.ctx)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._base, name)


def run_once(session: ProviderSession, call: str, extra: Mapping[str, Any]) -> CallOutcome:
    """Run ``call`` once with the template variables ``extra``."""
    scoped = cast(ProviderSession, _ScopedSession(session, extra))
    try:
        result = collect(scoped, [call]).calls[call]
    except CredentialsError:
        raise
    except MiqspecError as exc:
        return CallOutcome(error=str(exc))
    if not result.complete:
        return CallOutcome(result.records, skipped=result.status)
    return CallOutcome(result.records)


def run_each(
    session: ProviderSession,
    call: str,
    extras: Sequence[Mapping[str, Any]],
    concurrency: int,
) -> Iterator[tuple[int, CallOutcome]]:
    """Run ``call`` once per item of ``extras``; (index, outcome) as each finishes."""
    workers = max(1, concurrency)
    pool = ThreadPoolExecutor(max_workers=workers)
    running: dict[Future[CallOutcome], int] = {}
    following = iter(range(len(extras)))
    try:
        while True:
            while len(running) < workers * 2:
                index = next(following, None)
                if index is None:
                    break
                running[pool.submit(run_once, session, call, extras[index])] = index
            if not running:
                return
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                yield running.pop(future), future.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
