"""Arithmetic of spec expressions: what ``+ - * / // %``, unary ``-`` and ``round`` give.

Takes: JSON values (the operands an expression computed) and, for the validator, what is
known of an operand's type before any data is read.
Gives: ``apply(op, left, right)``, ``negate(value)``, ``round_half_up(value, digits)`` and
``static_kind(node)`` (the JSON type an AST node surely gives: ``"string"``, ``"boolean"``,
``"array"``, ``"object"``, ``"number"``, or None when it depends on the data).
Raises: ``ArithmeticProblem`` (a ``FunctionError``, so a ValueError: the expression layer makes
it a ``MappingError`` naming the expression) for an operand that is not a number, a result that
is not finite, or an integer result of more than ``MAX_BITS`` bits. No I/O.

Semantics (documented in docs/spec-reference.md, "arithmetic"):

- null on either side gives null, and so does a division (``/``, ``//``, ``%``) by zero;
- a string, boolean, array or object operand is an error (``'5' + 1`` does not convert);
- ``/`` divides exactly: two integers that divide evenly give an integer (``2048 / 1024`` is
  ``2``), anything else a float (``3 / 2`` is ``1.5``); ``//`` is the floor of the quotient
  as an integer (``-7 // 2`` is ``-4``); ``%`` is the remainder with the divisor's sign,
  as Ruby's ``%`` (``-7 % 3`` is ``2``);
- ``round`` rounds halves away from zero, as Ruby's ``round`` (``round(2.5)`` is ``3``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation, localcontext
from typing import Any

from miqspec.spec.functions.args import FunctionError

MAX_BITS = 4096  # as the template sandbox's integer bound
MAX_DIGITS = 100  # round(x, n): |n| at most this

#: functions whose result is always of one JSON type (or null), for ``static_kind``
_RESULT_KINDS: dict[str, str] = {
    **dict.fromkeys(
        ("lower", "upper", "join", "to_string", "replace", "regex_replace", "basename",
         "dirname", "last_segment", "to_iso8601", "json_dump", "type", "truncate_bytes",
         "sha256", "md5", "base64_encode", "base64_decode"),
        "string",
    ),
    **dict.fromkeys(
        ("contains", "starts_with", "ends_with", "regex_match", "eq_ignore_case", "to_bool"),
        "boolean",
    ),
    **dict.fromkeys(
        ("keys", "values", "sort", "sort_by", "split", "items", "uniq", "flatten", "map",
         "to_array", "regex_groups"),
        "array",
    ),
    **dict.fromkeys(("merge", "from_items", "regex_named_groups"), "object"),
    **dict.fromkeys(
        ("length", "abs", "ceil", "floor", "round", "sum", "avg", "to_number", "to_int",
         "to_bytes", "from_bytes", "index_of"),
        "number",
    ),
}  # fmt: skip
_NODE_KINDS = {
    "comparator": "boolean",
    "not_expression": "boolean",
    "multi_select_list": "array",
    "projection": "array",
    "value_projection": "array",
    "filter_projection": "array",
    "flatten": "array",
    "multi_select_dict": "object",
    "arithmetic": "number",
    "negate": "number",
}


class ArithmeticProblem(FunctionError):
    """An operator got a value it cannot compute with, or its result is out of bounds."""


def kind_of(value: Any) -> str:
    """The JSON type name of ``value``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def static_kind(node: dict[str, Any]) -> str | None:
    """The JSON type ``node`` gives on any data (null aside), or None when the data decides."""
    kind = node["type"]
    if kind == "literal":
        return kind_of(node["value"])
    if kind == "function_expression":
        return _RESULT_KINDS.get(node["value"])
    return _NODE_KINDS.get(kind)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _checked(op: str, result: Any) -> Any:
    if isinstance(result, float) and not math.isfinite(result):
        raise ArithmeticProblem(f"{op!r} gave a result that is not a finite number")
    if isinstance(result, int) and result.bit_length() > MAX_BITS:
        raise ArithmeticProblem(f"{op!r} gave an integer of more than {MAX_BITS} bits")
    return result


def _add(left: Any, right: Any) -> Any:
    return _checked("+", left + right)


def _subtract(left: Any, right: Any) -> Any:
    return _checked("-", left - right)


def _multiply(left: Any, right: Any) -> Any:
    return _checked("*", left * right)


def _divide(left: Any, right: Any) -> Any:
    if right == 0:
        return None
    if type(left) is int and type(right) is int and left % right == 0:
        return left // right
    return _checked("/", left / right)


def _floor_divide(left: Any, right: Any) -> Any:
    return None if right == 0 else _checked("//", int(_checked("//", left // right)))


def _modulo(left: Any, right: Any) -> Any:
    return None if right == 0 else _checked("%", left % right)


_OPERATIONS: dict[str, Callable[[Any, Any], Any]] = {
    "+": _add, "-": _subtract, "*": _multiply, "/": _divide, "//": _floor_divide, "%": _modulo,
}  # fmt: skip
_NUMBERS = (int, float)


def apply(op: str, left: Any, right: Any) -> Any:
    """``left op right`` with the semantics of the module docstring."""
    if left is None or right is None:
        return None
    plain = type(left) in _NUMBERS and type(right) in _NUMBERS  # the common case, first
    if not plain and not (_number(left) and _number(right)):
        raise ArithmeticProblem(f"{op!r} needs numbers, got {kind_of(left)} {op} {kind_of(right)}")
    try:
        return _OPERATIONS[op](left, right)
    except OverflowError:
        raise ArithmeticProblem(f"{op!r} gave a result that is not a finite number") from None


def negate(value: Any) -> Any:
    """``-value``; null gives null."""
    if value is None:
        return None
    if not _number(value):
        raise ArithmeticProblem(f"'-' needs a number, got {kind_of(value)}")
    return -value


def round_half_up(value: Any, digits: Any = 0) -> Any:
    """``value`` rounded to ``digits`` decimals, halves away from zero: an integer when
    ``digits`` is 0 or less, else a float. Null gives null."""
    if value is None:
        return None
    if not _number(value):
        raise ArithmeticProblem(f"round() needs a number, got {kind_of(value)}")
    if not isinstance(digits, int) or isinstance(digits, bool) or abs(digits) > MAX_DIGITS:
        raise ArithmeticProblem(
            f"round() takes a whole number of digits from -{MAX_DIGITS} to {MAX_DIGITS}"
        )
    if isinstance(value, int) and digits >= 0:
        return value
    try:
        with localcontext() as context:
            context.prec = 2 * MAX_BITS
            exact = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
            rounded = exact.quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)
    except InvalidOperation:  # not finite
        raise ArithmeticProblem("round() needs a finite number") from None
    return float(rounded) if digits > 0 else _checked("round", int(rounded))
