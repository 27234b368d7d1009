"""Custom JMESPath functions on strings and text: case, splitting, replacing, regular
expressions, path segments and byte-limited prefixes.

Takes: JMESPath argument values (through ``registry.CustomFunctions``, which
calls each ``func_<name>(registry, *args)`` as the JMESPath function ``<name>``).
Gives: ``func_lower``, ``func_upper``, ``func_split``, ``func_replace``, ``func_regex_replace``,
``func_regex_match``, ``func_regex_extract``, ``func_regex_groups``,
``func_regex_named_groups``, ``func_basename``, ``func_dirname``,
``func_last_segment``, ``func_eq_ignore_case``, ``func_truncate_bytes`` (each with its
JMESPath signature; its docstring is its one-line reference) and ``TEXT_CHECKS`` (compile-time
checks of their literal arguments: function name -> argument index -> check).
Raises: ``FunctionError`` for a bad pattern, replacement, separator or byte count at search
time, and for a pattern that runs longer than ``patterns.PATTERN_SECONDS`` (patterns run on
``patterns``, bounded in time). A null subject gives null. No I/O.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from typing import Any

from jmespath.functions import signature

from miqspec.spec.functions.args import STR, TEXT, FunctionError
from miqspec.spec.functions.data import truncate_utf8
from miqspec.spec.functions.patterns import compile_pattern, pattern_problem


@signature(STR)
def func_lower(_registry: object, s: str | None) -> str | None:
    """lower(s): s in lower case"""
    return None if s is None else s.lower()


@signature(STR)
def func_upper(_registry: object, s: str | None) -> str | None:
    """upper(s): s in upper case"""
    return None if s is None else s.upper()


@signature(STR, TEXT)
def func_split(_registry: object, s: str | None, sep: str) -> list[str] | None:
    """split(s, sep): the list of parts of s between occurrences of sep"""
    if not sep:
        raise FunctionError("split() needs a non-empty separator")
    return None if s is None else s.split(sep)


@signature(STR, TEXT, TEXT)
def func_replace(_registry: object, s: str | None, old: str, new: str) -> str | None:
    """replace(s, old, new): s with every occurrence of old replaced by new"""
    return None if s is None else s.replace(old, new)


@signature(STR, TEXT, TEXT)
def func_regex_replace(_registry: object, s: str | None, pattern: str, repl: str) -> str | None:
    """regex_replace(s, pattern, repl): re.sub(pattern, repl, s) (\\1 for groups)"""
    if s is None:
        return None
    return compile_pattern(pattern).sub(repl, s)


@signature(STR, TEXT)
def func_regex_match(_registry: object, s: str | None, pattern: str) -> bool:
    """regex_match(s, pattern): true when pattern matches anywhere in s (anchor: ^$)"""
    return s is not None and compile_pattern(pattern).search(s) is not None


#: regex_extract(s, pattern) or regex_extract(s, pattern, group)
_GROUP_ARGS = {"types": ["string"], "variadic": True, "most": 3}


@signature(STR, _GROUP_ARGS)
def func_regex_extract(_registry: object, s: str | None, pattern: str, *group: Any) -> Any:
    """regex_extract(s, pattern[, group]): group n or name (default 1, or 0) of the 1st match"""
    compiled = compile_pattern(pattern)
    if group:
        _check_group(compiled.groups, compiled.names, group[0])
    found = None if s is None else compiled.search(s)
    if found is None:
        return None
    if group:
        return found.group(group[0])
    first: str | None = found.group(1) if compiled.groups else found.group(0)
    return first


@signature(STR, TEXT)
def func_regex_groups(_registry: object, s: str | None, pattern: str) -> list[Any] | None:
    """regex_groups(s, pattern): the groups of the first match as a list, else null"""
    found = None if s is None else compile_pattern(pattern).search(s)
    return None if found is None else list(found.groups())


@signature(STR, TEXT)
def func_regex_named_groups(_registry: object, s: str | None, pattern: str) -> Any:
    """regex_named_groups(s, pattern): the (?P<name>...) groups of the 1st match as an object"""
    found = None if s is None else compile_pattern(pattern).search(s)
    return None if found is None else dict(found.groupdict())


def _check_group(count: int, names: frozenset[str], group: Any) -> None:
    if isinstance(group, str) and group in names:
        return
    if isinstance(group, int) and not isinstance(group, bool) and 0 <= group <= count:
        return
    raise FunctionError(
        f"regex_extract(): the pattern has no group {group!r} (groups: 0 to {count}"
        + (", " + ", ".join(sorted(names)) if names else "")
        + ")"
    )


@signature(STR)
def func_basename(_registry: object, s: str | None) -> str | None:
    """basename(s): the last '/'-separated segment of s ('a/b/c' -> 'c')"""
    return None if s is None else posixpath.basename(s.rstrip("/"))


@signature(STR)
def func_dirname(_registry: object, s: str | None) -> str | None:
    """dirname(s): s without its last '/'-separated segment ('a/b/c' -> 'a/b')"""
    return None if s is None else posixpath.dirname(s.rstrip("/"))


@signature(STR, TEXT)
def func_last_segment(_registry: object, s: str | None, sep: str) -> str | None:
    """last_segment(s, sep): the part of s after the last sep"""
    if not sep:
        raise FunctionError("last_segment() needs a non-empty separator")
    return None if s is None else s.rsplit(sep, 1)[-1]


@signature(STR, STR)
def func_eq_ignore_case(_registry: object, a: str | None, b: str | None) -> bool:
    """eq_ignore_case(a, b): a and b are equal strings ignoring case"""
    if a is None or b is None:
        return a is b
    return a.casefold() == b.casefold()


@signature(STR, {"types": ["number", "null"]})
def func_truncate_bytes(_registry: object, s: str | None, limit: Any) -> str | None:
    """truncate_bytes(s, n): longest prefix of s at most n bytes in UTF-8 (whole characters)"""
    if s is None or limit is None:
        return s
    if isinstance(limit, bool) or limit < 0:
        raise FunctionError("truncate_bytes() needs a byte count >= 0")
    return truncate_utf8(s, int(limit))


def _check_separator(value: Any) -> str | None:
    return None if isinstance(value, str) and value else "the separator must be a non-empty string"


def _check_byte_count(value: Any) -> str | None:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and value >= 0
    return None if ok else "the byte count must be a number >= 0"


#: function name -> argument index -> check of a literal argument (returns a reason or None)
TEXT_CHECKS: dict[str, dict[int, Callable[[Any], str | None]]] = {
    "regex_replace": {1: pattern_problem},
    "regex_match": {1: pattern_problem},
    "regex_extract": {1: pattern_problem},
    "regex_groups": {1: pattern_problem},
    "regex_named_groups": {1: pattern_problem},
    "split": {1: _check_separator},
    "last_segment": {1: _check_separator},
    "truncate_bytes": {1: _check_byte_count},
}
