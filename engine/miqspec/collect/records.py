"""Reading a call's pages: the page body by the call's ``format`` and its record list.

Takes: a ``Call`` (its ``records`` path and ``format``), a decoded page body or an
``HttpResponse``, and a scope for ``records`` paths that read ``$`` roots (``$parent``,
``$ancestors``, ``$region``, ...). Gives: ``decode_body`` (JSON, text, XML data or the header
map), ``records_of`` (the records as found), ``checked_records`` (the records of a JSON body,
shape checked), ``object_calls`` (calls whose records must be objects) and ``body_digest``.
Raises: ``BadBody`` (``decode_body``), ``ApiError`` (``checked_records``: the caller names the
call). No I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from xxhash import xxh3_64_intdigest

from miqspec.connect import HttpResponse
from miqspec.errors import ApiError
from miqspec.spec import Attribute, Call, Spec

Scope = Mapping[str, Any] | None


def body_digest(body: bytes) -> int:
    """A page body's digest (unsigned 64-bit XXH3)."""
    return xxh3_64_intdigest(body)


def records_of(call: Call, body: Any, scope: Scope = None) -> list[Any]:
    """The record list of one page body, as found: no shape checks (``checked_records``)."""
    found = call.records.search(body, scope) if call.records is not None else body
    if found is None:
        return []
    return found if isinstance(found, list) else [found]


def checked_records(call: Call, body: Any, objects: bool, scope: Scope = None) -> list[Any]:
    """The record list of one JSON page body, its shape checked.

    Takes the call, the decoded body, whether its records must be objects (a mapping reads
    their fields) and the scope of a ``records`` path reading ``$`` roots. Gives the records:
    the list the records path finds (an empty list is fine, and so is a path present with
    null), or the one object it finds. Raises
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
        found = expr.search(body, scope)
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


def decode_body(call: Call, resp: HttpResponse) -> Any:
    """The page body by the call's ``format``: JSON, text, XML data or the header map."""
    if call.format == "json":
        return resp.json()
    if call.format == "xml":
        return resp.xml(call.xml_force_list)
    if call.format == "headers":
        return resp.header_map()
    return resp.text
