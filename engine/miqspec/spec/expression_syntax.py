"""Parse and check spec JMESPath text: ``$`` roots, syntax, functions, with a caret column.

Takes: expression text from a spec and the function table of a registry from
:mod:`miqspec.spec.functions.registry`.
Gives: ``parse_expression(text, table) -> (ast, nodes)``, the AST of miqspec's grammar
(:mod:`miqspec.spec.expression_grammar`: JMESPath plus numbers, arithmetic and ``let``;
``$name`` roots as the fields ``"$name"``) and every node in it; ``ROOTS``, the root names.
Raises: ``ExpressionSyntaxError`` (syntax, a missing comma, unknown root or function, arity,
bad literal argument, an arithmetic operand that surely is no number) with ``column``, a
0-based offset into the original text. Does no I/O.

``$name`` (name in ``ROOTS``) outside string literals is rewritten to the quoted identifier
``"$name"`` before parsing, so a record key spelled like a root (``"$parent"``) is shadowed;
other ``$`` keys such as ``_id."$oid"`` read the record as usual. Offsets in the rewritten text
map back to the user's text, so errors point at the user's column.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

from jmespath import exceptions as jp_errors

from miqspec.errors import MiqspecError
from miqspec.spec.expression_grammar import Lexer, Parser
from miqspec.spec.functions.arithmetic import static_kind
from miqspec.spec.functions.registry import LITERAL_CHECKS

ROOTS = frozenset(
    {"item", "parent", "ancestors", "region", "settings", "provider", "calls", "index", "login",
     "target"}  # $target: a targeted refresh's object, in its target calls' records
)  # fmt: skip
MAX_DEPTH = 100  # AST levels (an operator, a call, a bracket each add one)
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_TOKEN_NAMES = {"quoted_identifier": "an identifier", "unquoted_identifier": "an identifier",
                "lbracket": "'['", "lbrace": "'{'", "eof": "the end"}  # fmt: skip
_EXPECTING = re.compile(r"Expecting: \[(.*)\], got: (\w+)")

Node = dict[str, Any]


class ExpressionSyntaxError(MiqspecError):
    """An expression that cannot be compiled; ``column`` is 0-based in the user's text."""

    exit_code = 1

    def __init__(self, text: str, column: int, reason: str) -> None:
        super().__init__(f"bad expression {text!r} at column {column}: {reason}")
        self.text = text
        self.column = column
        self.reason = reason


def parse_expression(text: str, table: Mapping[str, Any]) -> tuple[Node, list[Node]]:
    """The AST of ``text`` and all its nodes; raise ExpressionSyntaxError when invalid."""
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
    except ValueError:  # int() of a number of more than 4,300 digits, in the lexer
        long = re.search(r"\d{100,}", text)
        raise ExpressionSyntaxError(
            text, long.start() if long else 0, "number with too many digits"
        ) from None
    except RecursionError:
        raise ExpressionSyntaxError(text, 0, "expression nested too deeply") from None
    nodes = list(_walk(ast))
    if _depth(ast) > MAX_DEPTH:  # evaluating it would exhaust Python's stack
        raise ExpressionSyntaxError(
            text, 0, f"expression nested too deeply (more than {MAX_DEPTH} levels)"
        )
    _check_functions(text, rewritten, origin, nodes, table)
    _check_operands(text, origin, ast)
    return ast, nodes


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
            if match is None:
                raise ExpressionSyntaxError(text, index, _root_problem(match))
            if match.group() not in ROOTS:  # a let variable, or unbound: the parser says
                parts.append(text[index : match.end()])
                origin.extend(range(index, match.end()))
                index = match.end()
                continue
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
    if message.startswith("unbound $"):
        return _root_problem(_IDENTIFIER.match(message, len("unbound $")))
    expecting = _EXPECTING.match(message)
    if expecting is not None:
        wanted = [_TOKEN_NAMES.get(kind.strip("' "), kind) for kind in expecting[1].split(",")]
        got = _TOKEN_NAMES.get(expecting[2], repr(exc.token_value))
        return f"expected {' or '.join(dict.fromkeys(wanted))}, got {got}"
    if message in ("invalid token", "Invalid jmespath expression"):
        return f"unexpected {exc.token_value!r}"
    return message[:1].lower() + message[1:]


# -- checks ------------------------------------------------------------------------------------


def _depth(ast: Node) -> int:
    """How many levels the AST has (``a + b + c`` has three: left operands nest)."""
    deepest, stack = 0, [(ast, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend(
            (child, depth + 1) for child in node.get("children", ()) if isinstance(child, dict)
        )
    return deepest


def _walk(ast: Node) -> Iterator[Node]:
    stack = [ast]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(child for child in node.get("children", ()) if isinstance(child, dict))


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
    most = signature[-1].get("most") if variadic else None  # optional trailing arguments
    if most is not None and not len(signature) <= len(args) <= most:
        return None, f"{name}() takes {len(signature)} to {most} arguments, got {len(args)}"
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


def _check_operands(text: str, origin: list[int], ast: Node) -> None:
    """An arithmetic operand that surely is no number (a string literal, a comparison, a
    call of ``lower``, a ``let`` name bound to one...), reported at the operand."""
    problems: list[tuple[int, str]] = []

    def visit(node: Node, names: Mapping[str, str | None]) -> None:
        kind = node["type"]
        if kind == "let":
            *values, body = node["children"]
            for value in values:
                visit(value, names)
            bound = {n: _kind(v, names) for n, v in zip(node["value"], values, strict=True)}
            visit(body, {**names, **bound})
            return
        if kind in ("arithmetic", "negate"):
            starts = node["at"][::2] if kind == "arithmetic" else node["at"][1:]
            for operand, start in zip(node["children"], starts, strict=True):
                found = _kind(operand, names)
                if found not in (None, "number", "null"):
                    article = "an" if found[0] in "aeiou" else "a"
                    symbol = node.get("value", "-")
                    reason = f"{symbol!r} needs numbers; this operand is {article} {found}"
                    problems.append((origin[min(start, len(origin) - 1)], reason))
        for child in node.get("children", ()):
            if isinstance(child, dict):
                visit(child, names)

    visit(ast, {})
    if problems:
        column, reason = min(problems)
        raise ExpressionSyntaxError(text, column, reason)


def _kind(node: Node, names: Mapping[str, str | None]) -> str | None:
    """``static_kind`` of ``node``, knowing what the enclosing ``let`` names hold."""
    if node["type"] == "variable":
        return names.get(node["value"])
    if node["type"] == "field" and node["value"] == "$index":
        return "number"
    return static_kind(node)


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
