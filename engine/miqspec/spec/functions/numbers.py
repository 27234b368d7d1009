"""Custom JMESPath functions on numbers and digests: rounding, null-safe ``abs``/``floor``/
``ceil``, hashes and base64.

Takes: JMESPath argument values (through ``registry.CustomFunctions``, which calls each
``func_<name>(registry, *args)`` as the JMESPath function ``<name>``).
Gives: ``func_round``, ``func_abs``, ``func_floor``, ``func_ceil`` (JMESPath's three, except
that null gives null, as the arithmetic operators do), ``func_sha256``, ``func_md5``,
``func_base64_encode``, ``func_base64_decode`` (each with its JMESPath signature; its
docstring is its one-line reference) and ``NUMBER_CHECKS`` (compile-time checks of literal
arguments).
Raises: ``FunctionError`` (``arithmetic.ArithmeticProblem``) for a bad digit count at search
time; a null subject gives null; text that is not base64, or whose bytes are not UTF-8, gives
null. No I/O.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import math
from collections.abc import Callable
from typing import Any

from jmespath.functions import signature

from miqspec.spec.functions.args import STR
from miqspec.spec.functions.arithmetic import MAX_DIGITS, round_half_up

NUMBER = {"types": ["number", "null"]}
#: round(x) or round(x, n): the second argument is optional (``most``: expression_syntax)
_ROUND_ARGS = {"types": ["number", "null"], "variadic": True, "most": 2}


@signature(_ROUND_ARGS)
def func_round(_registry: object, value: Any, *digits: Any) -> Any:
    """round(x[, n]): x to n decimals (default 0, an integer), halves away from zero"""
    return round_half_up(value, *digits)


@signature(NUMBER)
def func_abs(_registry: object, value: Any) -> Any:
    """abs(x): |x| (JMESPath's, but null gives null)"""
    return None if value is None else abs(value)


@signature(NUMBER)
def func_floor(_registry: object, value: Any) -> Any:
    """floor(x): the greatest integer <= x (JMESPath's, but null gives null)"""
    return None if value is None else math.floor(value)


@signature(NUMBER)
def func_ceil(_registry: object, value: Any) -> Any:
    """ceil(x): the least integer >= x (JMESPath's, but null gives null)"""
    return None if value is None else math.ceil(value)


@signature(STR)
def func_sha256(_registry: object, s: str | None) -> str | None:
    """sha256(s): the SHA-256 of s's UTF-8 bytes, 64 lower-case hex digits"""
    return None if s is None else hashlib.sha256(s.encode()).hexdigest()


@signature(STR)
def func_md5(_registry: object, s: str | None) -> str | None:
    """md5(s): the MD5 of s's UTF-8 bytes, 32 lower-case hex digits (a fingerprint)"""
    return None if s is None else hashlib.md5(s.encode(), usedforsecurity=False).hexdigest()


@signature(STR)
def func_base64_encode(_registry: object, s: str | None) -> str | None:
    """base64_encode(s): s's UTF-8 bytes in standard base64, with padding"""
    return None if s is None else base64.b64encode(s.encode()).decode("ascii")


@signature(STR)
def func_base64_decode(_registry: object, s: str | None) -> str | None:
    """base64_decode(s): the UTF-8 text s encodes (standard or URL-safe base64), else null"""
    if s is None:
        return None
    text = s.strip().replace("-", "+").replace("_", "/")
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return None


def _check_digits(value: Any) -> str | None:
    ok = isinstance(value, int) and not isinstance(value, bool) and abs(value) <= MAX_DIGITS
    return None if ok else f"the digit count must be a whole number within +-{MAX_DIGITS}"


#: function name -> argument index -> check of a literal argument (returns a reason or None)
NUMBER_CHECKS: dict[str, dict[int, Callable[[Any], str | None]]] = {"round": {1: _check_digits}}
