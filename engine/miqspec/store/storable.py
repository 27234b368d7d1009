"""Text a database can store: characters it refuses replaced by U+FFFD.

Takes: API data as collected (lists and dicts of JSON values, changed in place) and the engine
it is to be stored in.
Gives: ``make_storable(node, engine)``: every string in ``node`` (dict keys included) with its
lone surrogates (no database stores them: they are not Unicode text) and, on PostgreSQL, its NUL
characters (``text`` cannot hold them) replaced by U+FFFD; returns how many strings changed
(0: ``node`` is untouched). ``REPLACEMENT``.
Raises nothing. No I/O.
"""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa

REPLACEMENT = "\ufffd"
_SURROGATES = re.compile("[\ud800-\udfff]")


def _fixed(text: str, nul: bool) -> str | None:
    """``text`` made storable, or None when it is already."""
    if text.isascii():
        return text.replace("\x00", REPLACEMENT) if nul and "\x00" in text else None
    out = _SURROGATES.sub(REPLACEMENT, text)
    if nul:
        out = out.replace("\x00", REPLACEMENT)
    return out if out != text else None


def _walk(node: Any, nul: bool, seen: set[int]) -> int:
    if id(node) in seen:
        return 0
    seen.add(id(node))
    count = 0
    if isinstance(node, dict):
        bad_keys = False
        for key, value in node.items():
            if isinstance(value, str):
                fixed = _fixed(value, nul)
                if fixed is not None:
                    node[key] = fixed  # same key: the dict does not change size
                    count += 1
            elif isinstance(value, dict | list):
                count += _walk(value, nul, seen)
            bad_keys = bad_keys or (isinstance(key, str) and _fixed(key, nul) is not None)
        if bad_keys:
            items = list(node.items())
            node.clear()
            for key, value in items:
                fixed = _fixed(key, nul) if isinstance(key, str) else None
                count += fixed is not None
                node[key if fixed is None else fixed] = value
    elif isinstance(node, list):
        for index, value in enumerate(node):
            if isinstance(value, str):
                fixed = _fixed(value, nul)
                if fixed is not None:
                    node[index] = fixed
                    count += 1
            elif isinstance(value, dict | list):
                count += _walk(value, nul, seen)
    return count


def make_storable(node: Any, engine: sa.Engine) -> int:
    """Replace, in place, what ``engine``'s database cannot store in the strings of ``node``
    (see the module doc); how many strings changed."""
    return _walk(node, engine.dialect.name == "postgresql", set())
