"""Collect: run a spec's calls in dependency order, page by page, fanning out per record.

Takes: a ``ProviderSession`` and the names of the calls the mappings (or verify) need.
Gives: ``CollectResult``: per call its records (and, for fan-out calls, each record's parent),
whether it completed, pages, requests and time. Skipped calls (``skip_on`` statuses, ``when``
false) are marked incomplete; failures use the call's ``fallback`` or raise.
Raises: ``CredentialsError`` on 401/403, ``ApiError`` on other failures, ``PaginationError``
on endless page loops, ``UnreachableError``. Does network I/O through the session.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from .connect import ProviderSession
from .errors import ApiError, CredentialsError
from .http import HttpResponse
from .model import Call, Spec
from .pagination import PageRequest, PageResponse, PageState, first_request, next_request
from .templating import render_value

Progress = Callable[[str, int, int], None]


@dataclass
class CallResult:
    name: str
    records: list[Any] = field(default_factory=list)
    parents: list[Any] | None = None
    complete: bool = True
    status: str = "ok"
    pages: int = 0
    requests: int = 0
    seconds: float = 0.0


@dataclass
class CollectResult:
    calls: dict[str, CallResult] = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        return sum(c.seconds for c in self.calls.values())


class _Skipped(Exception):
    def __init__(self, status: int) -> None:
        self.status = status


def needed_calls(spec: Spec, roots: Iterable[str]) -> list[str]:
    """``roots`` and every call they depend on (for_each parents), parents first."""
    order: list[str] = []

    def visit(name: str) -> None:
        if name in order:
            return
        call = spec.calls[name]
        if call.for_each:
            visit(call.for_each.call)
        order.append(name)

    for name in roots:
        visit(name)
    return order


def records_of(call: Call, body: Any) -> list[Any]:
    """The record list of one page body."""
    if call.records is not None:
        found = call.records.search(body)
    else:
        found = body
    if found is None:
        return []
    return found if isinstance(found, list) else [found]


class Collector:
    def __init__(self, session: ProviderSession, progress: Progress | None = None) -> None:
        self.session = session
        self.spec = session.spec
        self.progress = progress or (lambda name, pages, records: None)
        self.result = CollectResult()

    def run(self, roots: Iterable[str]) -> CollectResult:
        for name in needed_calls(self.spec, roots):
            self.run_call(name)
        return self.result

    def run_call(self, name: str) -> CallResult:
        if name in self.result.calls:
            return self.result.calls[name]
        call = self.spec.calls[name]
        res = CallResult(name)
        started = time.perf_counter()
        if call.when is not None and not _truthy(call.when.render(self.session.ctx)):
            res.complete, res.status = False, "disabled (when)"
        elif call.for_each:
            self._fan_out(call, res)
        else:
            try:
                self._fetch_all(call, res, {})
            except _Skipped as skip:
                res.complete, res.status = False, f"skipped ({skip.status})"
            except (ApiError, CredentialsError) as exc:
                self._fallback(call, res, exc)
        res.seconds = time.perf_counter() - started
        self.result.calls[name] = res
        return res

    def _fallback(self, call: Call, res: CallResult, exc: Exception) -> None:
        status = getattr(exc, "status", None)
        fb = call.fallback
        if fb is None or isinstance(exc, CredentialsError) or (fb.on and status not in fb.on):
            raise exc
        other = self.run_call(fb.call)
        res.records, res.parents = list(other.records), other.parents
        res.complete, res.status = other.complete, f"fallback to {fb.call}"

    def _fan_out(self, call: Call, res: CallResult) -> None:
        assert call.for_each is not None
        parent_res = self.run_call(call.for_each.call)
        parents = [p for p in parent_res.records
                   if call.for_each.where is None or _truthy(call.for_each.where.search(p))]
        workers = call.for_each.concurrency or self.spec.connection.concurrency
        res.parents = []
        if not parent_res.complete:
            res.complete = False

        def one(parent: Any) -> tuple[list[Any], int, int, int | None]:
            sub = CallResult(call.name)
            try:
                self._fetch_all(call, sub, {"parent": parent})
            except _Skipped as skip:
                return [], sub.pages, sub.requests, skip.status
            return sub.records, sub.pages, sub.requests, None

        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            for parent, (records, pages, reqs, skipped) in zip(
                parents, pool.map(one, parents), strict=True
            ):
                res.records.extend(records)
                res.parents.extend([parent] * len(records))
                res.pages += pages
                res.requests += reqs
                if skipped is not None:
                    res.complete = False
                    res.status = f"partly skipped ({skipped})"
                self.progress(call.name, res.pages, len(res.records))

    def _fetch_all(self, call: Call, res: CallResult, extra: dict[str, Any]) -> None:
        ctx = {**self.session.ctx, **extra} if extra else self.session.ctx
        url = self.session.url(call.service, call.path.render(ctx))
        params = {k: v for k, v in render_value(dict(call.query), ctx).items() if v is not None}
        headers = {k: t.render(ctx) for k, t in call.headers.items()}
        page: PageRequest | None = first_request(call.paginate, url, params)
        state = PageState()
        while page is not None:
            resp = self.session.request(
                call.method, page.url, params=page.params, headers=headers, body=call.body,
                extra_ctx=extra or None, retry=call.retry, timeout=call.timeout,
                expect_json=call.format == "json")
            res.requests += 1
            body = self._check(call, resp)
            records = records_of(call, body)
            res.records.extend(records)
            res.pages += 1
            if not extra:
                self.progress(call.name, res.pages, len(res.records))
            page = next_request(call.paginate, page,
                                PageResponse(resp.headers, body, len(records)), state)

    def _check(self, call: Call, resp: HttpResponse) -> Any:
        where = f"{call.name}: {call.method} {self.session.client.where(resp.url)}"
        if resp.status in call.skip_on:
            raise _Skipped(resp.status)
        if resp.status in self.spec.invalid_statuses:
            raise CredentialsError(f"invalid credentials: {where} answered {resp.status}",
                                   secrets=self.session.secrets())
        if not 200 <= resp.status < 300:
            err = ApiError(f"{where} answered {resp.status}", secrets=self.session.secrets())
            err.status = resp.status  # type: ignore[attr-defined]
            raise err
        return resp.json() if call.format == "json" else resp.text


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() not in ("", "false", "0", "no", "none", "off")
    return bool(value)


def collect(session: ProviderSession, roots: Iterable[str],
            progress: Progress | None = None) -> CollectResult:
    return Collector(session, progress).run(roots)
