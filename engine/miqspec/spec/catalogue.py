"""The inventory catalogue: which collections exist, their tables, keys and references.

Takes: ``schemas/inventory.yaml`` (shipped inside the package as data) and, optionally, a spec's
own ``models`` section with the same fields.
Gives: a ``Catalogue`` of frozen ``CollectionDef``s and ``TableDef``s.
Raises: ``SpecError`` when the catalogue data is malformed. Reads one file; no other I/O.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from miqspec.cache import load_yaml
from miqspec.errors import SpecError
from miqspec.resources import schema_file

COLUMN_TYPES = (
    "string",
    "text",
    "integer",
    "bigint",
    "float",
    "decimal",
    "boolean",
    "datetime",
    "date",
    "json",
    "string_array",
)
MANAGER_KINDS = (
    "cloud",
    "infra",
    "network",
    "storage",
    "automation",
    "configuration",
    "container",
    "physical",
    "provider",
)
OWNER_KINDS = ("ems_id", "manager_id", "resource", "parent", "none")


def catalogue_path() -> Path:
    """Where the shipped catalogue lives (the package resource ``miqspec.schemas``)."""
    return schema_file("inventory.yaml")


@dataclass(frozen=True)
class ReferenceDef:
    """A belongs-to link: attribute ``name`` stored in ``column`` pointing at ``collection``.

    ``collection`` may be a list of allowed collections for polymorphic links (then
    ``type_column`` holds the target's model class name).
    ``kind`` is ``"id"`` (``column`` holds the target's id) or ``"ancestry"`` (``column`` is
    ManageIQ's string ``ancestry`` column holding the target's path ``"<its ancestry>/<its id>"``,
    or just ``"<its id>"`` when the target is a root).
    """

    name: str
    column: str
    collections: tuple[str, ...]
    type_column: str | None = None
    kind: str = "id"
    #: what ``type_column`` holds: the target's base class (``VmOrTemplate``, ManageIQ's
    #: default) or its own class (``class``: its STI ``type``, e.g. for ``lives_on_type``)
    type_value: str = "base"


@dataclass(frozen=True)
class ManyToManyDef:
    """A many-to-many link stored in a join table: (``own_column``, ``other_column``)."""

    name: str
    collection: str
    join_table: str
    own_column: str
    other_column: str


@dataclass(frozen=True)
class CollectionDef:
    """One inventory collection as ManageIQ's builders define it."""

    name: str
    table: str
    model_class: str
    manager: str
    owner: str
    manager_ref: tuple[str, ...]
    delete: str  # "delete" | "disconnect" | "none"
    columns: Mapping[str, str]
    references: Mapping[str, ReferenceDef] = field(default_factory=dict)
    many_to_many: Mapping[str, ManyToManyDef] = field(default_factory=dict)
    defaults: Mapping[str, Any] = field(default_factory=dict)
    scope: Mapping[str, Any] = field(default_factory=dict)
    parent_collections: tuple[str, ...] = ()
    secondary_refs: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    manager_ref_allowed_nil: tuple[str, ...] = ()
    timestamps: tuple[str, ...] = ()
    sti: bool = False
    description: str = ""
    #: ManageIQ's ``custom_reconnect_block``: a disconnected row with the same manager_ref is
    #: taken back (``delete: disconnect``); False: it stays disconnected, a new row is made
    reconnect: bool = True
    #: a changed object archives its row (``deleted_on`` set) and gets a new one
    archive_on_change: bool = False
    #: defaults by the kind of the manager owning the rows (infra vms: ``cloud`` false)
    manager_defaults: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    @property
    def archives(self) -> bool:
        """True when rows are archived (``deleted_on`` set) rather than deleted or changed:
        archived rows are never matched, looked up or swept again."""
        return self.delete == "archive" or self.archive_on_change

    def attribute_names(self) -> set[str]:
        """Every attribute a mapping may set: columns, references and many-to-many links."""
        return set(self.columns) | set(self.references) | set(self.many_to_many) | {"type"}


@dataclass(frozen=True)
class TableDef:
    """A table that is not a collection's own (join tables, core tables)."""

    name: str
    columns: Mapping[str, str]
    unique: tuple[tuple[str, ...], ...] = ()


@dataclass(frozen=True)
class Catalogue:
    collections: Mapping[str, CollectionDef]
    tables: Mapping[str, TableDef]

    def get(self, name: str) -> CollectionDef | None:
        return self.collections.get(name)

    def with_policies(self, policies: Mapping[str, Mapping[str, Any]]) -> Catalogue:
        """This catalogue with fields of some collections replaced (a mapping's ``reconnect``),
        itself when nothing changes."""
        changed = {
            n: dataclasses.replace(self.collections[n], **fields)
            for n, fields in policies.items()
            if n in self.collections
            and any(getattr(self.collections[n], k) != v for k, v in fields.items())
        }
        return Catalogue({**self.collections, **changed}, self.tables) if changed else self

    def for_provider(self, manager_type: str, child_managers: tuple[str, ...] = ()) -> Catalogue:
        """This catalogue with each collection's ``manager_defaults`` for the manager owning
        its rows merged into its defaults (a collection of a manager kind the provider lacks
        belongs to the provider's own manager); itself when nothing changes."""
        changed = {}
        for name, coll in self.collections.items():
            if not coll.manager_defaults:
                continue
            kind = coll.manager
            if kind != manager_type and kind not in child_managers:
                kind = manager_type
            extra = coll.manager_defaults.get(kind) or {}
            if any(k not in coll.defaults or coll.defaults[k] != v for k, v in extra.items()):
                changed[name] = dataclasses.replace(coll, defaults={**coll.defaults, **extra})
        return Catalogue({**self.collections, **changed}, self.tables) if changed else self

    def with_models(self, models: Mapping[str, Any]) -> Catalogue:
        """A catalogue extended by a spec's own ``models`` (same fields as the catalogue)."""
        if not models:
            return self
        extra = {n: _collection(n, raw) for n, raw in models.items()}
        return Catalogue({**self.collections, **extra}, self.tables)


REFERENCE_KINDS = ("id", "ancestry")


def _reference_kind(kind: Any) -> str:
    if kind not in REFERENCE_KINDS:
        raise TypeError(f"reference kind {kind!r} is not one of {', '.join(REFERENCE_KINDS)}")
    return str(kind)


def _type_value(value: Any) -> str:
    if value not in ("base", "class"):
        raise TypeError(f"reference type_value {value!r} is not one of base, class")
    return str(value)


def _collection(name: str, raw: Mapping[str, Any]) -> CollectionDef:
    try:
        refs = {
            attr: ReferenceDef(
                name=attr,
                column=r.get("column", f"{attr}_id"),
                collections=tuple(r["collection"])
                if isinstance(r["collection"], list)
                else (r["collection"],),
                type_column=r.get("type_column"),
                kind=_reference_kind(r.get("kind", "id")),
                type_value=_type_value(r.get("type_value", "base")),
            )
            for attr, r in (raw.get("references") or {}).items()
        }
        m2m = {
            attr: ManyToManyDef(
                attr, r["collection"], r["join_table"], r["own_column"], r["other_column"]
            )
            for attr, r in (raw.get("many_to_many") or {}).items()
        }
        return CollectionDef(
            name=name,
            table=raw["table"],
            model_class=raw.get("model_class", ""),
            manager=raw.get("manager", "provider"),
            owner=raw.get("owner", "ems_id"),
            manager_ref=tuple(raw.get("manager_ref", ["ems_ref"])),
            delete=raw.get("delete", "delete"),
            columns=dict(raw.get("columns") or {}),
            references=refs,
            many_to_many=m2m,
            defaults=dict(raw.get("defaults") or {}),
            scope=dict(raw.get("scope") or {}),
            parent_collections=tuple(raw.get("parent_collections") or ()),
            secondary_refs={k: tuple(v) for k, v in (raw.get("secondary_refs") or {}).items()},
            manager_ref_allowed_nil=tuple(raw.get("manager_ref_allowed_nil") or ()),
            timestamps=tuple(raw.get("timestamps") or ()),
            sti=bool(raw.get("sti", False)),
            description=raw.get("description", ""),
            reconnect=bool(raw.get("reconnect", True)),
            archive_on_change=bool(raw.get("archive_on_change", False)),
            manager_defaults={k: dict(v) for k, v in (raw.get("manager_defaults") or {}).items()},
        )
    except (KeyError, TypeError, AttributeError) as exc:
        raise SpecError(f"inventory catalogue: collection {name!r} is malformed: {exc}") from None


def parse_catalogue(raw: Mapping[str, Any]) -> Catalogue:
    cols = {n: _collection(n, c) for n, c in (raw.get("collections") or {}).items()}
    tables = {
        n: TableDef(n, dict(t.get("columns") or {}), tuple(tuple(u) for u in t.get("unique") or ()))
        for n, t in (raw.get("tables") or {}).items()
    }
    return Catalogue(cols, tables)


@functools.cache
def load_catalogue() -> Catalogue:
    """The shipped catalogue (cached)."""
    return parse_catalogue(load_yaml(catalogue_path().read_bytes()))
