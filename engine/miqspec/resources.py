"""The files miqspec ships beside its code: shipped provider specs and the schemas.

Takes: names (``awesome_cloud``, ``inventory.yaml``). Gives: paths of the package resources
``miqspec.provider_specs`` and ``miqspec.schemas`` (the top-level ``provider_specs/`` and
``schemas/`` folders of the source tree, carried by the wheel and the sdist), read through
``importlib.resources``, never through the source tree. Raises ``NotFoundError`` for an unknown
shipped spec. Reads no file itself.
"""

from __future__ import annotations

import functools
import re
from importlib import resources
from pathlib import Path

from miqspec.errors import NotFoundError

SPECS_PACKAGE = "miqspec.provider_specs"
SCHEMAS_PACKAGE = "miqspec.schemas"
_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")


@functools.cache
def _folder(package: str) -> Path:
    """The folder of a resource package (a regular install puts it on the file system)."""
    root = resources.files(package)
    return Path(str(root))


def schema_file(name: str) -> Path:
    """A shipped schema file: ``spec-schema.yaml`` or ``inventory.yaml``."""
    return _folder(SCHEMAS_PACKAGE) / name


def shipped_spec_names() -> list[str]:
    """The names of the shipped provider specs (``awesome_cloud``, ...), sorted."""
    return sorted(p.stem for p in _folder(SPECS_PACKAGE).glob("*.yaml") if _NAME.fullmatch(p.stem))


def is_shipped_name(text: str) -> bool:
    """Whether ``text`` names a shipped spec (a bare name, not a path)."""
    return bool(_NAME.fullmatch(text)) and text in shipped_spec_names()


def shipped_spec(name: str) -> Path:
    """The path of shipped spec ``name``; ``NotFoundError`` when no shipped spec has that name."""
    if not _NAME.fullmatch(name) or name not in shipped_spec_names():
        known = ", ".join(shipped_spec_names())
        raise NotFoundError(f"no shipped spec named {name!r} (shipped: {known})")
    return _folder(SPECS_PACKAGE) / f"{name}.yaml"


def package_root() -> Path:
    """The folder of the installed ``miqspec`` package."""
    return Path(__file__).resolve().parent


def package_sources() -> list[Path]:
    """Every ``.py`` file of the miqspec package, subpackages included, sorted."""
    return sorted(package_root().rglob("*.py"))
