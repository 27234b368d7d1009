"""One hash of the engine's code and shipped schemas: what a cached result was computed with.

Takes: nothing (reads every ``.py`` file of the package, subpackages included, and the spec
schema and catalogue files once per process). Gives: ``engine_hash()``, a hex SHA-1 that
changes with any edit to them. Raises nothing (an unreadable file contributes its name only).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib

from miqspec.resources import package_root, package_sources, schema_file


@functools.cache
def engine_hash() -> str:
    """The hash of the engine's sources, its spec schema and its catalogue."""
    h = hashlib.sha1(b"miqspec-engine-2", usedforsecurity=False)
    root = package_root()
    for path in [
        *package_sources(),
        schema_file("spec-schema.yaml"),
        schema_file("inventory.yaml"),
    ]:
        name = path.relative_to(root).as_posix() if path.is_relative_to(root) else path.name
        h.update(name.encode())
        with contextlib.suppress(OSError):
            h.update(path.read_bytes())
    return h.hexdigest()
