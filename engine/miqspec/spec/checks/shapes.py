"""Fields no record can have, where the validator knows the records' shape.

Takes: the ``Findings`` sink, a source's path and data, and the spec's function registry.
Gives: ``check_items_fields``: a finding at each attribute of a source that reads a top-level
field its records cannot have, where their shape is known: ``items:`` written out as a literal
list of objects (or one object, ``[{id: 'default', name: $provider.name}]``): a field none of
them has, the usual slip being a bare word meant as a constant (``type: PhysicalServer`` reads
the field ``PhysicalServer``: always null); a ``format: text`` call (the record is a string:
any field); a ``format: headers`` call (names are lower-cased: a field with a capital).
Elsewhere the shape depends on the API; a refresh warns about an attribute null on every
record (``parse.audit``).
Raises nothing; no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from miqspec.spec.checks.findings import Findings
from miqspec.spec.document import Path
from miqspec.spec.expression_syntax import ExpressionSyntaxError, Node
from miqspec.spec.expressions import compile_expression, record_fields
from miqspec.spec.functions.registry import CustomFunctions


def check_items_fields(
    findings: Findings,
    path: Path,
    src: Mapping[str, Any],
    functions: CustomFunctions | None,
    calls: Mapping[str, Any] | None = None,
) -> None:
    """Report attributes of the source at ``path`` that read fields its records cannot have:
    literal ``items:`` objects lacking them, the strings of a ``format: text`` call, the
    lower-cased names of a ``format: headers`` call."""
    attributes = src.get("attributes")
    problem = _shape(src, functions, calls or {})
    if problem is None or "each" in src or not isinstance(attributes, dict):
        return
    for name, value in attributes.items():
        apath: Path = (*path, "attributes", name)
        text = value
        if isinstance(value, dict) and isinstance(value.get("expr"), str):
            apath, text = (*apath, "expr"), value["expr"]
        ast = _compile(text, functions) if isinstance(text, str) else None
        fields = record_fields(ast) if ast is not None else None
        for field in sorted(fields or ()):
            reason = problem(field)
            if reason is not None:
                findings.add(apath, reason)


def _shape(
    src: Mapping[str, Any], functions: CustomFunctions | None, calls: Mapping[str, Any]
) -> Callable[[str], str | None] | None:
    """What the records of the source cannot hold (a field -> why), when that is known."""
    items = src.get("items")
    if isinstance(items, str):
        keys = _literal_keys(_compile(items, functions))
        if keys is None:
            return None
        have = ", ".join(sorted(keys)) or "no fields"
        return lambda field: (
            None
            if field in keys
            else f"'{field}' is no field of the records items: gives (they have {have}); "
            f"a constant is written {{value: {field}}}"
        )
    name = src.get("from")
    call = calls.get(name) if isinstance(name, str) else None
    if not isinstance(call, dict) or "records" in call:
        return None
    if call.get("format") == "text":
        return lambda field: (
            f"'{field}' is no field: the record of a format: text call is the body "
            "string (read it as @)"
        )
    if call.get("format") == "headers":
        return lambda field: (
            None
            if field == field.lower()
            else f"'{field}' is no header name: a format: headers call's names are "
            f'lower-cased (read "{field.lower()}")'
        )
    return None


def _compile(text: str, functions: CustomFunctions | None) -> Node | None:
    try:
        return compile_expression(text, functions).ast
    except ExpressionSyntaxError:
        return None  # reported where the expression is checked


def _literal_keys(ast: Node | None) -> set[str] | None:
    """The keys of the objects a literal list (or object) gives, or None when not literal."""
    if ast is None:
        return None
    kind = ast["type"]
    if kind == "multi_select_dict":
        return {pair["value"] for pair in ast["children"]}
    if kind == "literal":
        value = ast["value"]
        objects = value if isinstance(value, list) else [value]
        if objects and all(isinstance(o, dict) for o in objects):
            return {str(k) for o in objects for k in o}
        return None
    if kind == "multi_select_list":
        found: set[str] = set()
        for child in ast["children"]:
            keys = _literal_keys(child) if child["type"] != "multi_select_list" else None
            if keys is None:
                return None
            found |= keys
        return found
    return None
