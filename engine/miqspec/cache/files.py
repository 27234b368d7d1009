"""YAML documents parsed before, kept as JSON: reading a shipped YAML file again is a JSON read.

Takes: a YAML document's bytes. Gives: ``cache_root()`` (miqspec's cache directory:
``$MIQSPEC_CACHE_DIR``, else ``$XDG_CACHE_HOME/miqspec``, else ``~/.cache/miqspec``; None when
``MIQSPEC_CACHE_DIR=off``), ``write_file(path, data)`` (a cache file written whole or not at
all: a temporary file of its own, created exclusively with mode 0600, renamed into place),
``read_trusted(path)`` (a cache file's bytes, only from a regular file of the current user
that nobody else may write, opened without following symlinks: a file planted by someone else
is never believed) and ``load_yaml(data)``: the document as YAML's safe loader gives it,
from ``parsed/<sha256 of the bytes>.json`` when an earlier call wrote it (a trusted file). A
document that JSON cannot carry exactly (non-string keys, dates, ...) is parsed every time. A
cache that cannot be read or written is no cache. Raises what the YAML loader raises for a bad
document. Reads and writes files.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
from pathlib import Path
from typing import Any

import yaml

OFF = "off"
MAX_READ = 64 * 1024 * 1024  # a cache file bigger than this is not read


def cache_root() -> Path | None:
    """miqspec's cache directory; None when the cache is off."""
    chosen = os.environ.get("MIQSPEC_CACHE_DIR")
    if chosen == OFF:
        return None
    if chosen:
        return Path(chosen)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "miqspec"


def write_file(path: Path, data: bytes) -> bool:
    """Write ``data`` to ``path`` through a temporary file created exclusively (never written
    through a link planted at its name), mode 0600, renamed into place; False when it cannot.
    Folders it creates are private (0700)."""
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        tmp.replace(path)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        return False
    return True


def _trusted(info: os.stat_result) -> bool:
    """A regular file of this user that only this user may write."""
    return (
        stat.S_ISREG(info.st_mode)
        and info.st_uid == os.getuid()
        and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
    )


def read_trusted(path: Path, limit: int = MAX_READ) -> bytes | None:
    """The bytes of ``path`` (at most ``limit``) when it is a regular file of the current user
    that nobody else may write, checked on the opened file, never through a symlink; None when
    it is missing, foreign, too big or unreadable (a cache file is then written anew)."""
    if not hasattr(os, "getuid"):
        return None
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    with os.fdopen(fd, "rb") as handle:
        try:
            if not _trusted(os.fstat(handle.fileno())):
                return None
            data = handle.read(limit + 1)
        except OSError:
            return None
    return data if len(data) <= limit else None


def load_yaml(data: bytes) -> Any:
    """``data`` parsed as YAML (safe loader), through the JSON cache."""
    root = cache_root()
    path = None if root is None else root / "parsed" / f"{hashlib.sha256(data).hexdigest()}.json"
    kept = None if path is None else read_trusted(path)
    if kept is not None:
        try:
            return json.loads(kept)
        except ValueError:
            pass
    value = yaml.load(data, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    if path is not None:
        try:
            text = json.dumps(value)
        except (TypeError, ValueError):
            return value
        if json.loads(text) == value:  # JSON carries it exactly: remember it
            write_file(path, text.encode("utf-8"))
    return value
