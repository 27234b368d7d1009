"""Semantic checks of the ``form`` section, for ``checks``.

Takes: the ``Checker`` of ``checks`` (its document, data, findings and helpers).
Gives: the declared input field names (into ``Checker.form_names``); findings for input fields
declared twice, ``column`` fields (``checks_calls.check_form_column``), ``options_from:
regions`` without regions, validation dependencies that are not form fields and, once every
other section is checked, input fields nothing reads. Raises nothing; no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from miqspec.spec.checks import calls as checks_calls
from miqspec.spec.document import Path
from miqspec.spec.model import INPUT_COMPONENTS

if TYPE_CHECKING:
    from miqspec.spec.checks.checker import Checker

# Form fields the engine itself fills or that only steer the UI; never "unused".
IMPLICIT_FORM_FIELDS = {"provider_region", "name", "zone_id", "type", "uid_ems"}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _walk_fields(fields: Any, path: Path) -> list[tuple[Path, Mapping[str, Any]]]:
    """Every form field mapping (depth first) with its path; ignores malformed parts."""
    out: list[tuple[Path, Mapping[str, Any]]] = []
    for i, f in enumerate(_list(fields)):
        if isinstance(f, dict):
            out.append(((*path, i), f))
            out.extend(_walk_fields(f.get("fields"), (*path, i, "fields")))
    return out


def check_form(ck: Checker) -> None:
    form = ck.data.get("form")
    fields = form.get("fields") if isinstance(form, dict) else None
    seen: dict[str, Path] = {}
    for path, f in _walk_fields(fields, ("form", "fields")):
        name = f.get("name")
        if not isinstance(name, str):
            continue
        is_input = isinstance(f.get("component"), str) and f["component"] in INPUT_COMPONENTS
        if name in seen and is_input:
            ck.add((*path, "name"), f"form field '{name}' is declared twice")
        seen[name] = path
        if is_input:
            ck.form_names.add(name)
        checks_calls.check_form_column(ck, path, f)
        if f.get("options_from") == "regions" and not ck.data.get("regions"):
            ck.add((*path, "options_from"), "options_from: regions but the spec defines no regions")
        for dep in _list(f.get("validationDependencies")):
            if isinstance(dep, str) and dep not in IMPLICIT_FORM_FIELDS | set(seen):
                ck.add(
                    (*path, "validationDependencies"),
                    f"validation dependency '{dep}' is not a form field",
                )


def check_form_usage(ck: Checker) -> None:
    if not ck.form_names:
        return
    for name in sorted(ck.form_names - IMPLICIT_FORM_FIELDS):
        used = name in ck.used_form or any(u.startswith(name + ".") for u in ck.used_form)
        path, field = next(
            (
                (p, f)
                for p, f in _walk_fields(ck.data["form"].get("fields"), ("form", "fields"))
                if f.get("name") == name
            ),
            (("form",), {}),
        )
        if not used and not checks_calls.is_row_field(field):
            ck.add((*path, "name"), f"form field '{name}' is never used by auth or connection")
