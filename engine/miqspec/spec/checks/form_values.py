"""Checks of a create-form field's values as the data-driven-forms renderer reads them.

Takes: one field mapping of ``form.fields`` (any depth), its path, the spec's region names
(for ``options_from: regions``) and the ``Findings`` sink. Gives: ``check_field_values``:
findings for ``dataType`` values the options or ``initialValue`` do not have, an
``initialValue`` a select does not offer, ``includeEmpty`` outside a select or ``false``
with no ``initialValue`` (the renderer shows the first choice while the value stays unset),
and hints folded into a label (``"URL (e.g. https://...)"``) that belong in ``helperText``.
Raises nothing; no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from miqspec.spec.checks.findings import Findings
from miqspec.spec.document import Path

# data-driven-forms ``dataType`` -> the YAML values a field of that type may hold
_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "float": (int, float),
    "number": (int, float),
    "boolean": (bool,),
}
_HINT = re.compile(r"\((?:e\.\s?g\.|eg\b|for example|leave (?:it )?empty|default\b)", re.I)


def _fits(value: Any, data_type: str) -> bool:
    wanted = _TYPES.get(data_type)
    if wanted is None or value in ("", None):
        return True  # an unknown dataType is the schema's finding; empty is "no value"
    if isinstance(value, bool) and bool not in wanted:
        return False
    return isinstance(value, wanted)


def _shown(value: Any) -> str:
    return repr(value) if isinstance(value, str) else str(value)


def check_field_values(
    findings: Findings, path: Path, field: Mapping[str, Any], regions: list[Any]
) -> None:
    component = field.get("component")
    options = field.get("options") if isinstance(field.get("options"), list) else None
    values = [o.get("value") for o in options or [] if isinstance(o, dict)]
    if field.get("options_from") == "regions":
        values = list(regions)
    data_type = field.get("dataType")
    if isinstance(data_type, str):
        for i, value in enumerate(values if options is not None else []):
            if not _fits(value, data_type):
                findings.add(
                    (*path, "options", i, "value"),
                    f"option value {_shown(value)} is not of dataType {data_type}",
                )
    if "initialValue" in field:
        _initial(findings, path, field, values, data_type)
    if "includeEmpty" in field and component != "select":
        findings.add(
            (*path, "includeEmpty"), "includeEmpty: applies to select fields only", key=True
        )
    if (
        component == "select"
        and field.get("includeEmpty") is False
        and "initialValue" not in field
        and None not in values
        and "" not in values
    ):
        findings.add(
            (*path, "includeEmpty"),
            "a select without initialValue: and without an empty choice shows its first "
            "option while its value stays unset: give it initialValue: or includeEmpty: true",
        )
    label = field.get("label")
    if isinstance(label, str) and (m := _HINT.search(label)):
        findings.add(
            (*path, "label"),
            "a hint folded into the label: put it in helperText: (the renderer shows it "
            "under the field)",
            at=m.start(),
        )


def _initial(
    findings: Findings,
    path: Path,
    field: Mapping[str, Any],
    values: list[Any],
    data_type: Any,
) -> None:
    initial = field.get("initialValue")
    if isinstance(data_type, str) and not _fits(initial, data_type):
        findings.add(
            (*path, "initialValue"),
            f"initialValue {_shown(initial)} is not of dataType {data_type}",
        )
        return
    if field.get("component") == "select" and values and initial not in values:
        shown = ", ".join(_shown(v) for v in values[:8]) + (", ..." if len(values) > 8 else "")
        findings.add(
            (*path, "initialValue"),
            f"initialValue {_shown(initial)} is not one of the select's values ({shown})",
        )
    if field.get("component") in ("checkbox", "switch") and not isinstance(initial, bool):
        findings.add(
            (*path, "initialValue"), f"initialValue of a {field['component']} is true or false"
        )
