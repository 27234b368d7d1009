"""Collect: run a spec's calls in dependency order, page by page, fanning out per record.

Takes: a ``ProviderSession`` and the names of the calls the mappings (or verify) need.
Gives: ``CollectResult``: per call its records (for fan-out calls also each record's parent and
its ancestor chain), whether it completed, pages, requests, time and, where the records are
what the page bodies alone give, a digest per page (``CallResult``). A call's ``where`` drops
records for every reader; ``embed`` calls run right after their parent call, before anything
else reads it, and set their records as a field of each parent record (in place). Skipped
calls (``skip_on`` statuses, ``when`` false) are marked incomplete; failures use the call's
``fallback`` or raise, naming the call. A page is read by the call's ``format`` (JSON, text,
XML as data, or the header map as the one record).
Raises: ``CredentialsError`` on 401/403, ``ApiError`` on other failures, ``PaginationError``
on endless page loops, ``UnreachableError``. Does network I/O through the session.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

from xxhash import xxh3_64_intdigest

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
from miqspec.spec import Attribute, Call, Expression, Retry, Spec, render_value

Progress = Callable[[str, int, int], None]


def body_digest(body: bytes) -> int:
    """A page body's digest (unsigned 64-bit XXH3)."""
    return xxh3_64_intdigest(body)


@dataclass
class CallResult:
    """One call's records. For fan-out calls ``parents[i]`` is the parent record of
    ``records[i]`` and ``ancestors[i]`` its chain ``[parent, grandparent, ...]`` (a list shared
    by the records of one parent: read it, do not change it); both are None otherwise.
    ``page_digests``: (64-bit XXH3 of the page's body, how many records it gave) per page,
    in order, when the records are what their pages' bytes alone give (None otherwise: a
    fan-out, a ``where`` reading the scope, records embedded into, a fallback, the headers
    format)."""

    name: str
    records: list[Any] = field(default_factory=list)
    parents: list[Any] | None = None
    ancestors: list[list[Any]] | None = None
    complete: bool = True
    status: str = "ok"
    pages: int = 0
    requests: int = 0
    seconds: float = 0.0
    page_digests: list[tuple[int, int]] | None = field(default_factory=list)


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
    """The record list of one page body, as found: no shape checks (``checked_records``)."""
    found = call.records.search(body) if call.records is not None else body
    if found is None:
        return []
    return found if isinstance(found, list) else [found]


def checked_records(call: Call, body: Any, objects: bool) -> list[Any]:
    """The record list of one JSON page body, its shape checked.

    Takes the call, the decoded body and whether its records must be objects (a mapping reads
    their fields). Gives the records: the list the records path finds (an empty list is
    fine, and so is a path present with null), or the one object it finds. Raises
    ``ApiError`` (the caller names the call) for an empty body, a records path absent from
    the body (naming the keys it has), a path giving a scalar, or records that are not
    objects where they must be. No I/O.
    """
    if body is None:
        raise ApiError("the response body is empty")
    expr = call.records
    if expr is None:
        found = body
    else:
        found = expr.search(body)
        if found is None and not _present_null(expr.text, expr.kind, body):
            raise ApiError(
                f"records path {expr.text!r} is not in the response body ({_shape(body)})"
            )
    if found is None:
        return []
    if isinstance(found, dict):
        return [found]
    if not isinstance(found, list):
        where = "the response body" if expr is None else f"records path {expr.text!r}"
        raise ApiError(f"{where} gives {_kind(found)}, not a list of records")
    if objects and found and not all(isinstance(r, dict) for r in found):
        bad = next(r for r in found if not isinstance(r, dict))
        where = "" if expr is None else f" at {expr.text!r}"
        raise ApiError(f"the records{where} must be objects (got {_kind(bad)})")
    return found


def _present_null(text: str, kind: str, body: Any) -> bool:
    """True when a plain field path is in ``body`` with the value null."""
    if kind not in ("field", "path"):
        return False
    node = body
    for part in text.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return node is None


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    return "null" if value is None else f"a {type(value).__name__} ({str(value)[:40]!r})"


def _shape(body: Any) -> str:
    """What a body is, for messages: its keys (up to 20) or its kind."""
    if isinstance(body, dict):
        keys = list(body)
        shown = ", ".join(str(k)[:40] for k in keys[:20]) + (", ..." if len(keys) > 20 else "")
        return f"its keys: {shown}" if keys else "it is an empty object"
    return f"it is {_kind(body)}"


def object_calls(spec: Spec) -> frozenset[str]:
    """The calls whose records must be objects: a source reads fields of them directly."""
    out = set()
    for mapping in spec.collections.values():
        for source in mapping.sources:
            if source.each or not source.call:
                continue
            if any(_reads_fields(a) for a in source.attributes):
                out.add(source.call)
    return frozenset(out)


def _reads_fields(attr: Attribute) -> bool:
    """True when the rule reads a plain field path of the record (``id``, ``status.name``)."""
    found = [e for e in (attr.expression, attr.default_expression) if e is not None]
    found.extend((attr.cases or {}).values())
    if any(e.kind in ("field", "path") for e in found):
        return True
    return any(
        _reads_fields(p) if isinstance(p, Attribute) else p.kind in ("field", "path")
        for _, p in attr.ref_parts
    )


class Collector:
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
        res = CallResult(name)
        started = time.perf_counter()
        if call.when is not None and not _truthy(call.when.render(self.session.ctx)):
            res.complete, res.status = False, "disabled (when)"
        else:
            try:
                if call.for_each:
                    self._fan_out(call, res)
                else:
                    self._fetch_all(call, res, {})
            except _Skipped as skip:
                res.complete, res.status = False, f"skipped ({skip.status})"
            except (ApiError, CredentialsError) as exc:
                self._fallback(call, res, exc)
        res.seconds = time.perf_counter() - started
        self.result.calls[name] = res
        if (
            self.embedders.get(name)
            or (call.where is not None and call.where.roots)
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
        chains = parent_res.ancestors or [[]] * len(parent_res.records)
        where = call.for_each.where
        # (parent, its ancestor chain): ancestors[0] is the parent itself
        parents = [
            (p, [p, *up])
            for p, up in zip(parent_res.records, chains, strict=True)
            if where is None or _truthy(self._search(where, p, up, call, "for_each.where"))
        ]
        workers = call.for_each.concurrency or self.spec.connection.concurrency
        res.parents, res.ancestors, res.page_digests = [], [], None
        if not parent_res.complete:
            res.complete = False

        def one(item: tuple[Any, list[Any]]) -> tuple[list[Any], int, int, int | None]:
            sub = CallResult(call.name)
            try:
                self._fetch_all(call, sub, {"parent": item[0], "ancestors": item[1]})
            except _Skipped as skip:
                return [], sub.pages, sub.requests, skip.status
            return sub.records, sub.pages, sub.requests, None

        pool = ThreadPoolExecutor(max_workers=max(1, workers))
        try:
            for (parent, chain), (records, pages, reqs, skipped) in zip(
                parents, pool.map(one, parents), strict=True
            ):
                res.records.extend(records)
                res.parents.extend([parent] * len(records))
                res.ancestors.extend([chain] * len(records))
                res.pages += pages
                res.requests += reqs
                if skipped is not None:
                    res.complete = False
                    res.status = f"partly skipped ({skipped})"
                self.progress(call.name, res.pages, len(res.records))
        finally:
            # on a failure, requests for parents not started yet are not sent
            pool.shutdown(wait=True, cancel_futures=True)

    def _fetch_all(self, call: Call, res: CallResult, extra: dict[str, Any]) -> None:
        ctx = {**self.session.ctx, **extra} if extra else self.session.ctx
        target = call.path.render(ctx)
        url = (
            self.session.join(call.service, target)
            if call.url_join
            else self.session.url(call.service, target)
        )
        params = {k: v for k, v in render_value(dict(call.query), ctx).items() if v is not None}
        headers = {k: t.render(ctx) for k, t in call.headers.items()}
        page: PageRequest | None = first_request(call.paginate, url, params)
        state = PageState()
        # statuses the call skips on are answers, not transient failures: never retried
        retry = replace(call.retry, on=tuple(s for s in call.retry.on if s not in call.skip_on))
        try:
            while page is not None:
                page = self._fetch_page(call, res, page, state, headers, extra, retry)
        except (ApiError, UnreachableError) as exc:
            raise _named(exc, call.name, self.session.secrets()) from None

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
        resp = self.session.request(
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
        res.requests += 1
        body = self._check(call, resp)
        # XML has no empty list (an empty listing is an absent element): found as is
        if call.format != "json" or resp.status == 204:  # 204: no content
            records = records_of(call, body)
        else:
            try:
                records = checked_records(call, body, call.name in self.objects)
            except ApiError as exc:
                at = f"{call.name}: {call.method} {self.session.client.where(resp.url)}"
                raise ApiError(f"{at}: {exc}", secrets=self.session.secrets()) from None
        where = call.where
        before = len(res.records)
        if where is None:
            res.records.extend(records)
        else:
            up = extra.get("ancestors") or []
            res.records.extend(r for r in records if _truthy(self._search(where, r, up, call)))
        if res.page_digests is not None and not extra:
            res.page_digests.append((body_digest(resp.body), len(res.records) - before))
        res.pages += 1
        if not extra:
            self.progress(call.name, res.pages, len(res.records))
        return next_request(
            call.paginate, page, PageResponse(resp.headers, body, len(records)), state
        )

    def _search(
        self, expr: Expression, record: Any, ancestors: list[Any], call: Call, key: str = "where"
    ) -> Any:
        """``expr`` on ``record`` with $region, $provider, $settings and, below a fan-out,
        $parent and $ancestors (``ancestors`` is the record's chain, parent first)."""
        if not expr.roots:
            return expr.search(record)
        scope = {
            **self.scope,
            "parent": ancestors[0] if ancestors else None,
            "ancestors": ancestors,
        }
        try:
            return expr.search(record, scope)
        except MappingError as exc:
            raise MappingError(f"{call.location}: calls.{call.name}.{key}: {exc}") from None

    def _check(self, call: Call, resp: HttpResponse) -> Any:
        where = f"{call.name}: {call.method} {self.session.client.where(resp.url)}"
        if resp.status in call.skip_on:
            raise _Skipped(resp.status)
        if resp.status in self.spec.invalid_statuses:
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


def decode_body(call: Call, resp: HttpResponse) -> Any:
    """The page body by the call's ``format``: JSON, text, XML data or the header map."""
    if call.format == "json":
        return resp.json()
    if call.format == "xml":
        return resp.xml(call.xml_force_list)
    if call.format == "headers":
        return resp.header_map()
    return resp.text


def _named(exc: MiqspecError, call: str, secrets: list[str]) -> MiqspecError:
    """``exc`` (same class and attributes) with the call's name in front of its message."""
    text = str(exc)
    if not text.startswith(f"{call}: "):
        exc.args = (mask_secrets(f"{call}: {text}", secrets),)
    return exc


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() not in ("", "false", "0", "no", "none", "off")
    return bool(value)


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
