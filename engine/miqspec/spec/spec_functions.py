"""Functions a spec declares in JMESPath (its ``functions:`` section), as a function registry.

Takes: a spec's ``functions:`` mapping (name -> ``{"params": [...], "expr": "<jmespath>"}``)
and optionally a base registry (default: ``functions.registry.DEFAULT_FUNCTIONS``).
Gives: ``define_spec_functions`` (a ``CustomFunctions`` registry with the base's functions
plus the spec's, their bodies compiled once by :mod:`miqspec.spec.expressions`).
Raises: ``FunctionDefinitionError`` for a bad definition: a name that is no identifier or is
taken, a missing ``expr``, bad ``params``, a body that does not compile (with its column) or
uses ``$`` roots, recursion. No I/O.

It sits above both ``functions`` (the registry) and ``expressions`` (which compiles against a
registry), so neither imports the other back.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from miqspec.errors import MiqspecError
from miqspec.spec.expression_syntax import ExpressionSyntaxError
from miqspec.spec.expressions import compile_expression
from miqspec.spec.functions.args import ANY
from miqspec.spec.functions.registry import DEFAULT_FUNCTIONS, CustomFunctions

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


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
    other spec functions but not recursively, and may not use ``$`` roots.
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
    for name, params in params_of.items():
        try:
            body = compile_expression(definitions[name]["expr"], registry)
        except ExpressionSyntaxError as exc:
            raise FunctionDefinitionError(name, exc.reason, exc.column) from None
        if body.roots:
            raise FunctionDefinitionError(name, "a function body cannot use $ roots")
        calls[name] = set(body.functions) & set(params_of)
        table[name]["function"] = _spec_function(body.search, params)
    _reject_recursion(calls)
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


def _spec_function(search: Callable[..., Any], params: tuple[str, ...]) -> Callable[..., Any]:
    def call(_registry: CustomFunctions, *args: Any) -> Any:
        return search(dict(zip(params, args, strict=True)))

    return call


def _reject_recursion(calls: Mapping[str, set[str]]) -> None:
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> None:
        if name in path:
            cycle = [*path[path.index(name) :], name]
            raise FunctionDefinitionError(cycle[0], "recursion: " + " -> ".join(cycle))
        if name in done:
            return
        for callee in sorted(calls[name]):
            visit(callee, [*path, name])
        done.add(name)

    for name in sorted(calls):
        visit(name, [])
