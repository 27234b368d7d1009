"""Semantic checks of the ``events`` section and the collections' ``target`` rules, and the
template roots their calls add.

Takes: the spec's data, the ``Findings`` sink, the ``TextChecker`` and the inventory
``Catalogue`` (extended by the spec's ``models``).
Gives: ``check_events``: findings for an unknown or fan-out call (a target call runs once per
target, the events call once per poll), a ``replaces`` call the collection does not read, a
collection whose manager_ref a target cannot name (a reference in it), an event target rule
naming a collection the spec does not map, and the roots of every expression (raw events
read ``$region``, ``$provider``, ``$settings``). ``targeted_call_roots`` and
``events_call_roots``: the template variables such calls may read (``target``; ``events``).
Raises nothing; no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from miqspec.spec import schema as schema_mod
from miqspec.spec.build_events import first_source_call
from miqspec.spec.catalogue import Catalogue
from miqspec.spec.checks.findings import Findings
from miqspec.spec.checks.texts import TextChecker

EVENT_ROOTS = {"region", "provider", "settings"}


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def targeted_call_roots(data: Mapping[str, Any], call: str) -> set[str]:
    """``{"target"}`` when some collection's ``target.call`` (or a call its ``with`` brings)
    names ``call``."""
    for raw in _dict(data.get("collections")).values():
        target = _dict(_dict(raw).get("target"))
        if target.get("call") == call or call in _dict(target.get("with")).values():
            return {"target"}
    return set()


def events_call_roots(data: Mapping[str, Any], call: str) -> set[str]:
    """``{"events"}`` (``events.cursor``, ``events.since``) when ``events.call`` names ``call``."""
    return {"events"} if _dict(data.get("events")).get("call") == call else set()


def check_events(
    data: Mapping[str, Any], findings: Findings, text: TextChecker, catalogue: Catalogue
) -> None:
    """Every collection's ``target`` and the ``events`` section (shapes are the schema's)."""
    calls = _dict(data.get("calls"))
    collections = _dict(data.get("collections"))
    for name, raw in collections.items():
        target = _dict(_dict(raw).get("target"))
        if target:
            _check_target(findings, calls, catalogue, name, _dict(raw), target)
    events = _dict(data.get("events"))
    if not events:
        return
    _check_call(findings, ("events", "call"), events.get("call"), calls, "once per poll")
    cursor = _dict(events.get("cursor"))
    text.expression(("events", "cursor", "value"), cursor.get("value"), EVENT_ROOTS)
    for key, expr in _dict(events.get("fields")).items():
        text.expression(("events", "fields", key), expr, EVENT_ROOTS)
    text.expression(
        ("events", "ignore", "where"), _dict(events.get("ignore")).get("where"), EVENT_ROOTS
    )
    rules = events.get("targets")
    for i, rule in enumerate(rules if isinstance(rules, list) else ()):
        rule = _dict(rule)
        coll = rule.get("collection")
        if isinstance(coll, str) and coll not in collections:
            findings.add(
                ("events", "targets", i, "collection"),
                f"collection '{coll}' is not mapped by this spec"
                + schema_mod.suggest(coll, collections),
            )
        for key in ("ref", "where"):
            text.expression(("events", "targets", i, key), rule.get(key), EVENT_ROOTS)


def _check_call(
    findings: Findings, path: tuple[Any, ...], name: Any, calls: Mapping[str, Any], how: str
) -> bool:
    if not isinstance(name, str):
        return False
    if name not in calls:
        findings.add(path, f"unknown call '{name}'" + schema_mod.suggest(name, calls))
        return False
    if "for_each" in _dict(calls[name]):
        findings.add(path, f"call '{name}' fans out (for_each); this call runs {how}")
        return False
    return True


def _check_target(
    findings: Findings,
    calls: Mapping[str, Any],
    catalogue: Catalogue,
    name: str,
    raw: Mapping[str, Any],
    target: Mapping[str, Any],
) -> None:
    path = ("collections", name, "target")
    _check_call(findings, (*path, "call"), target.get("call"), calls, "once per target")
    replaces = target.get("replaces")
    if isinstance(replaces, str):
        read = {first_source_call(raw)} | {
            s.get("from") for s in raw.get("sources") or () if isinstance(s, dict)
        }
        if replaces not in calls:
            findings.add(
                (*path, "replaces"),
                f"unknown call '{replaces}'" + schema_mod.suggest(replaces, calls),
            )
        elif replaces not in read:
            findings.add(
                (*path, "replaces"),
                f"collection '{name}' does not read call '{replaces}' (from: or sources:)",
            )
    elif first_source_call(raw) is None:
        findings.add(path, "a collection without a source call needs target.replaces", key=True)
    brings = target.get("with")
    for listing, stand_in in brings.items() if isinstance(brings, dict) else ():
        for key, value in (("key", listing), ("value", stand_in)):
            if isinstance(value, str) and value not in calls:
                findings.add(
                    (*path, "with", listing),
                    f"unknown call '{value}'" + schema_mod.suggest(value, calls),
                    key=key == "key",
                )
    cdef = catalogue.get(name)
    if cdef is not None:
        refs = [a for a in cdef.manager_ref if a in cdef.references]
        if refs:
            findings.add(
                path,
                f"'{name}' cannot be targeted: its manager_ref holds a reference ({refs[0]})",
                key=True,
            )
