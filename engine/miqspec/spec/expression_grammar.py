"""miqspec's JMESPath grammar: JMESPath plus numbers, arithmetic and ``let``, strict commas.

Takes: expression text whose ``$`` roots :mod:`miqspec.spec.expression_syntax` has already
quoted (``"$parent"``); any other ``$name`` is a variable.
Gives: ``Lexer`` (JMESPath's tokens plus ``plus``, ``minus``, ``multiply``, ``divide``,
``div_floor``, ``modulo``, ``assign`` and ``variable``; decimal numbers) and ``Parser``
(``Parser().parse(text).parsed`` is the AST). The AST is JMESPath's, plus the nodes
``arithmetic`` (``value``: ``+ - * / // %``; ``children``: left, right; ``at``: offsets of the
left operand, the operator and the right operand), ``negate`` (``children``: the operand;
``at``: offsets of ``-`` and the operand), ``let`` (``value``: the names; ``children``: one
value per name, then the body) and ``variable`` (``value``: the name).
Raises: JMESPath's ``LexerError``, ``ParseError`` and ``IncompleteExpressionError`` (with the
offset into the text), also for a missing comma between function arguments, list items or
object pairs, which JMESPath itself lets pass (``if(a == b c, d)`` reads as
``if(a == b, c, d)``), and for a ``$name`` no ``let`` binds. Does no I/O.

The grammar, on top of JMESPath's:

- a number outside ``[...]`` indexes is a literal: ``3``, ``2.5``, ``-1`` (no exponents);
  ``[0]`` and ``[-1]`` stay indexes of the current value, ``[1, a]`` is a list;
- ``a + b``, ``a - b``, ``a * b``, ``a / b``, ``a // b``, ``a % b`` and ``-a``. ``* / // %``
  bind tighter than ``+ -``; both bind tighter than comparisons (``a + 1 > b``) and looser than
  ``.``, ``[...]`` and calls (``-a.b`` negates ``a.b``); operators of one level group to the left.
  A projection stops at an operator (``a[*].b * 2`` multiplies the projected list). ``*`` is
  multiplication after an operand, a wildcard elsewhere (``a.*``, ``[*]``, ``* | [0]``);
  ``-`` after an operand subtracts (``a - 1``, ``a-1``);
- ``let $x = expr, $y = expr in body`` (JEP-18): each value is evaluated once, in the scope
  outside the ``let`` (``$y``'s value cannot read ``$x``); the body reaches as far right as
  an expression may (``let $x = a in $x | b`` pipes inside the body). Names may not be roots.
"""

from __future__ import annotations

import string
from collections.abc import Iterator
from typing import Any

from jmespath import ast as jp_ast
from jmespath import exceptions as jp_errors
from jmespath import lexer as jp_lexer
from jmespath import parser as jp_parser

Token = dict[str, Any]
Node = dict[str, Any]

#: tokens after which an operator is binary (``a - 1``, ``f(x) * 2``), else unary/wildcard
_OPERAND_END = frozenset(
    {"unquoted_identifier", "quoted_identifier", "literal", "number", "rbracket", "rparen",
     "rbrace", "current", "flatten", "star", "variable"}
)  # fmt: skip
_OPERATORS = {"+": "plus", "-": "minus", "*": "multiply", "%": "modulo"}
_ADDITIVE, _MULTIPLICATIVE, _UNARY = 6, 7, 30
_ARITHMETIC = {
    "plus": ("+", _ADDITIVE),
    "minus": ("-", _ADDITIVE),
    "multiply": ("*", _MULTIPLICATIVE),
    "divide": ("/", _MULTIPLICATIVE),
    "div_floor": ("//", _MULTIPLICATIVE),
    "modulo": ("%", _MULTIPLICATIVE),
}
#: JMESPath's two-character tokens: first char -> (second char, both, the first alone)
_PAIRS = {"|": ("|", "or", "pipe"), "&": ("&", "and", "expref"), "<": ("=", "lte", "lt"),
          ">": ("=", "gte", "gt"), "!": ("=", "ne", "not")}  # fmt: skip
_IDENTIFIER_START = frozenset(string.ascii_letters + "_")
_IDENTIFIER_CHARS = frozenset(string.ascii_letters + string.digits + "_")


class Lexer(jp_lexer.Lexer):
    """JMESPath's lexer plus arithmetic operators, decimal numbers, ``=`` and ``$variables``."""

    def tokenize(self, expression: str) -> Iterator[Token]:
        self._initialize_for_expression(expression)
        previous = ""
        while self._current is not None:
            if self._current in self.WHITESPACE:
                self._next()
                continue
            token = self._own_token(previous) or self._jmespath_token()
            previous = token["type"]
            yield token
        yield {"type": "eof", "value": "", "start": self._length, "end": self._length}

    def _own_token(self, previous: str) -> Token | None:
        """The token at the cursor when it is one of ours, else None (JMESPath's)."""
        char, start = self._current, self._position
        after = previous in _OPERAND_END
        if char in self.VALID_NUMBER or (char == "-" and not after and self._peek_digit()):
            return self._number(start)
        if char in "-+%" or (char == "*" and after):
            self._next()
            return {"type": _OPERATORS[char], "value": char, "start": start, "end": start + 1}
        if char == "/":
            if self._next() == "/":
                self._next()
                return {"type": "div_floor", "value": "//", "start": start, "end": start + 2}
            return {"type": "divide", "value": "/", "start": start, "end": start + 1}
        if char == "=" and self._peek() != "=":
            self._next()
            return {"type": "assign", "value": "=", "start": start, "end": start + 1}
        if char == "$":
            return self._variable(start)
        return None

    def _jmespath_token(self) -> Token:
        """JMESPath's own token at the cursor (its lexer's rules, one token)."""
        char, start = self._current, self._position
        if char in self.SIMPLE_TOKENS:
            self._next()
            return {"type": self.SIMPLE_TOKENS[char], "value": char, "start": start,
                    "end": start + 1}  # fmt: skip
        if char in self.START_IDENTIFIER:
            name = char
            while (self._next() or "") in self.VALID_IDENTIFIER:
                name += self._current
            return {"type": "unquoted_identifier", "value": name, "start": start,
                    "end": start + len(name)}  # fmt: skip
        if char == "[":
            following = self._next()
            if following in ("]", "?"):
                self._next()
                kind = "flatten" if following == "]" else "filter"
                return {"type": kind, "value": "[" + following, "start": start, "end": start + 2}
            return {"type": "lbracket", "value": "[", "start": start, "end": start + 1}
        if char == "'":
            return dict(self._consume_raw_string_literal())
        if char == "`":
            return dict(self._consume_literal())
        if char == '"':
            return dict(self._consume_quoted_identifier())
        if char in _PAIRS:
            return dict(self._match_or_else(*_PAIRS[char]))
        if char == "=":  # "==" (a single "=" is ours)
            self._next()
            self._next()
            return {"type": "eq", "value": "==", "start": start, "end": start + 2}
        raise jp_errors.LexerError(
            lexer_position=start, lexer_value=char, message=f"Unknown token {char}"
        )

    def _peek(self) -> str | None:
        at = self._position + 1
        return self._chars[at] if at < self._length else None

    def _peek_digit(self) -> bool:
        return (self._peek() or "") in self.VALID_NUMBER

    def _number(self, start: int) -> Token:
        text = self._current
        while (self._next() or "") in self.VALID_NUMBER:
            text += self._current
        if self._current == "." and self._peek_digit():
            text += "."
            while (self._next() or "") in self.VALID_NUMBER:
                text += self._current
            return {"type": "literal", "value": float(text), "start": start, "end": self._end()}
        return {"type": "number", "value": int(text), "start": start, "end": self._end()}

    def _end(self) -> int:
        return self._length if self._current is None else self._position

    def _variable(self, start: int) -> Token:
        name = ""
        if (self._next() or "") in _IDENTIFIER_START:
            name = self._current
            while (self._next() or "") in _IDENTIFIER_CHARS:
                name += self._current
        if not name:
            raise jp_errors.LexerError(
                lexer_position=start, lexer_value="$", message="'$' must start a name"
            )
        return {"type": "variable", "value": name, "start": start, "end": start + len(name) + 1}


class Parser(jp_parser.Parser):
    """JMESPath's parser over ``Lexer``: numbers, arithmetic, ``let``, strict commas."""

    BINDING_POWER = {
        **jp_parser.Parser.BINDING_POWER,
        **{kind: power for kind, (_, power) in _ARITHMETIC.items()},
        "variable": 0,
        "assign": 0,
    }
    _CACHE: dict[str, Any] = {}  # not JMESPath's: the same text parses differently here

    def __init__(self) -> None:
        super().__init__()
        self._bound: list[str] = []  # names of the enclosing lets, innermost last
        self._left_start = 0

    def _parse(self, expression: str) -> Any:
        self._tokens = list(Lexer().tokenize(expression))
        self._index = 0
        self._bound = []
        parsed = self._expression(binding_power=0)
        if self._current_token() != "eof":
            token = self._lookahead_token(0)
            self._refuse_assign(token)
            raise jp_errors.ParseError(
                token["start"], token["value"], token["type"], f"Unexpected token: {token['value']}"
            )
        return jp_parser.ParsedResult(expression, parsed)

    def _expression(self, binding_power: int = 0) -> Node:
        """JMESPath's Pratt loop, remembering where the left operand of each ``led`` starts."""
        left_token = self._lookahead_token(0)
        self._advance()
        nud = getattr(self, f"_token_nud_{left_token['type']}", self._error_nud_token)
        left: Any = nud(left_token)
        current = self._current_token()
        while binding_power < self.BINDING_POWER[current]:
            led = getattr(self, f"_token_led_{current}", None)
            if led is None:
                self._error_led_token(self._lookahead_token(0))
            self._advance()
            self._left_start = left_token["start"]
            left = led(left)  # type: ignore[misc]
            current = self._current_token()
        return left

    # -- numbers and arithmetic -----------------------------------------------------------

    def _token_nud_number(self, token: Token) -> Node:
        return jp_ast.literal(token["value"])

    def _token_nud_minus(self, token: Token) -> Node:
        operand_start = self._lookahead_token(0)["start"]
        operand = self._expression(_UNARY)
        if operand["type"] == "literal" and _is_number(operand["value"]):
            return jp_ast.literal(-operand["value"])
        return {"type": "negate", "children": [operand], "at": (token["start"], operand_start)}

    def _arithmetic(self, left: Node) -> Node:
        left_start = self._left_start
        operator = self._lookahead_token(-1)
        symbol, power = _ARITHMETIC[operator["type"]]
        right_start = self._lookahead_token(0)["start"]
        right = self._expression(power)
        return {"type": "arithmetic", "value": symbol, "children": [left, right],
                "at": (left_start, operator["start"], right_start)}  # fmt: skip

    _token_led_plus = _token_led_minus = _token_led_multiply = _arithmetic
    _token_led_divide = _token_led_div_floor = _token_led_modulo = _arithmetic

    def _token_nud_lbracket(self, token: Token) -> Node:
        """``[1]`` is an index of the current value, as in JMESPath; ``[1, a]`` is a list."""
        if self._current_token() == "number" and self._lookahead(1) not in ("rbracket", "colon"):
            return jp_ast.multi_select_list(self._list_items())
        return super()._token_nud_lbracket(token)

    def _list_items(self) -> list[Node]:
        items = [self._expression()]
        while self._current_token() == "comma":
            self._advance()
            items.append(self._expression())
        if self._current_token() != "rbracket":
            self._error_expected("',' or ']'", self._lookahead_token(0))
        self._advance()
        return items

    def _parse_multi_select_list(self) -> Node:
        return jp_ast.multi_select_list(self._list_items())

    # -- strict commas ----------------------------------------------------------------------

    def _token_led_lparen(self, left: Node) -> Node:
        if left["type"] != "field":
            return super()._token_led_lparen(left)
        args = []
        while self._current_token() != "rparen":
            args.append(self._expression())
            if self._current_token() == "comma":
                self._advance()
                if self._current_token() == "rparen":
                    self._error_expected("an argument", self._lookahead_token(0))
            elif self._current_token() != "rparen":
                self._error_expected("',' or ')'", self._lookahead_token(0))
        self._match("rparen")
        return jp_ast.function_expression(left["value"], args)

    def _parse_multi_select_hash(self) -> Node:
        pairs = []
        while True:
            key = self._lookahead_token(0)
            self._match_multiple_tokens(token_types=["quoted_identifier", "unquoted_identifier"])
            self._match("colon")
            pairs.append(jp_ast.key_val_pair(key_name=key["value"], node=self._expression(0)))
            if self._current_token() == "rbrace":
                self._advance()
                return jp_ast.multi_select_dict(nodes=pairs)
            if self._current_token() != "comma":
                self._error_expected("',' or '}'", self._lookahead_token(0))
            self._advance()

    def _error_nud_token(self, token: Token) -> None:
        self._refuse_assign(token)
        super()._error_nud_token(token)

    def _error_led_token(self, token: Token) -> None:
        self._refuse_assign(token)
        super()._error_led_token(token)

    def _refuse_assign(self, token: Token) -> None:
        """A ``=`` outside ``let`` is JMESPath's unknown token (``==`` compares)."""
        if token["type"] == "assign":
            raise jp_errors.LexerError(
                lexer_position=token["start"], lexer_value="=", message="Unknown token '='"
            )

    def _error_expected(self, wanted: str, token: Token) -> None:
        if token["type"] == "eof":
            raise jp_errors.IncompleteExpressionError(token["start"], "", "eof")
        got = "the end" if token["type"] == "eof" else repr(token["value"])
        raise jp_errors.ParseError(
            token["start"], token["value"], token["type"], f"expected {wanted}, got {got}"
        )

    # -- let and variables ------------------------------------------------------------------

    def _token_nud_unquoted_identifier(self, token: Token) -> Node:
        if token["value"] == "let" and self._current_token() in ("variable", "quoted_identifier"):
            return self._let()
        return jp_ast.field(token["value"])

    def _let(self) -> Node:
        names: list[str] = []
        values: list[Node] = []
        while True:
            name = self._lookahead_token(0)
            if name["type"] == "quoted_identifier" and str(name["value"]).startswith("$"):
                raise jp_errors.ParseError(
                    name["start"], name["value"], name["type"],
                    f"let cannot bind {name['value']}, a root; choose another name",
                )  # fmt: skip
            if name["type"] != "variable":
                self._error_expected("a $name", name)
            self._advance()
            self._match("assign")
            values.append(self._expression(0))
            names.append(name["value"])
            if self._current_token() != "comma":
                break
            self._advance()
        word = self._lookahead_token(0)
        if word["type"] != "unquoted_identifier" or word["value"] != "in":
            self._error_expected("',' or 'in'", word)
        self._advance()
        self._bound.extend(names)
        body = self._expression(0)
        del self._bound[len(self._bound) - len(names) :]
        return {"type": "let", "value": names, "children": [*values, body]}

    def _token_nud_variable(self, token: Token) -> Node:
        if token["value"] not in self._bound:
            raise jp_errors.ParseError(
                token["start"], token["value"], "variable", f"unbound ${token['value']}"
            )
        return {"type": "variable", "value": token["value"], "children": []}


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
