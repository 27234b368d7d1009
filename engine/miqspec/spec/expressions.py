"""Compile spec JMESPath expressions once; evaluate them fast, with ``$`` roots.

Takes: expression text from a spec and optionally a function registry (``CustomFunctions`` of
``spec.functions.registry``, or one ``spec.spec_functions`` built with the spec's functions).
Gives: ``compile_expression(text) -> Expression`` (cached per text and registry) with ``text``,
``kind`` (the evaluator chosen), ``roots`` (``$`` roots used, without ``$``), ``calls`` (names
read as ``$calls.<name>``), ``functions`` (functions called) and ``search(record, scope=None)``,
which returns exactly what JMESPath returns for ``record``.
Raises: ``ExpressionSyntaxError`` (from :mod:`miqspec.spec.expression_syntax`, which parses and
checks the text) at compile time, with ``column``, a 0-based offset into the original text;
``ExpressionEvaluationError`` (a MappingError) from ``search`` when a function rejects its input.
Does no I/O.

Fast paths, chosen from the parsed AST: ``name`` and ``a."b-c".d`` read the record with chained
``.get`` (JMESPath's own field semantics), ``@`` is the identity, a literal is a constant,
``$parent.x`` chains on the scope, operators over those are computed directly (``memory *
1024``: kind ``arithmetic``). Everything else runs on one shared interpreter
(:mod:`miqspec.spec.expression_interpreter`).

Roots: ``$name`` (name in ``ROOTS``) may stand wherever an identifier may, also inside filters
and projections: ``join('/', [$parent.name, name])``, ``tags[?key==$settings.tag].value``.
``$item`` is the record itself; the others come from the ``scope`` mapping passed to ``search``
(``{"parent": {...}, "index": 3, "calls": {"list_regions": [...]}}``); a missing one is null.
``$ancestors`` is the list ``[$parent, $parent's parent, ...]`` the parser builds (nested
``each`` levels, then the record, then its fan-out parents).
A record key spelled like a root (``"$parent"``) is shadowed; other ``$`` keys such as
``_id."$oid"`` read the record as usual.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from typing import Any

from jmespath import exceptions as jp_errors
from jmespath.visitor import Options

from miqspec.errors import MappingError
from miqspec.spec.expression_interpreter import CURRENT as _CURRENT
from miqspec.spec.expression_interpreter import ROOT_FIELDS as _ROOT_FIELDS
from miqspec.spec.expression_interpreter import Interpreter, ScopedInterpreter
from miqspec.spec.expression_syntax import Node, parse_expression
from miqspec.spec.functions import arithmetic
from miqspec.spec.functions.registry import DEFAULT_FUNCTIONS, CustomFunctions

_CACHE_LIMIT = 20_000
_LEADING_CHILD = frozenset(
    {"index_expression", "projection", "filter_projection", "flatten", "subexpression"}
)

Scope = Mapping[str, Any]
SearchFn = Callable[..., Any]
_Reads = tuple[frozenset[str], frozenset[str], frozenset[str]]  # roots, calls, functions


class ExpressionEvaluationError(MappingError):
    """A compiled expression failed on a record (a function rejected its arguments)."""

    def __init__(self, text: str, reason: str) -> None:
        super().__init__(f"expression {text!r} failed: {reason}")
        self.text = text
        self.reason = reason


class Expression:
    """A compiled expression; ``search(record, scope=None)`` is picked at compile time."""

    __slots__ = ("ast", "calls", "fields", "functions", "kind", "roots", "search", "text")

    def __init__(self, text: str, kind: str, ast: Node, search: SearchFn, reads: _Reads) -> None:
        self.text = text
        # "field", "path", "identity", "literal", "root", "arithmetic" or "jmespath"
        self.kind = kind
        self.ast = ast
        self.search: SearchFn = search
        self.roots, self.calls, self.functions = reads
        #: the top-level record fields the value depends on (None: any part of the record)
        self.fields = record_fields(ast)

    def __repr__(self) -> str:
        return f"Expression({self.text!r}, kind={self.kind!r})"


class _Engine:
    """Per-registry state: the compile cache and two shared interpreters."""

    def __init__(self, registry: CustomFunctions) -> None:
        options = Options(custom_functions=registry)
        self.table: Mapping[str, Any] = registry.FUNCTION_TABLE
        self.visit: SearchFn = Interpreter(options).visit
        self.visit_scoped: SearchFn = ScopedInterpreter(options).visit
        self.cache: dict[str, Expression] = {}
        self.function_reads = registry.function_reads


def compile_expression(text: str, functions: CustomFunctions | None = None) -> Expression:
    """Compile ``text`` once (cached per registry); raise ExpressionSyntaxError when invalid."""
    registry = DEFAULT_FUNCTIONS if functions is None else functions
    engine: _Engine | None = registry.engine
    if engine is None:
        engine = registry.engine = _Engine(registry)
    found = engine.cache.get(text)
    if found is None:
        found = _compile(text, engine)
        if len(engine.cache) >= _CACHE_LIMIT:
            engine.cache.clear()
        engine.cache[text] = found
    return found


def _compile(text: str, engine: _Engine) -> Expression:
    ast, nodes = parse_expression(text, engine.table)
    reads = _reads(nodes, engine.function_reads)
    kind, search = _fast_path(ast)
    if search is None and ast["type"] in ("arithmetic", "negate"):
        kind, search = "arithmetic", _arithmetic_path(text, ast)
    if search is None:
        kind = "jmespath"
        scoped = bool(reads[0])
        search = _general(text, ast, engine.visit_scoped if scoped else engine.visit, scoped)
    return Expression(text, kind, ast, search, reads)


def _reads(nodes: list[Node], function_reads: Mapping[str, tuple[Any, Any]]) -> _Reads:
    """(roots, ``$calls`` names, functions) of the nodes, with what the spec functions they
    call read (their bodies may read ``$calls``, ``$settings``, ``$region``, ``$provider``)."""
    roots = {_ROOT_FIELDS[n["value"]] for n in nodes if _is_root(n)}
    calls = _called_calls(nodes)
    functions = frozenset(n["value"] for n in nodes if n["type"] == "function_expression")
    for name in functions & function_reads.keys():
        roots |= function_reads[name][0]
        calls |= function_reads[name][1]
    return frozenset(roots), frozenset(calls), functions


#: nodes whose first child reads the record and the rest what it gave (elements, for
#: projections and filters: ``@`` there is an element, never the record)
_READ_FROM_LEFT = frozenset(
    {"subexpression", "pipe", "index_expression", "projection", "value_projection",
     "filter_projection", "flatten"}
)  # fmt: skip
_READ_FROM_ALL = frozenset(
    {"arithmetic", "negate", "function_expression", "comparator", "and_expression",
     "or_expression", "not_expression", "multi_select_list", "multi_select_dict",
     "key_val_pair"}
)  # fmt: skip


def record_fields(node: Node) -> frozenset[str] | None:
    """The top-level fields of the record that ``node`` reads when evaluated on it, or None
    when it may read any part (``@`` on the record, ``&expr``: the record as a whole)."""
    kind = node["type"]
    if kind == "field":
        return frozenset() if node["value"] in _ROOT_FIELDS else frozenset({node["value"]})
    if kind in ("literal", "variable"):
        return frozenset()
    children = node["children"]
    if kind in _READ_FROM_LEFT:  # the rest reads what the first child gave
        return record_fields(children[0])
    if kind in _READ_FROM_ALL or kind == "let":
        found: set[str] = set()
        for child in children:
            fields = record_fields(child)
            if fields is None:
                return None
            found |= fields
        return frozenset(found)
    return None


def _is_root(node: Node) -> bool:
    return node["type"] == "field" and node["value"] in _ROOT_FIELDS


def _is_field(node: Node, name: str) -> bool:
    return node["type"] == "field" and node["value"] == name


def _called_calls(nodes: list[Node]) -> set[str]:
    """Names ``x`` read as ``$calls.x``; ``"*"`` when ``$calls`` is used whole."""
    names: set[str] = set()
    whole = sum(1 for node in nodes if _is_field(node, "$calls"))
    for node in nodes:
        if node["type"] == "subexpression":
            for first, second in itertools.pairwise(node["children"]):
                while second["type"] in _LEADING_CHILD:
                    second = second["children"][0]
                if _is_field(first, "$calls") and second["type"] == "field":
                    names.add(second["value"])
                    whole -= 1
    return names | ({"*"} if whole else set())


# -- evaluators -------------------------------------------------------------------------------


def _fast_path(ast: Node) -> tuple[str, SearchFn | None]:
    kind = ast["type"]
    if kind in ("current", "identity"):
        return "identity", _identity
    if kind == "literal":
        return "literal", _constant(ast["value"])
    if kind == "field":
        chain = [ast]
    elif kind == "subexpression" and all(c["type"] == "field" for c in ast["children"]):
        chain = ast["children"]
    else:
        return "jmespath", None
    keys = [node["value"] for node in chain]
    if any(key in _ROOT_FIELDS for key in keys[1:]):
        return "jmespath", None
    root = _ROOT_FIELDS.get(keys[0])
    if root == "item":
        return ("path", _chain(keys[1:])) if keys[1:] else ("identity", _identity)
    if root is not None:
        return "root", _root_chain(root, keys[1:])
    return ("field" if len(keys) == 1 else "path"), _chain(keys)


def _arithmetic_path(text: str, ast: Node) -> SearchFn | None:
    """Operators over fields, paths, roots and literals, without the interpreter."""
    calculate = _calculator(ast)
    if calculate is None:
        return None

    def search(record: Any, scope: Scope | None = None) -> Any:
        try:
            return calculate(record, scope)
        except ValueError as exc:
            raise ExpressionEvaluationError(text, _evaluation_reason(exc)) from None
        except RecursionError:  # deep inside spec functions calling themselves
            raise ExpressionEvaluationError(text, "nested too deeply to evaluate") from None

    return search


def _calculator(node: Node) -> SearchFn | None:
    kind = node["type"]
    if kind == "arithmetic":
        left, right = (_calculator(child) for child in node["children"])
        if left is None or right is None:
            return None
        apply, op = arithmetic.apply, node["value"]
        return lambda r, s=None: apply(op, left(r, s), right(r, s))
    if kind == "negate":
        inner = _calculator(node["children"][0])
        if inner is None:
            return None
        negate = arithmetic.negate
        return lambda r, s=None: negate(inner(r, s))
    return _fast_path(node)[1]


def _identity(record: Any, scope: Scope | None = None) -> Any:
    return record


def _constant(value: Any) -> SearchFn:
    def search(record: Any, scope: Scope | None = None) -> Any:
        return value

    return search


def _chain(keys: list[str]) -> SearchFn:
    """Chained ``.get``: what JMESPath's visit_field does, None once a step has no ``.get``."""
    if len(keys) == 1:
        (key,) = keys

        def search(record: Any, scope: Scope | None = None) -> Any:
            try:
                return record.get(key)
            except AttributeError:
                return None

        return search
    steps = tuple(keys)

    def search_path(record: Any, scope: Scope | None = None) -> Any:
        try:
            for step in steps:
                record = record.get(step)
        except AttributeError:
            return None
        return record

    return search_path


def _root_chain(root: str, keys: list[str]) -> SearchFn:
    rest = _chain(keys) if keys else None

    def search(record: Any, scope: Scope | None = None) -> Any:
        try:
            value = scope.get(root)  # type: ignore[union-attr]
        except AttributeError:
            return None
        return value if rest is None else rest(value)

    return search


def _general(text: str, ast: Node, visit: SearchFn, scoped: bool) -> SearchFn:
    def search(record: Any, scope: Scope | None = None) -> Any:
        token = _CURRENT.set((record, scope)) if scoped else None
        try:
            return visit(ast, record)
        except ValueError as exc:
            raise ExpressionEvaluationError(text, _evaluation_reason(exc)) from None
        except RecursionError:  # spec functions nesting deep bodies: Python's stack ran out
            raise ExpressionEvaluationError(text, "nested too deeply to evaluate") from None
        finally:
            if token is not None:
                _CURRENT.reset(token)

    return search


def _evaluation_reason(exc: ValueError) -> str:
    if isinstance(exc, jp_errors.JMESPathTypeError):
        # leave the offending value itself out of the message
        expected = " or ".join(exc.expected_types)
        return f"{exc.function_name}() expected {expected}, got {exc.actual_type}"
    return " ".join(str(exc).split())
