"""Checks of a spec's ``models`` against the shipped catalogue's tables.

Takes: the spec data, ``Findings`` and the shipped ``Catalogue``.
Gives: ``check_models``: a finding for each column a model declares in a catalogue table with
another type than the table has (the table exists with that type: a model overriding a
catalogue collection may add columns, which the next refresh adds to the table, never change
one's type), or in a table another model declares with another type, at the column's type;
``type_value: class`` on a reference without ``type_column``, or one that is a manager_ref
part or a parent link; a ``parent_collections`` entry, a reference's ``collection`` or a
``many_to_many`` collection naming neither a catalogue collection nor a model (with "did you
mean"); and for each collection mapping setting ``reconnect`` of a
collection that is not ``delete: disconnect`` (nothing is ever reconnected there). Raises
nothing; no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from miqspec.spec import schema as schema_mod
from miqspec.spec.catalogue import Catalogue
from miqspec.spec.checks.findings import Findings


def table_columns(catalogue: Catalogue) -> dict[str, dict[str, str]]:
    """Column types by table, from every collection of ``catalogue`` (references: bigint)."""
    out: dict[str, dict[str, str]] = {}
    for coll in catalogue.collections.values():
        cols = out.setdefault(coll.table, {})
        for name, kind in coll.columns.items():
            cols.setdefault(name, kind)
        for ref in coll.references.values():
            cols.setdefault(ref.column, "string" if ref.kind == "ancestry" else "bigint")
    return out


def check_models(data: Mapping[str, Any], findings: Findings, catalogue: Catalogue) -> None:
    models = data.get("models")
    models = models if isinstance(models, dict) else {}
    _check_reconnect(data.get("collections"), models, findings, catalogue)
    tables: dict[str, dict[str, str]] | None = None
    mine: dict[tuple[str, str], tuple[str, str]] = {}  # (table, column) -> type, model
    known_collections = set(catalogue.collections) | set(models)
    for name, raw in models.items():
        if isinstance(raw, dict):
            _check_links(name, raw, known_collections, findings)
        if not isinstance(raw, dict) or not isinstance(raw.get("columns"), dict):
            continue
        tables = tables if tables is not None else table_columns(catalogue)
        table = raw.get("table")
        known = tables.get(table) if isinstance(table, str) else None
        for col, kind in raw["columns"].items():
            was = known.get(col) if known else None
            if not isinstance(kind, str):
                continue
            if was is not None and kind != was:
                findings.add(
                    ("models", name, "columns", col),
                    f"column {col!r} of catalogue table {table!r} is {was}, not {kind}: "
                    "a model may add columns to a catalogue table, not change their types",
                )
                continue
            other = mine.setdefault((str(table), col), (kind, name))
            if other[0] != kind:
                findings.add(
                    ("models", name, "columns", col),
                    f"column {col!r} of table {table!r} is {other[0]} in models.{other[1]}, "
                    f"not {kind}: models sharing a table agree on its column types",
                )
        _check_type_values(name, raw, findings)


def _check_links(name: str, raw: Mapping[str, Any], known: set[str], findings: Findings) -> None:
    """Each collection a model links to (parents, references, many_to_many) must exist."""
    links: list[tuple[tuple[Any, ...], Any]] = []
    parents = raw.get("parent_collections")
    if isinstance(parents, list):
        links += [(("parent_collections", i), p) for i, p in enumerate(parents)]
    refs = raw.get("references")
    for attr, ref in refs.items() if isinstance(refs, dict) else ():
        target = ref.get("collection") if isinstance(ref, dict) else None
        if isinstance(target, list):
            links += [(("references", attr, "collection", i), t) for i, t in enumerate(target)]
        elif target is not None:
            links.append((("references", attr, "collection"), target))
    m2m = raw.get("many_to_many")
    for link, spec in m2m.items() if isinstance(m2m, dict) else ():
        if isinstance(spec, dict) and spec.get("collection") is not None:
            links.append((("many_to_many", link, "collection"), spec["collection"]))
    for path, target in links:
        if isinstance(target, str) and target not in known:
            findings.add(
                ("models", name, *path),
                f"unknown collection '{target}': neither a catalogue collection nor a model"
                + schema_mod.suggest(target, known),
            )


def _check_type_values(name: str, raw: Mapping[str, Any], findings: Findings) -> None:
    """``type_value: class`` needs a ``type_column`` and may not be a manager_ref part or a
    parent link (those compare the base class)."""
    refs = raw.get("references")
    for attr, ref in refs.items() if isinstance(refs, dict) else ():
        if not isinstance(ref, dict) or ref.get("type_value") != "class":
            continue
        targets = ref.get("collection")
        targets = targets if isinstance(targets, list) else [targets]
        parents = raw.get("parent_collections")
        parents = parents if isinstance(parents, list) else []
        keys = raw.get("manager_ref")
        keys = keys if isinstance(keys, list) else []
        if (
            not ref.get("type_column")
            or attr in keys
            or set(map(str, targets)) & set(map(str, parents))
        ):
            findings.add(
                ("models", name, "references", attr, "type_value"),
                f"reference {attr} with type_value class needs a type_column and may not be a "
                "manager_ref part or a parent link (those compare the base class)",
            )


def _check_reconnect(
    collections: Any, models: Mapping[str, Any], findings: Findings, catalogue: Catalogue
) -> None:
    for name, raw in collections.items() if isinstance(collections, dict) else ():
        if not isinstance(raw, dict) or "reconnect" not in raw:
            continue
        model = models.get(name)
        coll = catalogue.get(name)
        delete = model.get("delete", "delete") if isinstance(model, dict) else None
        if delete is None and coll is not None:
            delete = coll.delete
        if delete is not None and delete != "disconnect":
            findings.add(
                ("collections", name, "reconnect"),
                f"{name} rows are never disconnected (delete: {delete}): there is nothing to "
                "reconnect",
                key=True,
            )
