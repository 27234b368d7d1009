"""The shipped catalogue's tables, built once per engine and kept pickled in the cache dir.

Takes: nothing (the shipped catalogue, ``engine_hash()`` and the cache directory of
``yaml_cache.cache_root``).
Gives: ``build_metadata_cached()`` (``shipped_metadata()`` once per process) and
``shipped_metadata()``: the ``MetaData`` ``build_metadata(load_catalogue())`` gives, read
from ``tables/<key>.pickle`` in the cache dir when an earlier process wrote it under the same
engine code, catalogue, SQLAlchemy and Python (about 15 ms instead of 40 to 70 ms for building
90 tables and 1,900 columns, in every command that opens the inventory). A pickle runs code
when it is loaded, so the file is read only when the current user owns it and nobody else may
write it; a file that is foreign, unreadable or damaged is built again and rewritten
(``yaml_cache.write_file``). Writing one removes all but the ``KEEP`` newest (every edit of the
engine's code gives a new key). With ``MIQSPEC_CACHE_DIR=off`` the tables are built every time.
Raises what ``build_metadata`` raises for an inconsistent catalogue. Reads and writes files.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
import stat
import sys
from pathlib import Path

import sqlalchemy as sa

from miqspec.cache import cache_root, engine_hash, write_file
from miqspec.spec import load_catalogue
from miqspec.store.tables import build_metadata

FORMAT = "miqspec-tables-1"
KEEP = 8  # pickles kept in the cache dir: engines installed side by side each keep theirs


def _path() -> Path | None:
    root = cache_root()
    if root is None or not hasattr(os, "getuid"):
        return None
    key = "\n".join((FORMAT, engine_hash(), sa.__version__, sys.version))
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    return root / "tables" / f"{digest}.pickle"


def _trusted(info: os.stat_result) -> bool:
    """True for a regular file of this user that only this user may write."""
    return (
        stat.S_ISREG(info.st_mode)
        and info.st_uid == os.getuid()
        and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
    )


def _read(path: Path) -> sa.MetaData | None:
    """The pickled tables at ``path``; None when the file is missing, not trusted (checked on
    the opened file, never through a symlink) or not a pickle of tables."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    with os.fdopen(fd, "rb") as handle:
        try:
            if not _trusted(os.fstat(handle.fileno())):
                return None
            data = handle.read()
        except OSError:
            return None
    try:
        value = pickle.loads(data)
    except Exception:  # a damaged pickle can raise anything: build the tables again
        return None
    return value if isinstance(value, sa.MetaData) else None


def _write(path: Path, md: sa.MetaData) -> None:
    try:
        data = pickle.dumps(md, protocol=pickle.HIGHEST_PROTOCOL)
    except pickle.PicklingError:
        return
    if write_file(path, data):
        _prune(path.parent)


def _prune(folder: Path) -> None:
    """Keep the ``KEEP`` most recently written pickles (each engine edit writes a new one)."""
    with contextlib.suppress(OSError):
        found = sorted(folder.glob("*.pickle"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in found[KEEP:]:
            old.unlink(missing_ok=True)


def shipped_metadata() -> sa.MetaData:
    """The shipped catalogue's tables: from the cache dir when a trusted copy is there."""
    path = _path()
    if path is not None:
        md = _read(path)
        if md is not None:
            return md
    md = build_metadata(load_catalogue())
    if path is not None:
        _write(path, md)
    return md


_METADATA: sa.MetaData | None = None


def build_metadata_cached() -> sa.MetaData:
    """``shipped_metadata()``, once per process."""
    global _METADATA
    if _METADATA is None:
        _METADATA = shipped_metadata()
    return _METADATA
