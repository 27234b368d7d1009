"""Collect: run a spec's calls in dependency order, page by page, fanning out per record.

Takes: a ``ProviderSession`` and the names of the calls the mappings (or verify) need.
Gives: ``CollectResult``: per call its records (for fan-out calls also each record's parent and
its ancestor chain), whether it completed, pages, requests, time and, where the records are
what the page bodies alone give, a digest per page (``CallResult``). A call's ``where`` drops
records for every reader; ``embed`` calls run right after their parent call, before anything
else reads it, and set their records as a field of each parent record (in place). Skipped
calls (``skip_on`` statuses, ``when`` false) are marked incomplete; failures use the call's
``fallback`` or raise, naming the call. A page is read by the call's ``format`` (JSON, text,
XML as data, or the header map as the one record; ``records``). Calls log in before rendering
their URL (base URLs and paths may read login results); calls read as ``$calls.<name>`` by a
call's expressions run first; fan-out (``for_each``, its ``each`` levels, ``item_fallback``)
is ``fanout``; ``poll`` repeats a call's first request until its ``until`` holds
(``polling``).
Raises: ``CredentialsError`` on 401/403, ``ApiError`` on other failures, ``PaginationError``
on endless page loops, ``UnreachableError``. Does network I/O through the session.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any

from miqspec.collect.fanout import fan_out_items, run_per_item
from miqspec.collect.polling import poll_until
from miqspec.collect.records import (
    body_digest,
    checked_records,
    decode_body,
    object_calls,
    records_of,
)
from miqspec.collect.results import CallResult, CollectResult, Skipped, truthy
from miqspec.connect import (
    BadBody,
    HttpResponse,
    PageRequest,
    PageResponse,
    PageState,
    ProviderSession,
    first_request,
    next_request,
)
from miqspec.errors import (
    ApiError,
    CredentialsError,
    MappingError,
    MiqspecError,
    UnreachableError,
    mask_secrets,
)
from miqspec.spec import Call, Expression, Retry, Spec, render_value

__all__ = ["CallResult", "CollectResult", "Progress", "collect", "needed_calls"]

Progress = Callable[[str, int, int], None]


def call_reads(call: Call) -> set[str]:
    """The calls ``call``'s own expressions read as ``$calls.<name>`` (where, for_each)."""
    exprs = [call.where, call.records, call.poll.until if call.poll else None]
    if call.for_each is not None:
        exprs.extend([call.for_each.where, *call.for_each.each])
    return {n for e in exprs if e is not None for n in e.calls if n != "*"}


def needed_calls(spec: Spec, roots: Iterable[str]) -> list[str]:
    """``roots`` and every call they depend on (for_each parents, calls their expressions read
    as ``$calls.<name>``), those first."""
    order: list[str] = []

    def visit(name: str) -> None:
        if name in order:
            return
        call = spec.calls[name]
        if call.for_each:
            visit(call.for_each.call)
        for other in sorted(call_reads(call)):
            if other in spec.calls and other != name:
                visit(other)
        if name not in order:
            order.append(name)

    for name in roots:
        visit(name)
    return order


class Collector:
    """Runs calls for one session; ``result`` holds what each gave."""

    def __init__(
        self, session: ProviderSession, progress: Progress | None = None, *, embed: bool = True
    ) -> None:
        self.session = session
        self.spec = session.spec
        self.progress = progress or (lambda name, pages, records: None)
        self.result = CollectResult()
        ctx = session.ctx
        self.scope = {
            "region": ctx.get("region"),
            "provider": ctx.get("provider"),
            "settings": ctx.get("settings"),
        }
        self.calls: dict[str, list[Any]] = {}  # $calls: the records of the calls run so far
        self.embedders = embedders_of(self.spec) if embed else {}
        self.objects = object_calls(self.spec)

    def run(self, roots: Iterable[str]) -> CollectResult:
        for name in needed_calls(self.spec, roots):
            self.run_call(name)
        return self.result

    def run_call(self, name: str) -> CallResult:
        if name in self.result.calls:
            return self.result.calls[name]
        call = self.spec.calls[name]
        for other in sorted(call_reads(call)):  # $calls.<other> in its expressions
            if other in self.spec.calls and other != name:
                self.run_call(other)
        res = CallResult(name)
        started = time.perf_counter()
        if call.when is not None:
            self.session.ensure_login()  # `when` may read login results
        if call.when is not None and not truthy(call.when.render(self.session.ctx)):
            res.complete, res.status = False, "disabled (when)"
        else:
            try:
                if call.for_each:
                    self._fan_out(call, res)
                else:
                    self._fetch_all(call, res, {})
            except Skipped as skip:
                res.complete, res.status = False, f"skipped ({skip.status})"
            except (ApiError, CredentialsError) as exc:
                self._fallback(call, res, exc)
        res.seconds = time.perf_counter() - started
        self.result.calls[name] = res
        self.calls[name] = res.records
        if (
            self.embedders.get(name)
            or (call.where is not None and call.where.roots)
            or (call.records is not None and call.records.roots)
            or call.poll is not None
            or call.format == "headers"  # the record is not the body
        ):
            res.page_digests = None
        for child in self.embedders.get(name, ()):
            self._embed(self.spec.calls[child], self.run_call(child), res)
        return res

    def _embed(self, call: Call, res: CallResult, parent_res: CallResult) -> None:
        """Set ``call``'s records on each parent record: the list, or the first (or null)."""
        assert call.embed is not None
        field_name, first = call.embed.field, call.embed.first
        groups: dict[int, list[Any]] = {}
        for record, parent in zip(res.records, res.parents or (), strict=False):
            groups.setdefault(id(parent), []).append(record)
        for parent in parent_res.records:
            if not isinstance(parent, dict):
                raise MappingError(
                    f"{call.location}: calls.{call.name}.embed: the records of "
                    f"'{parent_res.name}' are not objects (got {type(parent).__name__})"
                )
            got = groups.get(id(parent), [])
            parent[field_name] = (got[0] if got else None) if first else got

    def _fallback(self, call: Call, res: CallResult, exc: Exception) -> None:
        status = getattr(exc, "status", None)
        fb = call.fallback
        if fb is None or isinstance(exc, CredentialsError) or (fb.on and status not in fb.on):
            raise exc
        other = self.run_call(fb.call)
        res.records, res.parents = list(other.records), other.parents
        res.page_digests = None
        res.ancestors = other.ancestors
        res.complete, res.status = other.complete, f"fallback to {fb.call}"

    def _fan_out(self, call: Call, res: CallResult) -> None:
        assert call.for_each is not None
        parent_res = self.run_call(call.for_each.call)

        def search(expr: Expression, subject: Any, above: list[Any], key: str) -> Any:
            return self._search(expr, subject, above, call, key)

        items = fan_out_items(call, parent_res.records, parent_res.ancestors, search)
        if not parent_res.complete:
            res.complete = False
        workers = call.for_each.concurrency or self.spec.connection.concurrency
        run_per_item(call, items, self._fetch_all, res, workers, self.progress)

    def _fetch_all(self, call: Call, res: CallResult, extra: dict[str, Any]) -> None:
        # log in first: base URLs, paths and queries may read login results
        self.session.ensure_login()
        ctx = {**self.session.ctx, **extra} if extra else self.session.ctx
        target = call.path.render(ctx)
        url = (
            self.session.join(call.service, target, ctx)
            if call.url_join
            else self.session.url(call.service, target, ctx)
        )
        params = {k: v for k, v in render_value(dict(call.query), ctx).items() if v is not None}
        headers = {k: t.render(ctx) for k, t in call.headers.items()}
        page: PageRequest | None = first_request(call.paginate, url, params)
        state = PageState()
        # statuses the call skips on or falls back on are answers, not transient failures
        answers = (*call.skip_on, *(call.item_fallback.on if call.item_fallback else ()))
        retry = replace(call.retry, on=tuple(s for s in call.retry.on if s not in answers))
        try:
            while page is not None:
                page = self._fetch_page(call, res, page, state, headers, extra, retry)
        except (ApiError, UnreachableError) as exc:
            raise _named(exc, call.name, self.session.secrets()) from None

    def _send(
        self,
        call: Call,
        page: PageRequest,
        headers: dict[str, str],
        extra: dict[str, Any],
        retry: Retry,
    ) -> HttpResponse:
        return self.session.request(
            call.method,
            page.url,
            params=page.params,
            headers=headers,
            body=call.body,
            extra_ctx=extra or None,
            retry=retry,
            timeout=call.timeout,
            expect_json=call.format == "json",
            expect_xml=call.xml_force_list if call.format == "xml" else None,
            auth=call.auth,
        )

    def _fetch_page(
        self,
        call: Call,
        res: CallResult,
        page: PageRequest,
        state: PageState,
        headers: dict[str, str],
        extra: dict[str, Any],
        retry: Retry,
    ) -> PageRequest | None:
        """Fetch one page into ``res``; the next page's request or None."""
        up = extra.get("ancestors") or []

        def send() -> tuple[HttpResponse, Any]:
            resp = self._send(call, page, headers, extra, retry)
            res.requests += 1
            return resp, self._check(call, resp)

        if call.poll is not None and res.pages == 0:  # the first page is the job's state
            until = call.poll.until
            resp, body, _ = poll_until(
                call.poll,
                send,
                lambda body: truthy(self._search(until, body, up, call, "poll.until")),
                sleep=self._sleep,
                replaying=self.session.replaying,
            )
        else:
            resp, body = send()
        scope = self._scope(up) if call.records is not None and call.records.roots else None
        # XML has no empty list (an empty listing is an absent element): found as is
        if call.format != "json" or resp.status == 204:  # 204: no content
            records = records_of(call, body, scope)
        else:
            try:
                records = checked_records(call, body, call.name in self.objects, scope)
            except ApiError as exc:
                at = f"{call.name}: {call.method} {self.session.client.where(resp.url)}"
                raise ApiError(f"{at}: {exc}", secrets=self.session.secrets()) from None
        where = call.where
        before = len(res.records)
        if where is None:
            res.records.extend(records)
        else:
            res.records.extend(r for r in records if truthy(self._search(where, r, up, call)))
        if res.page_digests is not None and not extra:
            res.page_digests.append((body_digest(resp.body), len(res.records) - before))
        res.pages += 1
        if not extra:
            self.progress(call.name, res.pages, len(res.records))
        return next_request(
            call.paginate, page, PageResponse(resp.headers, body, len(records)), state
        )

    def _sleep(self, seconds: float) -> None:
        """A poll's wait, never past the session's ``refresh_deadline``."""
        if time.monotonic() + seconds >= self.session.refresh_deadline:
            limit = self.spec.connection.refresh_deadline
            raise UnreachableError(f"the requests of this refresh ran past {limit:g} s in all")
        self.session.client.sleep(seconds)

    def _scope(self, ancestors: list[Any]) -> dict[str, Any]:
        """The roots of a call's expressions: $region, $provider, $settings, $calls, $login,
        below a fan-out $parent and $ancestors (``ancestors``: parent first), and in a
        targeted refresh $target."""
        return {
            **self.scope,
            "calls": self.calls,
            "login": self.session.ctx.get("login"),
            "parent": ancestors[0] if ancestors else None,
            "ancestors": ancestors,
            "target": self.session.ctx.get("target"),  # a targeted refresh's object
        }

    def _search(
        self, expr: Expression, record: Any, ancestors: list[Any], call: Call, key: str = "where"
    ) -> Any:
        """``expr`` on ``record`` with the roots of ``_scope``, naming the spec key on failure."""
        try:
            return expr.search(record, self._scope(ancestors) if expr.roots else None)
        except MappingError as exc:
            raise MappingError(f"{call.location}: calls.{call.name}.{key}: {exc}") from None

    def _check(self, call: Call, resp: HttpResponse) -> Any:
        where = f"{call.name}: {call.method} {self.session.client.where(resp.url)}"
        if resp.status in call.skip_on:
            raise Skipped(resp.status)
        fallback = call.item_fallback
        fell = fallback is not None and resp.status in fallback.on  # this item's answer, even 403
        if resp.status in self.spec.invalid_statuses and not fell:
            raise CredentialsError(
                f"invalid credentials: {where} answered {resp.status}",
                secrets=self.session.secrets(),
            )
        if not 200 <= resp.status < 300:
            err = ApiError(f"{where} answered {resp.status}", secrets=self.session.secrets())
            err.status = resp.status  # type: ignore[attr-defined]
            raise err
        try:
            return decode_body(call, resp)
        except BadBody as exc:  # one line, like a body that is not JSON
            raise ApiError(f"{where}: {exc}", secrets=self.session.secrets()) from None


def _named(exc: MiqspecError, call: str, secrets: list[str]) -> MiqspecError:
    """``exc`` (same class and attributes) with the call's name in front of its message."""
    text = str(exc)
    if not text.startswith(f"{call}: "):
        exc.args = (mask_secrets(f"{call}: {text}", secrets),)
    return exc


def embedders_of(spec: Spec) -> dict[str, list[str]]:
    """For each call, the fan-out calls (in spec order) that embed their records into it."""
    out: dict[str, list[str]] = {}
    for name, call in spec.calls.items():
        if call.embed is not None and call.for_each is not None:
            out.setdefault(call.for_each.call, []).append(name)
    return out


def collect(
    session: ProviderSession,
    roots: Iterable[str],
    progress: Progress | None = None,
    *,
    embed: bool = True,
) -> CollectResult:
    """Run ``roots`` and what they need; ``embed=False`` leaves embedding calls out (verify)."""
    return Collector(session, progress, embed=embed).run(roots)
