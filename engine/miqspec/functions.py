"""The custom JMESPath functions a spec may call, and spec-declared functions.

Takes: a spec's ``functions:`` mapping (name -> ``{"params": [...], "expr": "<jmespath>"}``)
in ``define_spec_functions``.
Gives: ``CustomFunctions`` (JMESPath's built-ins plus ours; one instance is one registry),
``DEFAULT_FUNCTIONS``, ``FUNCTION_DOCS`` (one line per custom function), ``BUILTIN_FUNCTIONS``,
``function_names()`` (what the schema allows), ``LITERAL_CHECKS`` (compile-time checks of
literal arguments, used by :mod:`miqspec.expressions`) and ``find_by_indexes()`` (from
:mod:`miqspec.functions_data`: a context in which ``find_by`` memoises one index per list and
field; the parser runs inside one).
Raises: ``FunctionError`` (a ValueError, made a MappingError by the expression layer) for
unusable input at search time; ``FunctionDefinitionError`` for a bad spec function. No I/O.

Conventions: string functions return null for a null subject instead of failing, so a missing
attribute maps to a NULL column; numeric and date conversions return null for unparseable input.
"""

from __future__ import annotations

import json
import math
import posixpath
import re
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from functools import lru_cache
from typing import Any

from jmespath import functions as jp_functions
from jmespath.functions import signature

from miqspec.errors import MiqspecError
from miqspec.functions_data import find, parse_yaml, same, truncate_utf8

_STR = {"types": ["string", "null"]}
_TEXT = {"types": ["string"]}
_ANY: dict[str, Any] = {"types": []}
_VARIADIC = {"types": [], "variadic": True}
_UNITS = {
    "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12, "pb": 10**15,
    "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40, "pib": 2**50,
}  # fmt: skip
_TRUE = {"true", "yes", "y", "on", "1", "enabled"}
_FALSE = {"false", "no", "n", "off", "0", "disabled", ""}

BUILTIN_FUNCTIONS: frozenset[str] = frozenset(jp_functions.Functions.FUNCTION_TABLE)


class FunctionError(ValueError):
    """A custom function got input it cannot use (the expression layer adds the context)."""


class FunctionDefinitionError(MiqspecError):
    """A spec-declared function is invalid: name clash, recursion, bad params or body."""

    exit_code = 1

    def __init__(self, name: str, reason: str, column: int | None = None) -> None:
        super().__init__(f"function {name}: {reason}")
        self.function = name
        self.reason = reason
        self.column = column


@lru_cache(maxsize=512)
def _regex(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise FunctionError(f"bad regular expression {pattern!r}: {exc}") from None


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


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True, default=str)


def _truthy(value: Any) -> bool:
    return not (value is None or value is False or value in ("", [], {}))


def _iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC)
    micro = moment.microsecond
    spec = "seconds" if micro == 0 else "milliseconds" if micro % 1000 == 0 else "microseconds"
    return moment.isoformat(timespec=spec).replace("+00:00", "Z")


def _flat(values: list[Any]) -> Iterator[Any]:
    for value in values:
        if isinstance(value, list):
            yield from _flat(value)
        else:
            yield value


class CustomFunctions(jp_functions.Functions):
    """JMESPath's built-in functions plus miqspec's; one instance is one function registry."""

    def __init__(self) -> None:
        #: per-registry compiler state, owned by :mod:`miqspec.expressions`
        self.engine: Any = None

    @signature(_STR)
    def _func_lower(self, s: str | None) -> str | None:
        """lower(s): s in lower case"""
        return None if s is None else s.lower()

    @signature(_STR)
    def _func_upper(self, s: str | None) -> str | None:
        """upper(s): s in upper case"""
        return None if s is None else s.upper()

    @signature(_STR, _TEXT)
    def _func_split(self, s: str | None, sep: str) -> list[str] | None:
        """split(s, sep): the list of parts of s between occurrences of sep"""
        if not sep:
            raise FunctionError("split() needs a non-empty separator")
        return None if s is None else s.split(sep)

    @signature(_STR, _TEXT, _TEXT)
    def _func_replace(self, s: str | None, old: str, new: str) -> str | None:
        """replace(s, old, new): s with every occurrence of old replaced by new"""
        return None if s is None else s.replace(old, new)

    @signature(_STR, _TEXT, _TEXT)
    def _func_regex_replace(self, s: str | None, pattern: str, repl: str) -> str | None:
        """regex_replace(s, pattern, repl): re.sub(pattern, repl, s) (\\1 for groups)"""
        if s is None:
            return None
        try:
            return _regex(pattern).sub(repl, s)
        except (re.error, IndexError) as exc:
            raise FunctionError(f"bad replacement {repl!r}: {exc}") from None

    @signature(_STR, _TEXT)
    def _func_regex_match(self, s: str | None, pattern: str) -> bool:
        """regex_match(s, pattern): true when pattern matches anywhere in s (anchor: ^$)"""
        return s is not None and _regex(pattern).search(s) is not None

    @signature(_STR, _TEXT)
    def _func_regex_extract(self, s: str | None, pattern: str) -> str | None:
        """regex_extract(s, pattern): first group, else the whole match, else null"""
        found = None if s is None else _regex(pattern).search(s)
        if found is None:
            return None
        return found.group(1) if found.re.groups else found.group(0)

    @signature(_VARIADIC)
    def _func_concat(self, *args: Any) -> Any:
        """concat(a, ...): strings joined (others as JSON), or arrays joined; nulls skipped"""
        present = [arg for arg in args if arg is not None]
        if present and all(isinstance(arg, list) for arg in present):
            return [element for arg in present for element in arg]
        return "".join(arg if isinstance(arg, str) else _json(arg) for arg in present)

    @signature(_VARIADIC)
    def _func_coalesce(self, *args: Any) -> Any:
        """coalesce(a, ...): the first argument that is not null"""
        return next((arg for arg in args if arg is not None), None)

    @signature({"types": ["number", "string", "null"]}, _TEXT)
    def _func_to_bytes(self, value: Any, unit: str) -> int | None:
        """to_bytes(n, unit): n units in bytes; B, KB/MB/GB/TB/PB (1000), KiB..PiB (1024)"""
        factor = _unit(unit)
        number = _number(value)
        return None if number is None else round(number * factor)

    @signature({"types": ["number", "string", "null"]}, _TEXT)
    def _func_from_bytes(self, value: Any, unit: str) -> int | float | None:
        """from_bytes(n, unit): n bytes in the given unit (see to_bytes)"""
        factor = _unit(unit)
        number = _number(value)
        if number is None:
            return None
        if isinstance(number, int) and number % factor == 0:
            return number // factor
        return _whole(number / factor)

    @signature(_ANY)
    def _func_to_int(self, value: Any) -> int | None:
        """to_int(v): v as an integer (numbers truncate, numeric strings, booleans 0/1)"""
        if isinstance(value, bool):
            return int(value)
        number = _number(value)
        return None if number is None else int(number)

    @signature(_ANY)
    def _func_to_bool(self, value: Any) -> bool | None:
        """to_bool(v): v as a boolean (true/yes/on/1 and false/no/off/0; numbers != 0)"""
        if value is None or isinstance(value, bool):
            return value
        if isinstance(value, int | float):
            return value != 0
        if isinstance(value, str):
            text = value.strip().lower()
            return True if text in _TRUE else False if text in _FALSE else None
        return None

    @signature(_ANY)
    def _func_to_iso8601(self, value: Any) -> str | None:
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

    @signature(_STR)
    def _func_basename(self, s: str | None) -> str | None:
        """basename(s): the last '/'-separated segment of s ('a/b/c' -> 'c')"""
        return None if s is None else posixpath.basename(s.rstrip("/"))

    @signature(_STR)
    def _func_dirname(self, s: str | None) -> str | None:
        """dirname(s): s without its last '/'-separated segment ('a/b/c' -> 'a/b')"""
        return None if s is None else posixpath.dirname(s.rstrip("/"))

    @signature(_STR, _TEXT)
    def _func_last_segment(self, s: str | None, sep: str) -> str | None:
        """last_segment(s, sep): the part of s after the last sep"""
        if not sep:
            raise FunctionError("last_segment() needs a non-empty separator")
        return None if s is None else s.rsplit(sep, 1)[-1]

    @signature(_ANY, {"types": ["string", "number"]})
    def _func_get(self, obj: Any, key: str | int) -> Any:
        """get(obj, key): obj[key] for an object and string key or an array and index"""
        if isinstance(obj, dict) and isinstance(key, str):
            return obj.get(key)
        if isinstance(obj, list) and isinstance(key, int) and -len(obj) <= key < len(obj):
            return obj[key]
        return None

    @signature({"types": ["object", "null"]})
    def _func_items(self, obj: dict[str, Any] | None) -> list[dict[str, Any]] | None:
        """items(obj): the object as [{key, value}, ...]"""
        return None if obj is None else [{"key": k, "value": v} for k, v in obj.items()]

    @signature({"types": ["array", "null"]})
    def _func_from_items(self, pairs: list[Any] | None) -> dict[str, Any] | None:
        """from_items(list): an object from [{key, value}] (or Key/Value) or [[k, v]]"""
        if pairs is None:
            return None
        result: dict[str, Any] = {}
        for pair in pairs:
            if isinstance(pair, list) and len(pair) == 2:
                key, value = pair
            elif isinstance(pair, dict) and ("key" in pair or "Key" in pair):
                key = pair.get("key", pair.get("Key"))
                value = pair.get("value", pair.get("Value"))
            else:
                raise FunctionError("from_items() expects [{key, value}] or [[key, value]]")
            result[key if isinstance(key, str) else _json(key)] = value
        return result

    @signature({"types": ["array", "string", "null"]}, _ANY)
    def _func_index_of(self, subject: Any, value: Any) -> int | None:
        """index_of(subject, value): index of value in an array or string, else null"""
        if isinstance(subject, str):
            found = subject.find(value) if isinstance(value, str) else -1
            return None if found < 0 else found
        if isinstance(subject, list):
            return next((i for i, element in enumerate(subject) if same(element, value)), None)
        return None

    @signature({"types": ["array", "null"]})
    def _func_uniq(self, values: list[Any] | None) -> list[Any] | None:
        """uniq(list): list without repeated elements, first occurrences kept"""
        if values is None:
            return None
        seen: set[str] = set()
        result = []
        for value in values:
            key = _json(value)
            if key not in seen:
                seen.add(key)
                result.append(value)
        return result

    @signature({"types": ["array", "null"]})
    def _func_flatten(self, values: list[Any] | None) -> list[Any] | None:
        """flatten(list): nested arrays flattened to any depth"""
        return None if values is None else list(_flat(values))

    @signature(_STR)
    def _func_json_parse(self, s: str | None) -> Any:
        """json_parse(s): the JSON value in string s (null if s is not JSON)"""
        try:
            return None if s is None else json.loads(s)
        except ValueError:
            return None

    @signature(_ANY)
    def _func_json_dump(self, value: Any) -> str:
        """json_dump(v): v as compact JSON text with sorted keys"""
        return _json(value)

    @signature(_ANY, _ANY, _ANY)
    def _func_if(self, cond: Any, then: Any, otherwise: Any) -> Any:
        """if(cond, a, b): a when cond is truthy (JMESPath truth), else b"""
        return then if _truthy(cond) else otherwise

    @signature(_STR, _STR)
    def _func_eq_ignore_case(self, a: str | None, b: str | None) -> bool:
        """eq_ignore_case(a, b): a and b are equal strings ignoring case"""
        if a is None or b is None:
            return a is b
        return a.casefold() == b.casefold()

    @signature({"types": ["array", "null"]}, _TEXT, _ANY)
    def _func_find_by(self, items: list[Any] | None, key: str, value: Any) -> Any:
        """find_by(list, field, value): the first object of list whose field equals value"""
        return find(items, key, value, False)

    @signature({"types": ["array", "null"]}, _TEXT, _ANY)
    def _func_find_by_ignore_case(self, items: list[Any] | None, key: str, value: Any) -> Any:
        """find_by_ignore_case(list, field, value): find_by comparing strings ignoring case"""
        return find(items, key, value, True)

    @signature(_STR)
    def _func_yaml_parse(self, s: str | None) -> Any:
        """yaml_parse(s): the YAML (or JSON) value in s; null if s is blank or not YAML"""
        return None if s is None else parse_yaml(s)

    @signature(_STR, {"types": ["number", "null"]})
    def _func_truncate_bytes(self, s: str | None, limit: Any) -> str | None:
        """truncate_bytes(s, n): longest prefix of s at most n bytes in UTF-8 (whole characters)"""
        if s is None or limit is None:
            return s
        if isinstance(limit, bool) or limit < 0:
            raise FunctionError("truncate_bytes() needs a byte count >= 0")
        return truncate_utf8(s, int(limit))


def _check_regex(value: Any) -> str | None:
    if not isinstance(value, str):
        return "the pattern must be a string"
    try:
        re.compile(value)
    except re.error as exc:
        return f"bad regular expression: {exc}"
    return None


def _check_unit(value: Any) -> str | None:
    if isinstance(value, str) and value.lower() in _UNITS:
        return None
    return f"unknown unit {value!r}; use B, KB..PB or KiB..PiB"


def _check_separator(value: Any) -> str | None:
    return None if isinstance(value, str) and value else "the separator must be a non-empty string"


def _check_byte_count(value: Any) -> str | None:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and value >= 0
    return None if ok else "the byte count must be a number >= 0"


def _check_field(value: Any) -> str | None:
    return None if isinstance(value, str) and value else "the field must be a non-empty string"


#: function name -> argument index -> check of a literal argument (returns a reason or None)
LITERAL_CHECKS: dict[str, dict[int, Callable[[Any], str | None]]] = {
    "regex_replace": {1: _check_regex},
    "regex_match": {1: _check_regex},
    "regex_extract": {1: _check_regex},
    "to_bytes": {1: _check_unit},
    "from_bytes": {1: _check_unit},
    "split": {1: _check_separator},
    "last_segment": {1: _check_separator},
    "truncate_bytes": {1: _check_byte_count},
    "find_by": {1: _check_field},
    "find_by_ignore_case": {1: _check_field},
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
    from miqspec.expressions import ExpressionSyntaxError, compile_expression

    base = DEFAULT_FUNCTIONS if base is None else base
    registry = CustomFunctions()
    table = dict(base.FUNCTION_TABLE)
    params_of: dict[str, tuple[str, ...]] = {}
    for name, definition in definitions.items():
        params_of[name] = _check_definition(name, definition, table)
        table[name] = {"function": None, "signature": tuple(_ANY for _ in params_of[name])}
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
