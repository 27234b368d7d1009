"""The provisioning dialog: the spec's fields as data-driven-forms, choices from the inventory.

Takes: the ``Provisioning`` section and, to fill choices, a function giving the provider's
stored rows of a collection (None: no provider, the choices stay empty).
Gives: ``provisioning_dialog`` -> ``{"fields": [...]}`` as ManageIQ's UI reads a dialog (every
field's ``id`` defaults to its ``name``; ``options_from`` becomes ``options``:
``{label, value}`` per row, by default ``name`` and ``ems_ref``, sorted by label), ``walk``
(every field with a name, sub-forms flattened) and ``check_values`` (form values as an
operator gives them -> the values a request stores: unknown names refused with "did you mean",
required fields enforced, a choice given by its label or its value, booleans and numbers
read from text; a field not given is its ``initialValue``, else null).
Raises: ``UsageError`` (``check_values``). No I/O of its own.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from miqspec.errors import UsageError
from miqspec.spec import Provisioning

Rows = Callable[[str], list[dict[str, Any]]]


def walk(fields: Any) -> Iterator[Mapping[str, Any]]:
    for field in fields or ():
        if isinstance(field, Mapping):
            if field.get("fields"):
                yield from walk(field["fields"])
            if field.get("name") and field.get("component") not in ("sub-form", "plain-text"):
                yield field


def _choices(field: Mapping[str, Any], rows: Rows | None) -> list[dict[str, Any]]:
    source = field.get("options_from") or {}
    if rows is None:
        return []
    value_col, label_col = source.get("value", "ems_ref"), source.get("label", "name")
    found = [
        {"label": str(r.get(label_col) or r.get(value_col)), "value": r.get(value_col)}
        for r in rows(source["collection"])
        if r.get(value_col) is not None
    ]
    return sorted(found, key=lambda o: (o["label"], str(o["value"])))


def _field(raw: Mapping[str, Any], rows: Rows | None) -> dict[str, Any]:
    out: dict[str, Any] = {"component": raw["component"], "id": raw.get("id", raw["name"])}
    out.update((k, v) for k, v in raw.items() if k not in ("options_from", "fields", "id"))
    if raw.get("options_from"):
        out["options"] = _choices(raw, rows)
    if raw.get("fields"):
        out["fields"] = [_field(f, rows) for f in raw["fields"]]
    return out


def provisioning_dialog(prov: Provisioning, rows: Rows | None = None) -> dict[str, Any]:
    """The dialog (module doc)."""
    return {"fields": [_field(f, rows) for f in prov.fields]}


def _typed(field: Mapping[str, Any], value: Any) -> Any:
    if not isinstance(value, str):
        return value
    if field.get("component") in ("checkbox", "switch"):
        return value.strip().lower() in ("1", "true", "yes", "on")
    if field.get("type") == "number" or field.get("dataType") in ("integer", "number"):
        try:
            return int(value) if value.strip().lstrip("-").isdigit() else float(value)
        except ValueError:
            raise UsageError(f"{field['name']} must be a number, got {value!r}") from None
    return value


def check_values(
    prov: Provisioning, values: Mapping[str, Any], rows: Rows | None
) -> dict[str, Any]:
    """``values`` checked against the dialog (module doc); initial values fill the rest."""
    fields = {str(f["name"]): f for f in walk(prov.fields)}
    out: dict[str, Any] = {}
    for name, value in values.items():
        field = fields.get(name)
        if field is None:
            close = difflib.get_close_matches(name, list(fields), 1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            known = ", ".join(fields)
            raise UsageError(f"unknown provisioning field {name!r}{hint}; fields: {known}")
        value = _typed(field, value)
        options = _choices(field, rows) if field.get("options_from") else field.get("options")
        if options:
            by_value = {str(o["value"]): o["value"] for o in options}
            by_label = {str(o["label"]): o["value"] for o in options}
            if str(value) in by_value:
                value = by_value[str(value)]
            elif str(value) in by_label:
                value = by_label[str(value)]
            else:
                shown = ", ".join(sorted(by_label)[:10])
                raise UsageError(f"{name}: {value!r} is not one of the choices ({shown})")
        out[name] = value
    for name, field in fields.items():
        if name not in out:  # every field is a template variable (null when not given)
            out[name] = field.get("initialValue")
        if field.get("isRequired") and out.get(name) in (None, ""):
            raise UsageError(f"provisioning field {name!r} is required (--set {name}=...)")
    return out
