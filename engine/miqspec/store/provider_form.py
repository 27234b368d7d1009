"""Provider form values: the nested shape the ManageIQ UI sends, flattened and back, checked.

Takes: a ``Spec`` (its regions and form fields) and form values nested like
``{"endpoints": {"default": {"url": x}}}``.
Gives: ``flatten_form`` (``{"endpoints.default.url": x}``), ``nest_form`` (the inverse) and
``check_args`` (rejects a region the spec does not list and missing required fields).
Raises: ``UsageError`` from ``check_args``. No I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from miqspec.errors import UsageError
from miqspec.spec import INPUT_COMPONENTS, Spec


def flatten_form(values: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"endpoints": {"default": {"url": x}}}`` -> ``{"endpoints.default.url": x}``."""
    out: dict[str, Any] = {}
    for k, v in values.items():
        name = f"{prefix}{k}"
        if isinstance(v, Mapping) and name.split(".")[0] in ("endpoints", "authentications"):
            out.update(flatten_form(v, name + "."))
        else:
            out[name] = v
    return out


def nest_form(flat: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in flat.items():
        node = out
        parts = name.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return out


def check_args(spec: Spec, args: Mapping[str, Any]) -> None:
    """Reject a region the spec does not list and missing required form fields."""
    region = args.get("provider_region")
    if spec.regions:
        names = [r.name for r in spec.regions]
        if region not in names:
            raise UsageError(
                f"region {region!r} is not one of {spec.provider.name}'s regions: "
                + ", ".join(names)
            )
    flat = flatten_form(args)
    missing = [
        f.name
        for f in spec.form
        if f.required
        and f.component in INPUT_COMPONENTS
        and f.name != "provider_region"
        and flat.get(f.name) in (None, "")
    ]
    if missing:
        raise UsageError("missing required field(s): " + ", ".join(missing))
