"""Custom JMESPath functions converting values: byte units, integers, booleans, dates.

Takes: JMESPath argument values (through ``registry.CustomFunctions``, which
calls each ``func_<name>(registry, *args)`` as the JMESPath function ``<name>``).
Gives: ``func_to_bytes``, ``func_from_bytes``, ``func_to_int``, ``func_to_bool``,
``func_to_iso8601`` (each with its JMESPath signature; its docstring is its one-line
reference) and ``CONVERT_CHECKS`` (compile-time checks of their literal arguments: function
name -> argument index -> check).
Raises: ``FunctionError`` for an unknown byte unit at search time; unparseable numbers and
dates give null. No I/O.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from jmespath.functions import signature

from miqspec.spec.functions.args import ANY, TEXT, FunctionError

_UNITS = {
    "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12, "pb": 10**15,
    "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40, "pib": 2**50,
}  # fmt: skip
_TRUE = {"true", "yes", "y", "on", "1", "enabled"}
_FALSE = {"false", "no", "n", "off", "0", "disabled", ""}


def _unit(unit: str) -> int:
    factor = _UNITS.get(unit.lower()) if isinstance(unit, str) else None
    if factor is None:
        raise FunctionError(f"unknown unit {unit!r}; use B, KB..PB or KiB..PiB")
    return factor


def _number(value: Any) -> int | float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        text = value.strip()
        try:
            return int(text)
        except ValueError:
            try:
                number = float(text)
            except ValueError:
                return None
            return number if math.isfinite(number) else None
    return None


def _whole(value: float) -> int | float:
    return int(value) if value.is_integer() else value


def _iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC)
    micro = moment.microsecond
    spec = "seconds" if micro == 0 else "milliseconds" if micro % 1000 == 0 else "microseconds"
    return moment.isoformat(timespec=spec).replace("+00:00", "Z")


@signature({"types": ["number", "string", "null"]}, TEXT)
def func_to_bytes(_registry: object, value: Any, unit: str) -> int | None:
    """to_bytes(n, unit): n units in bytes; B, KB/MB/GB/TB/PB (1000), KiB..PiB (1024)"""
    factor = _unit(unit)
    number = _number(value)
    return None if number is None else round(number * factor)


@signature({"types": ["number", "string", "null"]}, TEXT)
def func_from_bytes(_registry: object, value: Any, unit: str) -> int | float | None:
    """from_bytes(n, unit): n bytes in the given unit (see to_bytes)"""
    factor = _unit(unit)
    number = _number(value)
    if number is None:
        return None
    if isinstance(number, int) and number % factor == 0:
        return number // factor
    return _whole(number / factor)


@signature(ANY)
def func_to_int(_registry: object, value: Any) -> int | None:
    """to_int(v): v as an integer (numbers truncate, numeric strings, booleans 0/1)"""
    if isinstance(value, bool):
        return int(value)
    number = _number(value)
    return None if number is None else int(number)


@signature(ANY)
def func_to_bool(_registry: object, value: Any) -> bool | None:
    """to_bool(v): v as a boolean (true/yes/on/1 and false/no/off/0; numbers != 0)"""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0
    if isinstance(value, str):
        text = value.strip().lower()
        return True if text in _TRUE else False if text in _FALSE else None
    return None


@signature(ANY)
def func_to_iso8601(_registry: object, value: Any) -> str | None:
    """to_iso8601(v): epoch seconds or ms, ISO 8601 or RFC 2822 date as ISO 8601 UTC"""
    number = _number(value)
    try:
        if number is not None:
            seconds = number / 1000 if abs(number) >= 1e11 else number
            return _iso(datetime.fromtimestamp(seconds, UTC))
        if not isinstance(value, str):
            return None
        try:
            return _iso(datetime.fromisoformat(value.strip()))
        except ValueError:
            return _iso(parsedate_to_datetime(value))
    except (ValueError, TypeError, OverflowError, OSError, IndexError):
        return None


def _check_unit(value: Any) -> str | None:
    if isinstance(value, str) and value.lower() in _UNITS:
        return None
    return f"unknown unit {value!r}; use B, KB..PB or KiB..PiB"


#: function name -> argument index -> check of a literal argument (returns a reason or None)
CONVERT_CHECKS: dict[str, dict[int, Callable[[Any], str | None]]] = {
    "to_bytes": {1: _check_unit},
    "from_bytes": {1: _check_unit},
}
