"""Data helpers behind ``registry``: find_by's lookups, YAML text, byte limits.

Takes: plain JSON-like data. Gives: ``find(items, field, value, fold)`` (the first object whose
``field`` equals ``value``; within ``find_by_indexes()`` long lists are indexed once per
field), ``parse_yaml`` (YAML or JSON text as JSON data, None when blank or invalid; aliases
bounded by ``yaml_limits``),
``truncate_utf8`` (a prefix of at most n UTF-8 bytes, whole characters) and ``same``
(JMESPath equality: booleans never equal numbers). Raises ``FunctionError`` for YAML whose
aliases expand past ``YAML_NODES`` nodes. No I/O.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime
from typing import Any

import yaml

from miqspec.spec.functions.args import FunctionError
from miqspec.spec.yaml_limits import SafeLoader, YamlLimitError, load_bounded


def same(left: Any, right: Any) -> bool:
    """JMESPath equality: ``true`` is not ``1``."""
    if isinstance(left, bool) != isinstance(right, bool):
        return False
    return bool(left == right)


# -- find_by: an index per (list, field), kept while a parse runs ----------------------------

_SHORT_LIST = 16  # shorter lists are scanned; an index would cost as much as the scan
_INDEX_LIMIT = 64  # indexes kept at once in one parse (each keeps its list alive)
_INDEXES: ContextVar[dict[tuple[int, str, bool], tuple[list[Any], dict[Any, Any]]] | None] = (
    ContextVar("miqspec_find_by_indexes", default=None)
)
_UNHASHABLE = object()


@contextmanager
def find_by_indexes() -> Iterator[None]:
    """Memoise ``find_by`` indexes until the block ends (a parse wraps itself in one).

    Indexes are keyed by the list's ``id`` and keep a reference to the list, so an id cannot
    be reused while its index exists; at most ``_INDEX_LIMIT`` are kept (then all are dropped).
    Lists must not change inside the block (collected records do not).
    """
    token = _INDEXES.set({})
    try:
        yield
    finally:
        _INDEXES.reset(token)


def _index_key(value: Any, fold: bool) -> Any:
    kind = type(value)
    if kind is str:
        return value.casefold() if fold else value
    if kind is bool:
        return (bool, value)  # never equal to 0 / 1, as in JMESPath
    if kind is int or kind is float:
        return value
    return _UNHASHABLE


def _matches(found: Any, value: Any, fold: bool) -> bool:
    if fold and isinstance(found, str) and isinstance(value, str):
        return found.casefold() == value.casefold()
    return same(found, value)


def find(items: list[Any] | None, key: str, value: Any, fold: bool) -> Any:
    if items is None or value is None:
        return None
    wanted = _index_key(value, fold)
    indexes = _INDEXES.get()
    if indexes is None or len(items) < _SHORT_LIST or wanted is _UNHASHABLE:
        for item in items:
            if isinstance(item, dict) and _matches(item.get(key), value, fold):
                return item
        return None
    cache_key = (id(items), key, fold)
    cached = indexes.get(cache_key)
    if cached is None or cached[0] is not items:
        if len(indexes) >= _INDEX_LIMIT:
            indexes.clear()
        index: dict[Any, Any] = {}
        for item in items:
            if isinstance(item, dict):
                found = _index_key(item.get(key), fold)
                if found is not _UNHASHABLE:
                    index.setdefault(found, item)
        cached = indexes[cache_key] = (items, index)
    return cached[1].get(wanted)


# -- yaml_parse --------------------------------------------------------------------------------

_YAML_LOADER = SafeLoader
YAML_NODES = 100_000  # what aliases may expand a yaml_parse text to (its own nodes count too)


def _plain(value: Any) -> Any:
    """A YAML value as JSON data: dates as ISO 8601 text, bytes as text, keys as strings."""
    if isinstance(value, dict):
        return {k if isinstance(k, str) else _plain_key(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_plain(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _plain_key(key: Any) -> str:
    plain = _plain(key)
    return plain if isinstance(plain, str) else _json(plain)


def parse_yaml(text: str) -> Any:
    """YAML (JSON is YAML) as JSON data; None for blank or invalid text; ``FunctionError``
    when aliases would expand it past ``YAML_NODES`` nodes (an alias bomb in API data)."""
    if not text.strip():
        return None
    try:
        return _plain(load_bounded(text, _YAML_LOADER, YAML_NODES))  # a safe loader
    except YamlLimitError as exc:
        raise FunctionError(f"yaml_parse(): {exc.problem}") from None
    except (yaml.YAMLError, ValueError, TypeError, RecursionError):
        return None


def truncate_utf8(text: str, limit: int) -> str:
    """The longest prefix of ``text`` whose UTF-8 encoding has at most ``limit`` bytes."""
    if len(text) <= limit // 4:  # no character takes more than 4 bytes
        return text
    data = text.encode("utf-8")
    return text if len(data) <= limit else data[:limit].decode("utf-8", "ignore")


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True, default=str)
