"""Specs found valid before: loading one again skips the checks (a refresh loads its spec).

Takes: a spec file's bytes. Gives: ``known_valid(data)`` and ``remember_valid(data)``. The
key is a SHA-256 of the spec's bytes and ``engine_hash()`` (the engine's code, spec schema and
catalogue), so an edit to any of them checks the spec again. A marker is a file named after
the key in ``$MIQSPEC_CACHE_DIR``, else ``$XDG_CACHE_HOME/miqspec``, else ``~/.cache/miqspec``
(``valid-specs/``), holding a format line and a SHA-512 of the same bytes: it counts only when
its content is exactly that and it is a regular file of the current user that nobody else may
write (``cache.read_trusted``: opened without following symlinks), so an empty file, a link
or a file someone else planted under the right name never lets a spec skip its checks.
``MIQSPEC_CACHE_DIR=off`` turns the cache off. Only valid specs are remembered; a cache that
cannot be read or written is no cache. Raises nothing. Reads and writes files.
"""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

from miqspec.cache import cache_root, engine_hash, read_trusted, write_file

FORMAT = b"miqspec-valid-spec-2\n"


def cache_dir() -> Path | None:
    """Where the markers live; None when the cache is off."""
    root = cache_root()
    return None if root is None else root / "valid-specs"


def _marker(data: bytes) -> tuple[Path, bytes] | None:
    """The marker's path and the content it must hold for ``data``."""
    where = cache_dir()
    if where is None:
        return None
    engine = engine_hash().encode()
    key = hashlib.sha256(engine + b"\0" + data).hexdigest()
    content = FORMAT + hashlib.sha512(b"valid\0" + engine + b"\0" + data).hexdigest().encode()
    return where / key, content + b"\n"


def known_valid(data: bytes) -> bool:
    """True when a spec with exactly these bytes passed every check under this engine (a
    trusted marker with the right content says so)."""
    marker = _marker(data)
    if marker is None:
        return False
    path, expected = marker
    found = read_trusted(path, len(expected))
    return found is not None and hmac.compare_digest(found, expected)


def remember_valid(data: bytes) -> None:
    """Record that a spec with these bytes passed every check (best effort)."""
    marker = _marker(data)
    if marker is not None:
        write_file(*marker)
