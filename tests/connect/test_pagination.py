"""Paginator kinds with hand-built responses (paginators do no I/O)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from miqspec.connect.pagination import (
    PAGINATORS,
    PageRequest,
    PageResponse,
    PageState,
    PaginationError,
    first_request,
    link_values,
    next_link,
    next_request,
)
from miqspec.spec import schema as schema_mod
from miqspec.spec.build import build_paginate

BASE = "https://api.example.com/v1/items"


def paginate(**raw: Any) -> Any:
    return build_paginate(raw, 10_000)


def page(
    body: Any = None, records: int = 0, headers: Mapping[str, str] | None = None
) -> PageResponse:
    return PageResponse(headers or {}, body, records)


def walk(
    p: Any, pages: list[PageResponse], params: Mapping[str, Any] | None = None
) -> list[PageRequest]:
    """Every request the paginator asks for, given the responses in order."""
    state = PageState()
    req: PageRequest | None = first_request(p, BASE, params or {})
    out: list[PageRequest] = []
    for resp in pages:
        assert req is not None, f"paginator stopped after {len(out)} page(s)"
        out.append(req)
        req = next_request(p, req, resp, state)
    assert req is None, f"paginator wants more than {len(pages)} page(s): {req}"
    return out


def test_registry_matches_the_schema_variants():
    assert set(PAGINATORS) == set(schema_mod.variants("paginate"))


def test_none_fetches_one_page_with_the_call_params():
    p = paginate(type="none")
    reqs = walk(
        p, [page({"next": "https://elsewhere/2"}, 5, {"Link": '</2>; rel="next"'})], {"a": "1"}
    )
    assert reqs == [PageRequest(BASE, {"a": "1"}, 1)]


def test_next_url_absolute():
    p = paginate(type="next_url", next="links.next")
    second = "https://api.example.com/v1/items?page=2&token=a%2Bb"
    reqs = walk(
        p,
        [page({"links": {"next": second}}, 2), page({"links": {"next": None}}, 1)],
        {"limit": "2"},
    )
    assert reqs[0] == PageRequest(BASE, {"limit": "2"}, 1)
    assert reqs[1].url == second and reqs[1].number == 2
    assert reqs[1].params == {}


def test_next_url_relative_resolves_against_the_page_url():
    p = paginate(type="next_url", next="next")
    reqs = walk(
        p,
        [
            page({"next": "/v1/items?page=2"}, 3),
            page({"next": "?page=3"}, 3),
            page({"next": ""}, 1),
        ],
        {"limit": "3"},
    )
    assert [r.url for r in reqs[1:]] == [
        "https://api.example.com/v1/items?page=2",
        "https://api.example.com/v1/items?page=3",
    ]
    assert [r.number for r in reqs] == [1, 2, 3]


def test_next_url_keeps_repeated_query_keys():
    p = paginate(type="next_url", next="next")
    nxt = "https://api.example.com/v1/items?tag=a&tag=b&page=2"
    reqs = walk(p, [page({"next": nxt}, 1), page({}, 1)])
    assert reqs[1].url == nxt


def test_next_url_ignores_non_string_values():
    p = paginate(type="next_url", next="next")
    assert walk(p, [page({"next": 2}, 1)])[0].number == 1


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ('<https://a.example/x?page=2>; rel="next"', "https://a.example/x?page=2"),
        ("<https://a.example/x?page=2>; rel=next", "https://a.example/x?page=2"),
        (
            '<https://a.example/x?page=1>; rel="prev first", <https://a.example/x?page=3>; '
            'rel="next"',
            "https://a.example/x?page=3",
        ),
        ('<https://a.example/x?page=9>; rel="last next"', "https://a.example/x?page=9"),
        ('<https://a.example/x?page=4>; title="a, b; c"; rel="next"', "https://a.example/x?page=4"),
        ('<https://a.example/x?page=5>; REL="Next"', "https://a.example/x?page=5"),
        (
            '<https://a.example/x?page=8>; prerel="next", <https://a.example/x?page=6>; rel="next"',
            "https://a.example/x?page=6",
        ),
        ('<https://a.example/x?page=1>; rel="prev"', None),
        ("", None),
        (None, None),
        ("not a link header", None),
    ],
)
def test_next_link(header: str | None, expected: str | None):
    assert next_link(header) == expected


def test_link_values_parses_quoted_parameters():
    values = link_values('<a,b>; title="x\\"y; z"; rel=prev , <c>;rel="next";rel=last')
    assert values == [("a,b", {"title": 'x"y; z', "rel": "prev"}), ("c", {"rel": "next"})]


def test_link_header_follows_rel_next_until_absent():
    p = paginate(type="link_header")
    link2 = '<https://api.example.com/v1/items?page=2>; rel="next", </v1/items?page=9>; rel="last"'
    link3 = '</v1/items?page=3>; rel="next"; title="third, of; three"'
    reqs = walk(
        p,
        [
            page([1, 2], 2, {"Link": link2}),
            page([3, 4], 2, {"link": link3}),
            page([5], 1, {"Link": '</v1/items?page=1>; rel="first"'}),
        ],
    )
    assert [r.url for r in reqs] == [
        BASE,
        "https://api.example.com/v1/items?page=2",
        "https://api.example.com/v1/items?page=3",
    ]


def test_offset_with_limit_stops_on_a_short_page():
    p = paginate(type="offset", limit=10)
    reqs = walk(p, [page(None, 10), page(None, 10), page(None, 3)], {"q": "x"})
    assert [dict(r.params) for r in reqs] == [
        {"q": "x", "offset": 0, "limit": 10},
        {"q": "x", "offset": 10, "limit": 10},
        {"q": "x", "offset": 20, "limit": 10},
    ]


def test_offset_with_total_and_own_parameter_names():
    p = paginate(
        type="offset", offset_param="skip", limit_param="top", limit=2, start=1, total="meta.count"
    )
    body = {"meta": {"count": 5}}  # items 1..4 are left after start=1
    reqs = walk(p, [page(body, 2), page(body, 2)])
    assert [(r.params["skip"], r.params["top"]) for r in reqs] == [(1, 2), (3, 2)]


def test_offset_total_may_be_a_numeric_string():
    p = paginate(type="offset", total="total")
    reqs = walk(p, [page({"total": "4"}, 2), page({"total": "4"}, 2)])
    assert [r.params["offset"] for r in reqs] == [0, 2]


def test_offset_stops_on_an_empty_page_without_limit():
    p = paginate(type="offset")
    reqs = walk(p, [page(None, 4), page(None, 4), page(None, 0)])
    assert [r.params["offset"] for r in reqs] == [0, 4, 8]
    assert "limit" not in reqs[0].params


def test_page_number_with_size_and_total_pages():
    p = paginate(type="page_number", size=2, size_param="page_size", total_pages="pages")
    body = {"pages": 3}
    reqs = walk(p, [page(body, 2), page(body, 2), page(body, 2)], {"sort": "name"})
    assert [dict(r.params) for r in reqs] == [
        {"sort": "name", "page": n, "page_size": 2} for n in (1, 2, 3)
    ]


def test_page_number_zero_based_ends_at_total_pages_minus_one():
    p = paginate(type="page_number", page_param="p", start=0, total_pages="total")
    body = {"total": 2}
    reqs = walk(p, [page(body, 5), page(body, 5)])
    assert [r.params["p"] for r in reqs] == [0, 1]


def test_page_number_stops_on_a_short_page():
    p = paginate(type="page_number", size=5)
    reqs = walk(p, [page(None, 5), page(None, 4)])
    assert [(r.params["page"], r.params["per_page"]) for r in reqs] == [(1, 5), (2, 5)]


def test_cursor_keeps_the_call_params():
    p = paginate(type="cursor", cursor="meta.next", param="next_token")
    reqs = walk(
        p,
        [
            page({"meta": {"next": "t1"}}, 2),
            page({"meta": {"next": "t2"}}, 2),
            page({"meta": {"next": None}}, 1),
        ],
        {"limit": "2", "filter": "x"},
    )
    assert [dict(r.params) for r in reqs] == [
        {"limit": "2", "filter": "x"},
        {"limit": "2", "filter": "x", "next_token": "t1"},
        {"limit": "2", "filter": "x", "next_token": "t2"},
    ]
    assert all(r.url == BASE for r in reqs)


@pytest.mark.parametrize("empty", ["", [], {}, None])
def test_cursor_stops_on_an_empty_token(empty: Any):
    p = paginate(type="cursor", cursor="c", param="c")
    assert len(walk(p, [page({"c": empty}, 1)])) == 1


@pytest.mark.parametrize(
    ("raw", "body", "headers"),
    [
        ({"type": "cursor", "cursor": "c", "param": "c"}, {"c": "same"}, {}),
        ({"type": "next_url", "next": "n"}, {"n": "/v1/items?page=2"}, {}),
        ({"type": "link_header"}, None, {"Link": '</v1/items?page=2>; rel="next"'}),
    ],
)
def test_a_repeated_token_or_url_raises(raw: dict[str, Any], body: Any, headers: dict[str, str]):
    p = paginate(**raw)
    state = PageState()
    req = first_request(p, BASE, {})
    req = next_request(p, req, page(body, 1, headers), state)
    assert req is not None
    with pytest.raises(PaginationError, match=r"repeated .* on page 3"):
        next_request(p, req, page(body, 1, headers), state)


def test_offset_that_does_not_move_raises():
    # a page of records whose count the paginator adds, then a server that repeats the offset
    p = paginate(type="offset")
    state = PageState()
    req = first_request(p, BASE, {})
    nxt = next_request(p, req, page(None, 3), state)
    assert nxt is not None
    with pytest.raises(PaginationError, match="repeated"):
        next_request(p, req, page(None, 3), state)


@pytest.mark.parametrize(
    "raw",
    [
        {"type": "cursor", "cursor": "c", "param": "c"},
        {"type": "next_url", "next": "c"},
        {"type": "offset", "limit": 1},
        {"type": "page_number", "size": 1},
    ],
)
def test_max_pages_stops_an_endless_list(raw: dict[str, Any]):
    p = paginate(**raw, max_pages=3)
    state = PageState()
    req: PageRequest | None = first_request(p, BASE, {})
    fetched = 0
    with pytest.raises(PaginationError, match="max_pages=3"):
        while req is not None:
            fetched += 1
            req = next_request(p, req, page({"c": f"/v1/items?t={fetched}"}, 1), state)
    assert fetched == 3


def test_max_pages_allows_exactly_that_many_pages():
    p = paginate(type="cursor", cursor="c", param="c", max_pages=2)
    reqs = walk(p, [page({"c": "a"}, 1), page({"c": None}, 1)])
    assert len(reqs) == 2
