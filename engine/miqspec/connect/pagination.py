"""Paginator kinds: given a page's response, say which request comes next. No I/O.

Takes: a call's ``Paginate`` settings, the current ``PageRequest`` and the response (status,
headers, decoded body, the number of records the page held).
Gives: the next ``PageRequest`` or ``None`` when the list is done.
Raises: ``PaginationError`` when a page repeats a token or URL, or ``max_pages`` is passed.
The registry ``PAGINATORS`` is keyed by the spec's ``paginate.type`` names.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit

from miqspec.errors import ApiError
from miqspec.spec import Paginate


class PaginationError(ApiError):
    """A page loop that would not end."""


@dataclass(frozen=True)
class PageRequest:
    url: str
    params: Mapping[str, Any]
    number: int = 1


@dataclass
class PageState:
    """What a paginator remembers across pages of one list (tokens and URLs seen)."""

    seen: set[str] = field(default_factory=set)
    fetched: int = 0


@dataclass(frozen=True)
class PageResponse:
    headers: Mapping[str, str]
    body: Any
    records: int


Next = Callable[[Paginate, PageRequest, PageResponse, PageState], PageRequest | None]


def _first_none(p: Paginate, url: str, params: Mapping[str, Any]) -> PageRequest:
    return PageRequest(url, dict(params))


def _guard(p: Paginate, req: PageRequest, marker: str, state: PageState) -> None:
    if marker in state.seen:
        raise PaginationError(
            f"pagination repeated {marker!r} on page {req.number + 1}; "
            "stopping instead of looping forever"
        )
    state.seen.add(marker)
    if req.number >= p.max_pages:
        raise PaginationError(f"more than max_pages={p.max_pages} pages; stopping")


def _next_none(p: Paginate, req: PageRequest, resp: PageResponse, st: PageState) -> None:
    return None


def _next_url(
    p: Paginate, req: PageRequest, resp: PageResponse, st: PageState
) -> PageRequest | None:
    nxt = p.expressions["next"].search(resp.body)
    if not nxt or not isinstance(nxt, str):
        return None
    absolute = urljoin(_with_query(req), nxt)
    _guard(p, req, absolute, st)
    # the next URL is sent as given: its query may repeat keys or carry opaque tokens
    return PageRequest(absolute, {}, req.number + 1)


def _with_query(req: PageRequest) -> str:
    if not req.params:
        return req.url
    return req.url + ("&" if urlsplit(req.url).query else "?") + urlencode(req.params, doseq=True)


_LINK_TARGET = re.compile(r"\s*<([^>]*)>")
_LINK_PARAM = re.compile(r'\s*;\s*([^\s=;,]+)\s*(?:=\s*("(?:[^"\\]|\\.)*"|[^;,]*))?')


def link_values(header: str) -> list[tuple[str, dict[str, str]]]:
    """Each link of an RFC 8288 ``Link`` header: target and parameters (names lower-cased).

    Quoted parameter values may hold commas and semicolons; the first of a repeated parameter
    wins, as the RFC says.
    """
    out: list[tuple[str, dict[str, str]]] = []
    pos = 0
    while (m := _LINK_TARGET.match(header, pos)) is not None:
        params: dict[str, str] = {}
        pos = m.end()
        while (pm := _LINK_PARAM.match(header, pos)) is not None:
            value = (pm.group(2) or "").strip()
            if value.startswith('"'):
                value = re.sub(r"\\(.)", r"\1", value[1:-1])
            params.setdefault(pm.group(1).lower(), value)
            pos = pm.end()
        out.append((m.group(1).strip(), params))
        comma = header.find(",", pos)
        if comma < 0:
            break
        pos = comma + 1
    return out


def next_link(header: str | None) -> str | None:
    """The ``rel="next"`` target of an RFC 5988 / 8288 ``Link`` header."""
    if not header:
        return None
    for target, params in link_values(header):
        if "next" in params.get("rel", "").lower().split():
            return target
    return None


def _link_header(
    p: Paginate, req: PageRequest, resp: PageResponse, st: PageState
) -> PageRequest | None:
    nxt = next_link(resp.headers.get("Link") or resp.headers.get("link"))
    if not nxt:
        return None
    absolute = urljoin(_with_query(req), nxt)
    _guard(p, req, absolute, st)
    return PageRequest(absolute, {}, req.number + 1)


def _number(value: Any) -> float | None:
    """A count from a body: numbers, or numeric strings (some APIs quote them)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _first_offset(p: Paginate, url: str, params: Mapping[str, Any]) -> PageRequest:
    out = dict(params)
    out[p.params.get("offset_param", "offset")] = int(p.params.get("start", 0))
    if p.params.get("limit"):
        out[p.params.get("limit_param", "limit")] = int(p.params["limit"])
    return PageRequest(url, out)


def _offset(p: Paginate, req: PageRequest, resp: PageResponse, st: PageState) -> PageRequest | None:
    oparam = p.params.get("offset_param", "offset")
    limit = p.params.get("limit")
    st.fetched += resp.records
    if resp.records == 0 or (limit and resp.records < int(limit)):
        return None
    if "total" in p.expressions:
        total = _number(p.expressions["total"].search(resp.body))
        if total is not None and st.fetched + int(p.params.get("start", 0)) >= total:
            return None
    offset = int(req.params.get(oparam, 0)) + resp.records
    _guard(p, req, f"offset={offset}", st)
    return PageRequest(req.url, {**req.params, oparam: offset}, req.number + 1)


def _first_page(p: Paginate, url: str, params: Mapping[str, Any]) -> PageRequest:
    out = dict(params)
    out[p.params.get("page_param", "page")] = int(p.params.get("start", 1))
    if p.params.get("size"):
        out[p.params.get("size_param", "per_page")] = int(p.params["size"])
    return PageRequest(url, out)


def _page_number(
    p: Paginate, req: PageRequest, resp: PageResponse, st: PageState
) -> PageRequest | None:
    pparam = p.params.get("page_param", "page")
    size = p.params.get("size")
    if resp.records == 0 or (size and resp.records < int(size)):
        return None
    page = int(req.params.get(pparam, 1))
    if "total_pages" in p.expressions:
        total = _number(p.expressions["total_pages"].search(resp.body))
        # pages done so far counts from ``start`` (0-based APIs end at total_pages - 1)
        if total is not None and page - int(p.params.get("start", 1)) + 1 >= total:
            return None
    _guard(p, req, f"page={page + 1}", st)
    return PageRequest(req.url, {**req.params, pparam: page + 1}, req.number + 1)


def _cursor(p: Paginate, req: PageRequest, resp: PageResponse, st: PageState) -> PageRequest | None:
    token = p.expressions["cursor"].search(resp.body)
    if token in (None, "", [], {}):
        return None
    _guard(p, req, f"cursor={token}", st)
    return PageRequest(req.url, {**req.params, p.params["param"]: token}, req.number + 1)


PAGINATORS: dict[str, tuple[Callable[[Paginate, str, Mapping[str, Any]], PageRequest], Next]] = {
    "none": (_first_none, _next_none),
    "next_url": (_first_none, _next_url),
    "link_header": (_first_none, _link_header),
    "offset": (_first_offset, _offset),
    "page_number": (_first_page, _page_number),
    "cursor": (_first_none, _cursor),
}


def first_request(p: Paginate, url: str, params: Mapping[str, Any]) -> PageRequest:
    return PAGINATORS[p.type][0](p, url, params)


def next_request(
    p: Paginate, req: PageRequest, resp: PageResponse, state: PageState
) -> PageRequest | None:
    return PAGINATORS[p.type][1](p, req, resp, state)
