"""Fields no record can have, where the validator knows the records' shape.

Takes: the ``Findings`` sink, a source's path and data, and the spec's function registry.
Gives: ``check_items_fields``: for a source whose ``items:`` is a literal list of objects (or
one object), written out in the expression (``[{id: 'default', name: $provider.name}]``), a
finding at each of its attributes that reads a top-level field none of those objects has,
the usual slip being a bare word meant as a constant (``type: PhysicalServer`` reads the
field ``PhysicalServer``: always null). Where the shape depends on the API (``from:`` a call)
nothing is reported here; a refresh warns about an attribute null on every record
(``parse.audit``).
Raises nothing; no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
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
) -> None:
    """Report attributes of the source at ``path`` that read fields its literal items lack."""
    items, attributes = src.get("items"), src.get("attributes")
    if not isinstance(items, str) or "each" in src or not isinstance(attributes, dict):
        return
    keys = _literal_keys(_compile(items, functions))
    if keys is None:
        return
    for name, value in attributes.items():
        apath: Path = (*path, "attributes", name)
        text = value
        if isinstance(value, dict) and isinstance(value.get("expr"), str):
            apath, text = (*apath, "expr"), value["expr"]
        ast = _compile(text, functions) if isinstance(text, str) else None
        fields = record_fields(ast) if ast is not None else None
        for field in sorted((fields or set()) - keys):
            have = ", ".join(sorted(keys)) or "no fields"
            findings.add(
                apath,
                f"'{field}' is no field of the records items: gives (they have {have}); "
                f"a constant is written {{value: {field}}}",
            )


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
