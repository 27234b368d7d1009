"""A provider's template context: region, form values, settings, the provider row, login.

Takes: a ``Spec``, the nested argument hash ManageIQ's UI sends (already decrypted) and the
provider row when there is one. Gives: ``build_context`` (what templates read; ``login`` starts
empty), ``provider_facts`` (``$provider``) and ``secret_values`` (the form's secret values, for
masking). Raises nothing; no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from miqspec.spec import INPUT_COMPONENTS, Spec


def provider_facts(
    spec: Spec, args: Mapping[str, Any], row: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """``$provider``: the provider row's ``name``, ``id``, ``guid`` (null before a row exists,
    as in a class-level verify), every top-level form value (declared fields default to null)
    and the spec's ``spec_name``, ``title``, ``vendor`` and ``type`` (the manager type)."""
    out: dict[str, Any] = {
        f.name: None for f in spec.form if "." not in f.name and f.component in INPUT_COMPONENTS
    }
    out.update(
        (k, v) for k, v in args.items() if k not in ("endpoints", "authentications", "settings")
    )
    row = row or {}
    out.update(
        name=row.get("name"),
        id=row.get("id"),
        guid=row.get("guid"),
        spec_name=spec.provider.name,
        title=spec.provider.title,
        vendor=spec.provider.vendor,
        type=spec.provider.manager_type,
    )
    return out


def build_context(
    spec: Spec, args: Mapping[str, Any], provider: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The template context for a provider: region, form values, settings, and ``provider``
    (see ``provider_facts``; ``provider`` is the ext_management_systems row when there is one).
    """
    region = spec.region(args.get("provider_region"))
    ctx: dict[str, Any] = {
        k: v for k, v in args.items() if k not in ("endpoints", "authentications")
    }
    ctx["endpoints"] = _with_defaults(args.get("endpoints"), spec, "endpoints")
    ctx["authentications"] = _with_defaults(args.get("authentications"), spec, "authentications")
    ctx["region"] = dict(region.attributes) if region else {}
    ctx["settings"] = {**spec.provider.settings, **(args.get("settings") or {})}
    ctx["provider"] = provider_facts(spec, args, provider)
    ctx["login"] = {}
    return ctx


def _with_defaults(given: Any, spec: Spec, head: str) -> dict[str, Any]:
    """Nested form values with every declared field present (None when not given)."""
    out: dict[str, Any] = {}
    for f in spec.form:
        parts = f.name.split(".")
        if parts[0] != head or len(parts) != 3:
            continue
        out.setdefault(parts[1], {}).setdefault(parts[2], None)
    for role, values in (given or {}).items():
        if isinstance(values, Mapping):
            out.setdefault(role, {}).update(values)
    return out


def secret_values(spec: Spec, args: Mapping[str, Any]) -> list[str]:
    """Values of the form's secret fields in ``args``."""
    out = []
    for name in spec.secret_fields:
        node: Any = args
        for part in name.split("."):
            node = node.get(part) if isinstance(node, Mapping) else None
        if isinstance(node, str) and node:
            out.append(node)
    return out
