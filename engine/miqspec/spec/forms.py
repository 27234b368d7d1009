"""The create form as ManageIQ's UI expects it (``params_for_create``, data-driven-forms).

Takes: a ``Spec``. Gives: ``{"fields": [...]}`` with every field's ``id`` defaulting to its
``name``, region selects filled from the region list (``{label: description, value: name}``
sorted by label, as ManageIQ's ``Regions.all.sort_by(description)``), and miqspec-only keys
(``options_from``, ``secret``, ``column``) removed. A select whose value would stay unset
while the renderer shows its first option (no ``initialValue``, no empty choice) gets an
empty first choice: ``includeEmpty`` is turned into that choice (the Carbon renderer ManageIQ
uses ignores the key), and a select without ``initialValue`` gets one unless it says
``includeEmpty: false``. No I/O, raises nothing.
"""

from __future__ import annotations

from typing import Any

from miqspec.spec.model import Spec

MIQSPEC_ONLY = {"options_from", "secret", "column", "includeEmpty"}
EMPTY_CHOICE = {"label": "<Choose>", "value": ""}


def region_options(spec: Spec) -> list[dict[str, Any]]:
    """The region choices: labelled by description (the name when it has none), sorted."""
    options = [{"label": r.description or r.name, "value": r.name} for r in spec.regions]
    return sorted(options, key=lambda o: o["label"])


def has_empty_choice(options: Any) -> bool:
    """True when one of a select's options has an empty value ("" or null)."""
    return isinstance(options, list) and any(
        isinstance(o, dict) and o.get("value") in ("", None) for o in options
    )


def needs_empty_choice(raw: dict[str, Any]) -> bool:
    """A select that would show its first option while its value stays unset."""
    return (
        raw.get("component") == "select"
        and raw.get("includeEmpty") is not False
        and "initialValue" not in raw
    )


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
        out["options"] = region_options(spec)
    if needs_empty_choice(raw) and not has_empty_choice(out.get("options")):
        out["options"] = [dict(EMPTY_CHOICE), *(out.get("options") or [])]
    if raw.get("component") == "password-field":
        out.setdefault("type", "password")
    if raw.get("fields"):
        out["fields"] = [_field(f, spec) for f in raw["fields"]]
    return out


def params_for_create(spec: Spec) -> dict[str, Any]:
    fields = (spec.raw.get("form") or {}).get("fields") or []
    return {"fields": [_field(f, spec) for f in fields]}
