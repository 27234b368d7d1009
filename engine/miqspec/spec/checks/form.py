"""Semantic checks of the ``form`` section.

Takes: the spec's data, the ``Findings`` sink and the ``Names`` to fill in.
Gives: ``check_form``: the declared input field names (into ``Names.form``) and findings for
input fields declared twice, ``column`` fields (nested, or written by the engine),
``options_from: regions`` without regions, validation dependencies that are not form
fields, and field values the renderer reads otherwise (``form_values``);
``check_form_usage`` (once every other section is checked): input fields nothing reads.
Raises nothing; no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from miqspec.spec.checks.findings import Findings
from miqspec.spec.checks.form_values import check_field_values
from miqspec.spec.checks.names import IMPLICIT_FORM_FIELDS, Names
from miqspec.spec.document import Path
from miqspec.spec.model import ENGINE_ROW_COLUMNS, INPUT_COMPONENTS, PROVIDER_ROW_FIELDS


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


def check_form(data: Mapping[str, Any], findings: Findings, names: Names) -> None:
    form = data.get("form")
    fields = form.get("fields") if isinstance(form, dict) else None
    seen: dict[str, Path] = {}
    regions = [r.get("name") for r in _list(data.get("regions")) if isinstance(r, dict)]
    for path, f in _walk_fields(fields, ("form", "fields")):
        check_field_values(findings, path, f, regions)
        name = f.get("name")
        if not isinstance(name, str):
            continue
        is_input = isinstance(f.get("component"), str) and f["component"] in INPUT_COMPONENTS
        if name in seen and is_input:
            findings.add((*path, "name"), f"form field '{name}' is declared twice")
        seen[name] = path
        if is_input:
            names.form.add(name)
        _check_column(findings, path, f)
        if f.get("options_from") == "regions" and not data.get("regions"):
            findings.add(
                (*path, "options_from"), "options_from: regions but the spec defines no regions"
            )
        for dep in _list(f.get("validationDependencies")):
            if isinstance(dep, str) and dep not in IMPLICIT_FORM_FIELDS | set(seen):
                findings.add(
                    (*path, "validationDependencies"),
                    f"validation dependency '{dep}' is not a form field",
                )


def check_form_usage(data: Mapping[str, Any], findings: Findings, names: Names) -> None:
    if not names.form:
        return
    for name in sorted(names.form - IMPLICIT_FORM_FIELDS):
        used = name in names.used or any(u.startswith(name + ".") for u in names.used)
        path, field = next(
            (
                (p, f)
                for p, f in _walk_fields(data["form"].get("fields"), ("form", "fields"))
                if f.get("name") == name
            ),
            (("form",), {}),
        )
        if not used and not _is_row_field(field):
            findings.add(
                (*path, "name"), f"form field '{name}' is never used by auth or connection"
            )


def _check_column(findings: Findings, path: Path, field: Mapping[str, Any]) -> None:
    """``column: true`` only on top-level fields the engine does not write itself."""
    name = field.get("name")
    if field.get("column") is not True or not isinstance(name, str):
        return
    if "." in name:
        findings.add(
            (*path, "column"),
            f"'{name}' is nested; only top-level form fields can be provider-row columns",
        )
    elif name in ENGINE_ROW_COLUMNS:
        findings.add(
            (*path, "column"), f"'{name}' is written by the engine; it cannot come from the form"
        )


def _is_row_field(field: Mapping[str, Any]) -> bool:
    """A form field stored on the provider row, or a credential row's class
    (``authentications.<role>.type``): never "unused"."""
    name = field.get("name")
    if isinstance(name, str) and name.startswith("authentications.") and name.endswith(".type"):
        return name.count(".") == 2
    return field.get("column") is True or (isinstance(name, str) and name in PROVIDER_ROW_FIELDS)
