"""Functions a spec declares in JMESPath (its ``functions:`` section), as a function registry.

Takes: a spec's ``functions:`` mapping (name -> ``{"params": [...], "expr": "<jmespath>"}``)
and optionally a base registry (default: ``functions.registry.DEFAULT_FUNCTIONS``).
Gives: ``define_spec_functions`` (a ``CustomFunctions`` registry with the base's functions
plus the spec's, their bodies compiled once by :mod:`miqspec.spec.expressions`).
Raises: ``FunctionDefinitionError`` for a bad definition: a name that is no identifier or is
taken, a missing ``expr``, bad ``params``, a body that does not compile (with its column) or
reads a root of the record (``$item``, ``$parent``, ``$ancestors``, ``$index``), functions that
call each other in a cycle. At search time a call raises ``FunctionError`` (a ValueError: the
expression layer makes it a ``MappingError``) when more than ``MAX_DEPTH`` calls of spec
functions are open at once (a recursion that does not end). No I/O.

A function may call itself (a parent chain: ``if(p, concat([p.name], chain(...)), `[]`)``;
``if`` evaluates only the branch it takes); two or more functions calling each other in a
cycle are refused. A body may read the roots that do not depend on the record (``$calls``,
``$settings``, ``$region``, ``$provider``, ...): it sees those of the expression calling it,
and a call of the function counts as reading them (``Expression.roots`` and ``.calls``), so
the validator and the record carry see them where the function is used.

It sits above both ``functions`` (the registry) and ``expressions`` (which compiles against a
registry), so neither imports the other back.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from typing import Any

from miqspec.errors import MiqspecError
from miqspec.spec.expression_interpreter import current_scope
from miqspec.spec.expression_syntax import ROOTS, ExpressionSyntaxError
from miqspec.spec.expressions import compile_expression
from miqspec.spec.functions.args import ANY, FunctionError
from miqspec.spec.functions.registry import DEFAULT_FUNCTIONS, CustomFunctions

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
MAX_DEPTH = 32  # spec function calls open at once (a recursion deeper than this fails)
#: roots of the record: a body gets those through its parameters
RECORD_ROOTS = frozenset({"item", "parent", "ancestors", "index", "target"})
BODY_ROOTS = ROOTS - RECORD_ROOTS
_DEPTH: ContextVar[int] = ContextVar("miqspec_spec_function_depth", default=0)


class FunctionDefinitionError(MiqspecError):
    """A spec-declared function is invalid: name clash, recursion, bad params or body."""

    exit_code = 1

    def __init__(self, name: str, reason: str, column: int | None = None) -> None:
        super().__init__(f"function {name}: {reason}")
        self.function = name
        self.reason = reason
        self.column = column


def define_spec_functions(
    definitions: Mapping[str, Mapping[str, Any]], base: CustomFunctions | None = None
) -> CustomFunctions:
    """A registry with ``base``'s functions plus functions written in JMESPath by the spec.

    Each definition is ``{"params": ["a", "b"], "expr": "<jmespath over {a, b}>"}``; a call
    evaluates ``expr`` against an object of the arguments named by ``params``. Bodies may call
    other spec functions and themselves (not in a cycle of several), and read the roots of
    ``BODY_ROOTS``.
    """
    base = DEFAULT_FUNCTIONS if base is None else base
    registry = CustomFunctions()
    table = dict(base.FUNCTION_TABLE)
    params_of: dict[str, tuple[str, ...]] = {}
    for name, definition in definitions.items():
        params_of[name] = _check_definition(name, definition, table)
        table[name] = {"function": None, "signature": tuple(ANY for _ in params_of[name])}
    registry.FUNCTION_TABLE = table
    calls: dict[str, set[str]] = {}
    reads: dict[str, tuple[frozenset[str], frozenset[str]]] = {}
    for name, params in params_of.items():
        try:
            body = compile_expression(definitions[name]["expr"], registry)
        except ExpressionSyntaxError as exc:
            raise FunctionDefinitionError(name, exc.reason, exc.column) from None
        if body.roots & RECORD_ROOTS:
            shown = ", ".join("$" + r for r in sorted(body.roots & RECORD_ROOTS))
            raise FunctionDefinitionError(
                name, f"a function body cannot use {shown} (pass it as a parameter)"
            )
        calls[name] = set(body.functions) & set(params_of)
        reads[name] = (body.roots, body.calls)
        table[name]["function"] = _spec_function(name, body.search, params)
    _reject_recursion(calls)
    registry.function_reads.update(_closure(reads, calls))
    if registry.engine is not None:  # bodies compiled before their callees' reads were known
        registry.engine.cache.clear()
    return registry


def _check_definition(
    name: str, definition: Mapping[str, Any], table: Mapping[str, Any]
) -> tuple[str, ...]:
    if not isinstance(name, str) or not _NAME.match(name):
        raise FunctionDefinitionError(str(name), "the name must be an identifier")
    if name in table:
        raise FunctionDefinitionError(name, "the name is taken by an existing function")
    if not isinstance(definition, Mapping) or not isinstance(definition.get("expr"), str):
        raise FunctionDefinitionError(name, "needs 'expr', a JMESPath expression")
    params = definition.get("params", [])
    if not isinstance(params, list) or not all(
        isinstance(p, str) and _NAME.match(p) for p in params
    ):
        raise FunctionDefinitionError(name, "'params' must be a list of identifiers")
    if len(set(params)) != len(params):
        raise FunctionDefinitionError(name, "'params' has a repeated name")
    return tuple(params)


def _spec_function(
    name: str, search: Callable[..., Any], params: tuple[str, ...]
) -> Callable[..., Any]:
    def call(_registry: CustomFunctions, *args: Any) -> Any:
        depth = _DEPTH.get() + 1
        if depth > MAX_DEPTH:
            raise FunctionError(
                f"{name}(): more than {MAX_DEPTH} spec function calls open at once "
                "(a recursion that does not end?)"
            )
        token = _DEPTH.set(depth)
        try:
            return search(dict(zip(params, args, strict=True)), current_scope())
        finally:
            _DEPTH.reset(token)

    return call


def _closure(
    reads: Mapping[str, tuple[frozenset[str], frozenset[str]]], calls: Mapping[str, set[str]]
) -> dict[str, tuple[frozenset[str], frozenset[str]]]:
    """Each function's reads with those of every function it calls, directly or not."""
    out: dict[str, tuple[frozenset[str], frozenset[str]]] = {}
    for name in reads:
        seen, stack = {name}, [name]
        while stack:
            for callee in calls[stack.pop()] - seen:
                seen.add(callee)
                stack.append(callee)
        roots = frozenset().union(*(reads[n][0] for n in seen))
        names = frozenset().union(*(reads[n][1] for n in seen))
        if roots or names:
            out[name] = (roots, names)
    return out


def _reject_recursion(calls: Mapping[str, set[str]]) -> None:
    """Refuse functions calling each other in a cycle (a function calling itself is bounded
    by ``MAX_DEPTH`` at search time)."""
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> None:
        if name in path:
            cycle = [*path[path.index(name) :], name]
            raise FunctionDefinitionError(
                cycle[0],
                "recursion: " + " -> ".join(cycle) + " (only a function calling itself "
                "may recurse)",
            )
        if name in done:
            return
        for callee in sorted(calls[name] - {name}):
            visit(callee, [*path, name])
        done.add(name)

    for name in sorted(calls):
        visit(name, [])
