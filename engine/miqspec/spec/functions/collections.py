"""Custom JMESPath functions on values, objects and arrays: choosing, joining, looking up,
reshaping, de-duplicating, and JSON/YAML text.

Takes: JMESPath argument values (through ``registry.CustomFunctions``, which
calls each ``func_<name>(registry, *args)`` as the JMESPath function ``<name>``).
Gives: ``func_concat``, ``func_coalesce``, ``func_get``, ``func_items``, ``func_from_items``,
``func_index_of``, ``func_uniq``, ``func_flatten``, ``func_json_parse``, ``func_json_dump``,
``func_if``, ``func_find_by``, ``func_find_by_ignore_case``, ``func_yaml_parse`` (each with its
JMESPath signature; its docstring is its one-line reference) and ``COLLECTION_CHECKS``
(compile-time checks of their literal arguments: function name -> argument index -> check).
Raises: ``FunctionError`` for pairs ``from_items`` cannot read at search time; text that is
not JSON/YAML gives null. No I/O.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from jmespath.functions import signature

from miqspec.spec.functions.args import ANY, STR, TEXT, VARIADIC, FunctionError
from miqspec.spec.functions.data import find, parse_yaml, same


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True, default=str)


def _truthy(value: Any) -> bool:
    return not (value is None or value is False or value in ("", [], {}))


def _flat(values: list[Any]) -> Iterator[Any]:
    for value in values:
        if isinstance(value, list):
            yield from _flat(value)
        else:
            yield value


@signature(VARIADIC)
def func_concat(_registry: object, *args: Any) -> Any:
    """concat(a, ...): strings joined (others as JSON), or arrays joined; nulls skipped"""
    present = [arg for arg in args if arg is not None]
    if present and all(isinstance(arg, list) for arg in present):
        return [element for arg in present for element in arg]
    return "".join(arg if isinstance(arg, str) else _json(arg) for arg in present)


@signature(VARIADIC)
def func_coalesce(_registry: object, *args: Any) -> Any:
    """coalesce(a, ...): the first argument that is not null"""
    return next((arg for arg in args if arg is not None), None)


@signature(ANY, {"types": ["string", "number"]})
def func_get(_registry: object, obj: Any, key: str | int) -> Any:
    """get(obj, key): obj[key] for an object and string key or an array and index"""
    if isinstance(obj, dict) and isinstance(key, str):
        return obj.get(key)
    if isinstance(obj, list) and isinstance(key, int) and -len(obj) <= key < len(obj):
        return obj[key]
    return None


@signature({"types": ["object", "null"]})
def func_items(_registry: object, obj: dict[str, Any] | None) -> list[dict[str, Any]] | None:
    """items(obj): the object as [{key, value}, ...]"""
    return None if obj is None else [{"key": k, "value": v} for k, v in obj.items()]


@signature({"types": ["array", "null"]})
def func_from_items(_registry: object, pairs: list[Any] | None) -> dict[str, Any] | None:
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


@signature({"types": ["array", "string", "null"]}, ANY)
def func_index_of(_registry: object, subject: Any, value: Any) -> int | None:
    """index_of(subject, value): index of value in an array or string, else null"""
    if isinstance(subject, str):
        found = subject.find(value) if isinstance(value, str) else -1
        return None if found < 0 else found
    if isinstance(subject, list):
        return next((i for i, element in enumerate(subject) if same(element, value)), None)
    return None


@signature({"types": ["array", "null"]})
def func_uniq(_registry: object, values: list[Any] | None) -> list[Any] | None:
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
def func_flatten(_registry: object, values: list[Any] | None) -> list[Any] | None:
    """flatten(list): nested arrays flattened to any depth"""
    return None if values is None else list(_flat(values))


@signature(STR)
def func_json_parse(_registry: object, s: str | None) -> Any:
    """json_parse(s): the JSON value in string s (null if s is not JSON)"""
    try:
        return None if s is None else json.loads(s)
    except ValueError:
        return None


@signature(ANY)
def func_json_dump(_registry: object, value: Any) -> str:
    """json_dump(v): v as compact JSON text with sorted keys"""
    return _json(value)


@signature(ANY, ANY, ANY)
def func_if(_registry: object, cond: Any, then: Any, otherwise: Any) -> Any:
    """if(cond, a, b): a when cond is truthy (JMESPath truth), else b"""
    return then if _truthy(cond) else otherwise


@signature({"types": ["array", "null"]}, TEXT, ANY)
def func_find_by(_registry: object, items: list[Any] | None, key: str, value: Any) -> Any:
    """find_by(list, field, value): the first object of list whose field equals value"""
    return find(items, key, value, False)


@signature({"types": ["array", "null"]}, TEXT, ANY)
def func_find_by_ignore_case(
    _registry: object, items: list[Any] | None, key: str, value: Any
) -> Any:
    """find_by_ignore_case(list, field, value): find_by comparing strings ignoring case"""
    return find(items, key, value, True)


@signature(STR)
def func_yaml_parse(_registry: object, s: str | None) -> Any:
    """yaml_parse(s): the YAML (or JSON) value in s; null if s is blank or not YAML"""
    return None if s is None else parse_yaml(s)


def _check_field(value: Any) -> str | None:
    return None if isinstance(value, str) and value else "the field must be a non-empty string"


#: function name -> argument index -> check of a literal argument (returns a reason or None)
COLLECTION_CHECKS: dict[str, dict[int, Callable[[Any], str | None]]] = {
    "find_by": {1: _check_field},
    "find_by_ignore_case": {1: _check_field},
}
