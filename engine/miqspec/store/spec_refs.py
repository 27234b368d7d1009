"""Which spec a provider row refers to: a shipped spec by name, or a spec file by path.

Takes: a loaded ``Spec`` (to store) or a provider row (``spec_path``, ``spec_name``, ``name``).
Gives: ``spec_ref(spec)`` (what ``ext_management_systems.spec_path`` holds: ``shipped:<name>`` for
a spec shipped with miqspec, so upgrades and moved installs keep working, else the file's
absolute path), ``describe_ref`` (for ``provider show``) and ``spec_for(row)`` (the loaded spec).
Raises: ``NotFoundError`` when the spec a row names is gone; ``SpecError`` from loading.
Reads spec files.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from miqspec.errors import NotFoundError
from miqspec.resources import is_shipped_name, shipped_spec
from miqspec.spec import Spec, load_spec

SHIPPED = "shipped:"


def spec_ref(spec: Spec) -> str:
    """``shipped:<name>`` when ``spec`` is the file of a shipped spec, else its absolute path."""
    path = Path(spec.path).resolve()
    stem = path.stem
    if is_shipped_name(stem) and shipped_spec(stem).resolve() == path:
        return SHIPPED + stem
    return str(path)


def describe_ref(ref: str | None) -> str:
    """``awesome_cloud (shipped with miqspec)`` or ``/path/to/x.yaml (file)``."""
    if not ref:
        return "-"
    if ref.startswith(SHIPPED):
        return f"{ref.removeprefix(SHIPPED)} (shipped with miqspec)"
    return f"{ref} (file)"


def spec_for(ems: Mapping[str, Any]) -> Spec:
    """The spec of provider row ``ems``. A row written before shipped specs were stored by name
    (an absolute path into an old install) falls back to the shipped spec of its ``spec_name``."""
    ref = ems["spec_path"] or ""
    if ref.startswith(SHIPPED):
        return load_spec(str(shipped_spec(ref.removeprefix(SHIPPED))))
    if ref and Path(ref).exists():
        return load_spec(ref)
    name = ems["spec_name"] or ""
    if is_shipped_name(name):
        return load_spec(str(shipped_spec(name)))
    raise NotFoundError(f"spec for provider {ems['name']!r} not found at {ref or '(none)'}")
