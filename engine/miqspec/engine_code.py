"""One hash of the engine's code and shipped schemas: what a cached result was computed with.

Takes: nothing (reads the package's ``.py`` files and the spec schema and catalogue files once
per process). Gives: ``engine_hash()``, a hex SHA-1 that changes with any edit to them.
Raises nothing (an unreadable file contributes its name only).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
from pathlib import Path

from .inventory import catalogue_path
from .schema import schema_path


@functools.cache
def engine_hash() -> str:
    """The hash of the engine's sources, its spec schema and its catalogue."""
    h = hashlib.sha1(b"miqspec-engine-1", usedforsecurity=False)
    files = sorted(Path(__file__).parent.glob("*.py"))
    for path in [*files, schema_path(), Path(catalogue_path())]:
        h.update(path.name.encode())
        with contextlib.suppress(OSError):
            h.update(path.read_bytes())
    return h.hexdigest()
