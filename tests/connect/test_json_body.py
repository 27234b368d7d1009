"""json_body.decode gives json.loads' value, or its error, for any body."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from miqspec.connect.json_body import decode

scalars = (
    st.none()
    | st.booleans()
    | st.integers()  # any size: beyond 64 bits too
    | st.integers(min_value=-(2**200), max_value=2**200)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()  # any code point, lone surrogates included
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(), inner, max_size=5),
    max_leaves=40,
)


def outcome(fn: Any, body: bytes) -> tuple[str, Any]:
    try:
        return "value", fn(body)
    except (ValueError, RecursionError) as exc:
        return type(exc).__name__, str(exc)


def same(a: Any, b: Any) -> bool:
    """Equal, of the same types all the way down (1 == 1.0 == True are not the same here)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(map(same, a, b))
    if isinstance(a, float) and a != a:
        return b != b
    return bool(a == b)


def assert_like_json_loads(body: bytes) -> None:
    kind, got = outcome(decode, body)
    want_kind, want = outcome(json.loads, body)
    assert kind == want_kind and (same(got, want) if kind == "value" else got == want)


def encoded(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


@settings(max_examples=400)
@given(values, st.booleans())
def test_what_json_writes_decodes_to_what_json_loads_gives(value: Any, ascii_only: bool) -> None:
    assert_like_json_loads(encoded(json.dumps(value, ensure_ascii=ascii_only)))


@settings(max_examples=400)
@given(st.binary(max_size=60) | st.text(max_size=30).map(encoded))
def test_any_bytes_give_json_loads_value_or_its_error(body: bytes) -> None:
    assert_like_json_loads(body)


@pytest.mark.parametrize(
    "body",
    [
        b"NaN",
        b"[Infinity, -Infinity]",
        b"1e400",
        b'"\\ud800"',
        b'"\xed\xa0\x80"',  # a surrogate written as UTF-8 (json.loads passes it)
        b"\xef\xbb\xbf{}",  # a UTF-8 byte-order mark
        '{"a": [1, 2.5, "\u00e9"]}'.encode("utf-16"),
        b'{"a": 1, "a": 2}',  # the last one wins
        b'{"a": 1, "b": 2, "a": {"c": 3}}',  # ... in the first one's place
        b"[1, 2,]",
        b"12345678901234567890123456789012345678901234567890",
        b"[" * 100_000 + b"]" * 100_000,
    ],
)
def test_edge_cases_follow_json_loads(body: bytes) -> None:
    assert_like_json_loads(body)
