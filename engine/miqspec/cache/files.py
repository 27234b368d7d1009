"""YAML documents parsed before, kept as JSON: reading a shipped YAML file again is a JSON read.

Takes: a YAML document's bytes. Gives: ``cache_root()`` (miqspec's cache directory:
``$MIQSPEC_CACHE_DIR``, else ``$XDG_CACHE_HOME/miqspec``, else ``~/.cache/miqspec``; None when
``MIQSPEC_CACHE_DIR=off``), ``write_file(path, data)`` (a cache file written whole or not at
all: a temporary file of its own, created exclusively with mode 0600, renamed into place) and
``load_yaml(data)``: the document as YAML's safe loader gives it,
from ``parsed/<sha256 of the bytes>.json`` when an earlier call wrote it. A document that JSON
cannot carry exactly (non-string keys, dates, ...) is parsed every time. A cache that cannot be
read or written is no cache. Raises what the YAML loader raises for a bad document. Reads and
writes files.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import yaml

OFF = "off"


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
    through a link planted at its name), mode 0600, renamed into place; False when it cannot."""
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        tmp.replace(path)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        return False
    return True


def load_yaml(data: bytes) -> Any:
    """``data`` parsed as YAML (safe loader), through the JSON cache."""
    root = cache_root()
    path = None if root is None else root / "parsed" / f"{hashlib.sha256(data).hexdigest()}.json"
    if path is not None:
        try:
            return json.loads(path.read_bytes())
        except (OSError, ValueError):
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
