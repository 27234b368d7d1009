"""Compile spec JMESPath expressions once; evaluate them fast, with ``$`` roots.

Takes: expression text from a spec and optionally a registry from :mod:`miqspec.functions`.
Gives: ``compile_expression(text) -> Expression`` (cached per text and registry) with ``text``,
``kind`` (the evaluator chosen), ``roots`` (``$`` roots used, without ``$``), ``calls`` (names
read as ``$calls.<name>``), ``functions`` (functions called) and ``search(record, scope=None)``,
which returns exactly what JMESPath returns for ``record``.
Raises: ``ExpressionSyntaxError`` at compile time (syntax, unknown root or function, arity, bad
literal argument) with ``column``, a 0-based offset into the original text;
``ExpressionEvaluationError`` (a MappingError) from ``search`` when a function rejects its input.
Does no I/O.

Fast paths, chosen from the parsed AST: ``name`` and ``a."b-c".d`` read the record with chained
``.get`` (JMESPath's own field semantics), ``@`` is the identity, a literal is a constant,
``$parent.x`` chains on the scope. Everything else runs on one shared JMESPath interpreter.

Roots: ``$name`` (name in ``ROOTS``) may stand wherever an identifier may, also inside filters
and projections: ``join('/', [$parent.name, name])``, ``tags[?key==$settings.tag].value``.
``$item`` is the record itself; the others come from the ``scope`` mapping passed to ``search``
(``{"parent": {...}, "index": 3, "calls": {"list_regions": [...]}}``); a missing one is null.
``$ancestors`` is the list ``[$parent, $parent's parent, ...]`` the parser builds (nested
``each`` levels, then the record, then its fan-out parents).
``$name`` outside string literals is rewritten to the quoted identifier ``"$name"`` before
parsing, so a record key spelled like a root (``"$parent"``) is shadowed; other ``$`` keys such
as ``_id."$oid"`` read the record as usual.
"""

from __future__ import annotations

import difflib
import itertools
import json
import re
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from typing import Any

from jmespath import exceptions as jp_errors
from jmespath.lexer import Lexer
from jmespath.parser import Parser
from jmespath.visitor import Options, TreeInterpreter

from miqspec.errors import MappingError, MiqspecError
from miqspec.functions import DEFAULT_FUNCTIONS, LITERAL_CHECKS, CustomFunctions

ROOTS = frozenset(
    {"item", "parent", "ancestors", "region", "settings", "provider", "calls", "index"}
)
_ROOT_FIELDS: dict[str, str] = {"$" + name: name for name in ROOTS}
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_CACHE_LIMIT = 20_000
_LEADING_CHILD = frozenset(
    {"index_expression", "projection", "filter_projection", "flatten", "subexpression"}
)
_TOKEN_NAMES = {"quoted_identifier": "an identifier", "unquoted_identifier": "an identifier",
                "lbracket": "'['", "lbrace": "'{'", "eof": "the end"}  # fmt: skip
_EXPECTING = re.compile(r"Expecting: \[(.*)\], got: (\w+)")

Scope = Mapping[str, Any]
SearchFn = Callable[..., Any]
Node = dict[str, Any]

#: (record, scope) of the search running in this thread/task, for roots inside projections
_CURRENT: ContextVar[tuple[Any, Scope | None]] = ContextVar("miqspec_expression_scope")


class ExpressionSyntaxError(MiqspecError):
    """An expression that cannot be compiled; ``column`` is 0-based in the user's text."""

    exit_code = 1

    def __init__(self, text: str, column: int, reason: str) -> None:
        super().__init__(f"bad expression {text!r} at column {column}: {reason}")
        self.text = text
        self.column = column
        self.reason = reason


class ExpressionEvaluationError(MappingError):
    """A compiled expression failed on a record (a function rejected its arguments)."""

    def __init__(self, text: str, reason: str) -> None:
        super().__init__(f"expression {text!r} failed: {reason}")
        self.text = text
        self.reason = reason


class Expression:
    """A compiled expression; ``search(record, scope=None)`` is picked at compile time."""

    __slots__ = ("ast", "calls", "functions", "kind", "roots", "search", "text")

    def __init__(
        self, text: str, kind: str, ast: Node, search: SearchFn, nodes: list[Node]
    ) -> None:
        self.text = text
        self.kind = kind  # "field", "path", "identity", "literal", "root" or "jmespath"
        self.ast = ast
        self.search: SearchFn = search
        self.roots = frozenset(_ROOT_FIELDS[n["value"]] for n in nodes if _is_root(n))
        self.calls = frozenset(_called_calls(nodes))
        self.functions = frozenset(n["value"] for n in nodes if n["type"] == "function_expression")

    def __repr__(self) -> str:
        return f"Expression({self.text!r}, kind={self.kind!r})"


class _ScopedInterpreter(TreeInterpreter):
    """JMESPath's interpreter, except that root fields (``"$parent"``) read the scope."""

    def visit_field(self, node: Node, value: Any) -> Any:
        name = node["value"]
        root = _ROOT_FIELDS.get(name)
        if root is None:
            try:
                return value.get(name)
            except AttributeError:
                return None
        record, scope = _CURRENT.get((None, None))
        if root == "item":
            return record
        return None if scope is None else scope.get(root)


class _Engine:
    """Per-registry state: the compile cache and two shared interpreters."""

    def __init__(self, registry: CustomFunctions) -> None:
        options = Options(custom_functions=registry)
        self.table: Mapping[str, Any] = registry.FUNCTION_TABLE
        self.visit: SearchFn = TreeInterpreter(options).visit
        self.visit_scoped: SearchFn = _ScopedInterpreter(options).visit
        self.cache: dict[str, Expression] = {}


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
    rewritten, origin = _rewrite_roots(text)
    try:
        ast: Node = Parser().parse(rewritten).parsed
    except jp_errors.EmptyExpressionError:
        raise ExpressionSyntaxError(text, 0, "empty expression") from None
    except jp_errors.LexerError as exc:
        column = origin[min(exc.lexer_position, len(rewritten))]
        raise ExpressionSyntaxError(text, column, exc.message) from None
    except jp_errors.IncompleteExpressionError:
        raise ExpressionSyntaxError(text, len(text), "incomplete expression") from None
    except jp_errors.ParseError as exc:
        column = origin[min(exc.lex_position, len(rewritten))]
        raise ExpressionSyntaxError(text, column, _parse_reason(exc)) from None
    nodes = list(_walk(ast))
    _check_functions(text, rewritten, origin, nodes, engine.table)
    kind, search = _fast_path(ast)
    if search is None:
        scoped = any(_is_root(node) for node in nodes)
        search = _general(text, ast, engine.visit_scoped if scoped else engine.visit, scoped)
    return Expression(text, kind, ast, search, nodes)


# -- rewriting $roots ---------------------------------------------------------------------------


def _rewrite_roots(text: str) -> tuple[str, list[int]]:
    """``text`` with ``$name`` quoted, and for each rewritten offset its offset in ``text``."""
    parts: list[str] = []
    origin: list[int] = []
    index, length = 0, len(text)
    while index < length:
        char = text[index]
        if char in "'\"`":
            end, closed = _delimited_end(text, index)
            if char == "`" and closed:
                _check_json_literal(text, index, end)
            parts.append(text[index:end])
            origin.extend(range(index, end))
            index = end
        elif char == "$":
            match = _IDENTIFIER.match(text, index + 1)
            if match is None or match.group() not in ROOTS:
                raise ExpressionSyntaxError(text, index, _root_problem(match))
            parts.append(f'"${match.group()}"')
            origin.extend([index, *range(index, match.end()), match.end()])
            index = match.end()
        else:
            parts.append(char)
            origin.append(index)
            index += 1
    origin.append(length)
    return "".join(parts), origin


def _root_problem(match: re.Match[str] | None) -> str:
    known = ", ".join("$" + name for name in sorted(ROOTS))
    if match is None:
        return f"'$' must start a root ({known}); use @ for the current value"
    return f"unknown root ${match.group()}; known roots: {known}"


def _delimited_end(text: str, start: int) -> tuple[int, bool]:
    """Offset after the literal opened at ``start`` (backslash escapes, as JMESPath's lexer)."""
    quote, index = text[start], start + 1
    while index < len(text):
        if text[index] == "\\":
            index += 2
            continue
        if text[index] == quote:
            return index + 1, True
        index += 1
    return len(text), False


def _check_json_literal(text: str, start: int, end: int) -> None:
    try:
        json.loads(text[start + 1 : end - 1].replace("\\`", "`"))
    except ValueError:
        reason = "a `literal` must be JSON; write strings as 'text' or `\"text\"`"
        raise ExpressionSyntaxError(text, start, reason) from None


def _parse_reason(exc: jp_errors.ParseError) -> str:
    message = str(exc.msg)
    expecting = _EXPECTING.match(message)
    if expecting is not None:
        wanted = [_TOKEN_NAMES.get(kind.strip("' "), kind) for kind in expecting[1].split(",")]
        got = _TOKEN_NAMES.get(expecting[2], repr(exc.token_value))
        return f"expected {' or '.join(dict.fromkeys(wanted))}, got {got}"
    if message in ("invalid token", "Invalid jmespath expression"):
        return f"unexpected {exc.token_value!r}"
    return message[:1].lower() + message[1:]


# -- checks ------------------------------------------------------------------------------------


def _walk(ast: Node) -> Iterator[Node]:
    stack = [ast]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(child for child in node.get("children", ()) if isinstance(child, dict))


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


def _check_functions(
    text: str, rewritten: str, origin: list[int], nodes: list[Node], table: Mapping[str, Any]
) -> None:
    """Unknown functions, wrong arity and bad literal arguments, reported at the first column."""
    problems: list[tuple[int, str]] = []
    sites: list[tuple[str, int, list[int]]] | None = None
    for node in nodes:
        if node["type"] == "function_expression":
            found = _function_problem(node, table)
            if found is not None:
                argument, reason = found
                sites = sites if sites is not None else _call_sites(rewritten)
                problems.append((origin[_site(sites, node, argument)], reason))
    if problems:
        column, reason = min(problems)
        raise ExpressionSyntaxError(text, column, reason)


def _function_problem(node: Node, table: Mapping[str, Any]) -> tuple[int | None, str] | None:
    """(argument index or None for the name, reason) of the first problem of a call."""
    name, args = node["value"], node["children"]
    entry = table.get(name)
    if entry is None:
        close = difflib.get_close_matches(name, list(table), n=1)
        return None, f"unknown function {name}()" + (
            f"; did you mean {close[0]}()?" if close else ""
        )
    signature = entry["signature"]
    variadic = bool(signature) and signature[-1].get("variadic", False)
    if len(args) < len(signature) or (len(args) > len(signature) and not variadic):
        least = "at least " if variadic else ""
        plural = "" if len(signature) == 1 else "s"
        return None, f"{name}() takes {least}{len(signature)} argument{plural}, got {len(args)}"
    for position, check in LITERAL_CHECKS.get(name, {}).items():
        if position < len(args) and args[position]["type"] == "literal":
            reason = check(args[position]["value"])
            if reason is not None:
                return position, f"{name}(): {reason}"
    return None


def _call_sites(rewritten: str) -> list[tuple[str, int, list[int]]]:
    """(name, offset, offsets of the arguments) of each ``name(`` in the token stream."""
    tokens = list(Lexer().tokenize(rewritten))
    sites = []
    for index, token in enumerate(tokens[:-1]):
        if token["type"] == "unquoted_identifier" and tokens[index + 1]["type"] == "lparen":
            sites.append((token["value"], token["start"], _argument_starts(tokens, index + 2)))
    return sites


def _argument_starts(tokens: list[dict[str, Any]], index: int) -> list[int]:
    depth, starts, expect = 0, [], True
    for token in tokens[index:]:
        kind = token["type"]
        if depth == 0 and kind in ("rparen", "eof"):
            break
        if expect:
            starts.append(token["start"])
            expect = False
        if kind in ("lparen", "lbracket", "filter", "lbrace"):
            depth += 1
        elif kind in ("rparen", "rbracket", "rbrace"):
            depth -= 1
        elif kind == "comma" and depth == 0:
            expect = True
    return starts


def _site(sites: list[tuple[str, int, list[int]]], node: Node, argument: int | None) -> int:
    """Offset of the call (or of one argument) in the text; calls matched by name and arity."""
    named = [site for site in sites if site[0] == node["value"]]
    exact = [site for site in named if len(site[2]) == len(node["children"])]
    if not (exact or named):
        return 0
    _, start, arguments = (exact or named)[0]
    return arguments[argument] if argument is not None and argument < len(arguments) else start


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
