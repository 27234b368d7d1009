"""The custom JMESPath function registry a spec's expressions call, and spec-declared functions.

Takes: the function families (``text``, ``convert``,
:mod:`miqspec.spec.functions.collections`) and a spec's ``functions:`` mapping (name ->
``{"params": [...], "expr": "<jmespath>"}``) in ``define_spec_functions``.
Gives: ``CustomFunctions`` (JMESPath's built-ins plus ours; one instance is one registry),
``DEFAULT_FUNCTIONS``, ``FUNCTION_DOCS`` (one line per custom function), ``BUILTIN_FUNCTIONS``,
``function_names()`` (what the schema allows) and ``LITERAL_CHECKS`` (the families' compile-time
checks of literal arguments, used by the expression layer). ``find_by`` memoises its indexes
inside :func:`miqspec.spec.functions.data.find_by_indexes` (the parser runs inside one).
Raises: ``FunctionError`` (from :mod:`miqspec.spec.functions.args`; a ValueError, made a
MappingError by the expression layer) for unusable input at search time;
``FunctionDefinitionError`` for a bad spec function. No I/O.

Conventions: string functions return null for a null subject instead of failing, so a missing
attribute maps to a NULL column; numeric and date conversions return null for unparseable input.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from jmespath import functions as jp_functions

from miqspec.errors import MiqspecError
from miqspec.spec.functions import collections as functions_collections
from miqspec.spec.functions import convert as functions_convert
from miqspec.spec.functions import text as functions_text
from miqspec.spec.functions.args import ANY

BUILTIN_FUNCTIONS: frozenset[str] = frozenset(jp_functions.Functions.FUNCTION_TABLE)


class FunctionDefinitionError(MiqspecError):
    """A spec-declared function is invalid: name clash, recursion, bad params or body."""

    exit_code = 1

    def __init__(self, name: str, reason: str, column: int | None = None) -> None:
        super().__init__(f"function {name}: {reason}")
        self.function = name
        self.reason = reason
        self.column = column


class CustomFunctions(jp_functions.Functions):
    """JMESPath's built-in functions plus miqspec's; one instance is one function registry."""

    def __init__(self) -> None:
        #: per-registry compiler state, owned by :mod:`miqspec.spec.expressions`
        self.engine: Any = None

    # strings and text (miqspec.spec.functions.text)
    _func_lower = functions_text.func_lower
    _func_upper = functions_text.func_upper
    _func_split = functions_text.func_split
    _func_replace = functions_text.func_replace
    _func_regex_replace = functions_text.func_regex_replace
    _func_regex_match = functions_text.func_regex_match
    _func_regex_extract = functions_text.func_regex_extract
    _func_basename = functions_text.func_basename
    _func_dirname = functions_text.func_dirname
    _func_last_segment = functions_text.func_last_segment
    _func_eq_ignore_case = functions_text.func_eq_ignore_case
    _func_truncate_bytes = functions_text.func_truncate_bytes

    # conversions: byte units, integers, booleans, dates (miqspec.spec.functions.convert)
    _func_to_bytes = functions_convert.func_to_bytes
    _func_from_bytes = functions_convert.func_from_bytes
    _func_to_int = functions_convert.func_to_int
    _func_to_bool = functions_convert.func_to_bool
    _func_to_iso8601 = functions_convert.func_to_iso8601

    # values, objects and arrays, JSON/YAML text (miqspec.spec.functions.collections)
    _func_concat = functions_collections.func_concat
    _func_coalesce = functions_collections.func_coalesce
    _func_get = functions_collections.func_get
    _func_items = functions_collections.func_items
    _func_from_items = functions_collections.func_from_items
    _func_index_of = functions_collections.func_index_of
    _func_uniq = functions_collections.func_uniq
    _func_flatten = functions_collections.func_flatten
    _func_json_parse = functions_collections.func_json_parse
    _func_json_dump = functions_collections.func_json_dump
    _func_if = functions_collections.func_if
    _func_find_by = functions_collections.func_find_by
    _func_find_by_ignore_case = functions_collections.func_find_by_ignore_case
    _func_yaml_parse = functions_collections.func_yaml_parse


#: function name -> argument index -> check of a literal argument (returns a reason or None)
LITERAL_CHECKS: dict[str, dict[int, Callable[[Any], str | None]]] = {
    **functions_text.TEXT_CHECKS,
    **functions_convert.CONVERT_CHECKS,
    **functions_collections.COLLECTION_CHECKS,
}

DEFAULT_FUNCTIONS = CustomFunctions()
#: custom function name -> one line "name(args): what it gives", for the spec reference
FUNCTION_DOCS: dict[str, str] = {
    name[6:]: str(method.__doc__)
    for name, method in vars(CustomFunctions).items()
    if name.startswith("_func_")
}

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def function_names(registry: CustomFunctions | None = None) -> set[str]:
    """Every function name an expression may call with ``registry`` (default: the shared one)."""
    return set((DEFAULT_FUNCTIONS if registry is None else registry).FUNCTION_TABLE)


def define_spec_functions(
    definitions: Mapping[str, Mapping[str, Any]], base: CustomFunctions | None = None
) -> CustomFunctions:
    """A registry with ``base``'s functions plus functions written in JMESPath by the spec.

    Each definition is ``{"params": ["a", "b"], "expr": "<jmespath over {a, b}>"}``; a call
    evaluates ``expr`` against an object of the arguments named by ``params``. Bodies may call
    other spec functions but not recursively, and may not use ``$`` roots.
    """
    from miqspec.spec.expression_syntax import ExpressionSyntaxError
    from miqspec.spec.expressions import compile_expression

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
