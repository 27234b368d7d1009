"""Semantic checks of the ``operations`` and ``provisioning`` sections.

Takes: the spec's data, the ``Findings`` sink, the ``TextChecker`` and the inventory
``Catalogue`` (extended by the spec's ``models``).
Gives: ``check_operations``: findings for an unknown collection (with "did you mean"), a
collection whose rows have no ``raw_power_state`` given a transitional state, an unknown
service, templates reading what is not there (operations: ``target``, the stored row;
provisioning: ``options`` and ``task``; waits of provisioning: ``target`` too), expressions
with roots not available (rules and waits: ``$provider``, ``$settings``, ``$region``), a
collection the spec does not map, provisioning fields declared twice and ``options_from``
naming an unknown collection or column. Raises nothing; no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from miqspec.spec import schema as schema_mod
from miqspec.spec.catalogue import Catalogue
from miqspec.spec.checks.findings import Findings
from miqspec.spec.checks.texts import TextChecker
from miqspec.spec.document import Path

ROW_ROOTS = {"provider", "settings", "region"}
WAIT_ROOTS = ROW_ROOTS
REQUEST_TEXT_KEYS = ("path", "url", "query", "headers", "body")


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def check_operations(
    data: Mapping[str, Any], findings: Findings, text: TextChecker, catalogue: Catalogue
) -> None:
    """``operations`` and ``provisioning`` (their shape is the schema's)."""
    services = set(_dict(_dict(data.get("connection")).get("services")))
    for collection, ops in _dict(data.get("operations")).items():
        coll = catalogue.get(collection) if isinstance(collection, str) else None
        if coll is None:
            findings.add(
                ("operations", collection),
                f"unknown collection '{collection}'"
                + schema_mod.suggest(str(collection), catalogue.collections),
                key=True,
            )
        elif collection not in _dict(data.get("collections")):
            findings.add(
                ("operations", collection),
                f"collection '{collection}' is not mapped by this spec (collections:)",
                key=True,
            )
        for name, op in _dict(ops).items():
            path: Path = ("operations", collection, name)
            op = _dict(op)
            roots = text.base_roots() | {"target"}
            _check_request(findings, text, (*path, "request"), op.get("request"), roots, services)
            for i, rule in enumerate(_list(op.get("unsupported"))):
                if isinstance(rule, dict):
                    text.expression((*path, "unsupported", i, "when"), rule.get("when"), ROW_ROOTS)
            if (
                coll is not None
                and "raw_power_state" in op
                and "raw_power_state" not in coll.columns
            ):
                findings.add(
                    (*path, "raw_power_state"),
                    f"table {coll.table} of '{collection}' has no raw_power_state column",
                    key=True,
                )
            _check_wait(findings, text, (*path, "wait"), op.get("wait"), roots, services)
    _check_provisioning(data, findings, text, catalogue, services)


def _check_request(
    findings: Findings,
    text: TextChecker,
    path: Path,
    raw: Any,
    roots: set[str],
    services: set[str],
) -> None:
    request = _dict(raw)
    service = request.get("service")
    if isinstance(service, str) and services and service not in services:
        findings.add(
            (*path, "service"),
            f"unknown service '{service}'" + schema_mod.suggest(service, services),
        )
    for key in REQUEST_TEXT_KEYS:
        if key in request:
            text.templates_in((*path, key), request[key], roots)


def _check_wait(
    findings: Findings,
    text: TextChecker,
    path: Path,
    raw: Any,
    roots: set[str],
    services: set[str],
) -> None:
    wait = _dict(raw)
    if not wait:
        return
    _check_request(findings, text, (*path, "request"), wait.get("request"), roots, services)
    for key in ("until", "failed_when"):
        text.expression((*path, key), wait.get(key), WAIT_ROOTS)


def _check_provisioning(
    data: Mapping[str, Any],
    findings: Findings,
    text: TextChecker,
    catalogue: Catalogue,
    services: set[str],
) -> None:
    prov = _dict(data.get("provisioning"))
    if not prov:
        return
    collection = prov.get("collection", "vms")
    if isinstance(collection, str) and catalogue.get(collection) is None:
        findings.add(
            ("provisioning", "collection"),
            f"unknown collection '{collection}'"
            + schema_mod.suggest(collection, catalogue.collections),
        )
    base = text.base_roots()
    _check_request(
        findings,
        text,
        ("provisioning", "request"),
        prov.get("request"),
        base | {"options", "task"},
        services,
    )
    text.expression(("provisioning", "new_ref"), prov.get("new_ref"), ROW_ROOTS)
    _check_wait(
        findings,
        text,
        ("provisioning", "wait"),
        prov.get("wait"),
        base | {"options", "task", "target"},
        services,
    )
    _check_fields(
        findings,
        catalogue,
        _list(_dict(prov.get("form")).get("fields")),
        ("provisioning", "form", "fields"),
        set(),
    )


def _check_fields(
    findings: Findings, catalogue: Catalogue, fields: list[Any], path: Path, seen: set[str]
) -> None:
    for i, field in enumerate(fields):
        if not isinstance(field, dict):
            continue
        name = field.get("name")
        if isinstance(name, str):
            if name in seen:
                findings.add((*path, i, "name"), f"field '{name}' is declared twice")
            seen.add(name)
        source = _dict(field.get("options_from"))
        coll = source.get("collection")
        if isinstance(coll, str) and catalogue.get(coll) is None:
            findings.add(
                (*path, i, "options_from", "collection"),
                f"unknown collection '{coll}'" + schema_mod.suggest(coll, catalogue.collections),
            )
        elif isinstance(coll, str):
            columns = catalogue.collections[coll].columns
            for key in ("value", "label"):
                column = source.get(key)
                if isinstance(column, str) and column not in columns and column != "id":
                    findings.add(
                        (*path, i, "options_from", key),
                        f"table {catalogue.collections[coll].table} has no column '{column}'"
                        + schema_mod.suggest(column, columns),
                    )
        _check_fields(findings, catalogue, _list(field.get("fields")), (*path, i, "fields"), seen)
