"""ManageIQ's ``supports`` rules for operations: why an operation cannot run on a row.

Takes: the ``Operation`` (None: the spec does not declare it), the row as expressions see it
(``rows.plain``), whether the row is archived, and the expression scope (``provider``,
``settings``, ``region``).
Gives: ``unsupported_reason`` -> None (supported) or ManageIQ's reason, checked in
ManageIQ's order: an undeclared operation ("Feature not available/supported"), then the
``:control`` rules every operation shares (archived or disconnected: "... is not connected to
an active Provider"; retired; template; terminated), then the spec's ``unsupported`` rules,
the first that holds. ``noun`` names the object ("VM", "Host", ...).
Raises: ``MappingError`` when a rule's expression fails on the row (naming the spec key).
No I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from miqspec.errors import MappingError
from miqspec.spec import Operation

NOUNS = {"vms": "VM", "miq_templates": "Template", "hosts": "Host"}
NOT_AVAILABLE = "Feature not available/supported"


def noun(collection: str) -> str:
    return NOUNS.get(collection, collection.rstrip("s").replace("_", " ").title())


def truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() not in ("", "false", "0", "no", "none", "off")
    return bool(value)


def control_reason(collection: str, row: Mapping[str, Any], archived: bool) -> str | None:
    """ManageIQ's ``:control`` reason, or None."""
    what = noun(collection)
    if archived:
        return f"The {what} is not connected to an active Provider (it is archived)"
    if truthy(row.get("retired")):
        return f"The {what} is retired"
    if row.get("template") is True and collection != "miq_templates":
        return f"The {what} is a template"
    if str(row.get("power_state") or "").lower() == "terminated":
        return f"The {what} is terminated"
    return None


def unsupported_reason(
    collection: str,
    op: Operation | None,
    row: Mapping[str, Any],
    archived: bool,
    scope: Mapping[str, Any],
) -> str | None:
    """Why ``op`` cannot run on ``row`` (module doc), or None."""
    if op is None:
        return NOT_AVAILABLE
    reason = control_reason(collection, row, archived)
    if reason:
        return reason
    for i, rule in enumerate(op.unsupported):
        try:
            hit = rule.when.search(row, scope) if rule.when.roots else rule.when.search(row)
        except MappingError as exc:
            raise MappingError(
                f"{rule.location}: operations.{collection}.{op.name}.unsupported[{i}].when: {exc}"
            ) from None
        if truthy(hit):
            return rule.reason
    return None
