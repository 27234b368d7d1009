"""Specs found valid before: loading one again skips the checks (a refresh loads its spec).

Takes: a spec file's bytes. Gives: ``known_valid(data)`` and ``remember_valid(data)``. The
key is a SHA-256 of the spec's bytes and ``engine_hash()`` (the engine's code, spec schema and
catalogue), so an edit to any of them checks the spec again; a marker is an empty file named
after the key in ``$MIQSPEC_CACHE_DIR``, else ``$XDG_CACHE_HOME/miqspec``, else
``~/.cache/miqspec`` (``valid-specs/``). ``MIQSPEC_CACHE_DIR=off`` turns the cache off. Only
valid specs are remembered; a cache that cannot be read or written is no cache. Raises
nothing. Reads and writes files.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from miqspec.cache import cache_root, engine_hash


def cache_dir() -> Path | None:
    """Where the markers live; None when the cache is off."""
    root = cache_root()
    return None if root is None else root / "valid-specs"


def _marker(data: bytes) -> Path | None:
    where = cache_dir()
    if where is None:
        return None
    key = hashlib.sha256(engine_hash().encode() + b"\0" + data).hexdigest()
    return where / key


def known_valid(data: bytes) -> bool:
    """True when a spec with exactly these bytes passed every check under this engine."""
    marker = _marker(data)
    try:
        return marker is not None and marker.is_file()
    except OSError:
        return False


def remember_valid(data: bytes) -> None:
    """Record that a spec with these bytes passed every check (best effort)."""
    marker = _marker(data)
    if marker is None:
        return
    try:
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.touch()
    except OSError:
        pass
