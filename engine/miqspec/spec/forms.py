"""The create form as ManageIQ's UI expects it (``params_for_create``, data-driven-forms).

Takes: a ``Spec``. Gives: ``{"fields": [...]}`` with every field's ``id`` defaulting to its
``name``, region selects filled from the region list (``{label, value}``), and miqspec-only
keys (``options_from``, ``secret``, ``column``) removed. No I/O, raises nothing.
"""

from __future__ import annotations

from typing import Any

from miqspec.spec.model import Spec

MIQSPEC_ONLY = {"options_from", "secret", "column"}


def _field(raw: dict[str, Any], spec: Spec) -> dict[str, Any]:
    out: dict[str, Any] = {
        "component": raw["component"],
        "id": raw.get("id", raw["name"]),
        "name": raw["name"],
    }
    for key, value in raw.items():
        if key in MIQSPEC_ONLY or key in out or key == "fields":
            continue
        out[key] = value
    if raw.get("options_from") == "regions":
        out["options"] = [{"label": r.name, "value": r.name} for r in spec.regions]
    if raw.get("component") == "password-field":
        out.setdefault("type", "password")
    if raw.get("fields"):
        out["fields"] = [_field(f, spec) for f in raw["fields"]]
    return out


def params_for_create(spec: Spec) -> dict[str, Any]:
    fields = (spec.raw.get("form") or {}).get("fields") or []
    return {"fields": [_field(f, spec) for f in fields]}
