"""SQLAlchemy tables for the inventory catalogue and miqspec's core tables (ManageIQ names).

Takes: a ``Catalogue`` (default: the shipped one from ``schemas/inventory.yaml``).
Gives: ``build_metadata(catalogue) -> MetaData``; ``build_tables(catalogue) -> Tables`` (a
``Table`` by table name or by collection name); ``catalogue_problems(catalogue)``;
``CORE_TABLES`` and ``attribute_columns``. Column types come from :mod:`miqspec.store.column_types`.
Raises: ``SpecError`` when the catalogue is inconsistent (unknown column type, one column with
two types, unknown collection, unresolvable manager_ref or scope). Does no I/O.

Every table gets an ``id`` BigInteger primary key (INTEGER on SQLite so it autoincrements). There
are no foreign-key constraints between inventory tables, as in ManageIQ. Collection tables are
indexed on the owner column(s) and on (owner, first manager_ref column), which is the refresh
lookup; disconnectable collections also on the first manager_ref column alone (reconnect), and
every secondary_ref is indexed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from sqlalchemy import BigInteger, Column, Index, Integer, MetaData, Table, UniqueConstraint, true

from miqspec.errors import SpecError
from miqspec.spec import (
    COLUMN_TYPES,
    MANAGER_KINDS,
    OWNER_KINDS,
    Catalogue,
    CollectionDef,
    load_catalogue,
)
from miqspec.store.column_types import column_type

DELETE_STRATEGIES = ("delete", "disconnect", "archive", "none")
MAX_NAME = 63  # PostgreSQL identifier limit


# Core tables (code, not catalogue data): name -> "column:type ..." in column order.
_CORE_SPECS = {
    "zones": "name:string description:string created_on:datetime updated_on:datetime",
    "ext_management_systems": """
        name:string type:string guid:string zone_id:bigint provider_region:string
        parent_ems_id:bigint api_version:string uid_ems:string hostname:string port:integer
        enabled:boolean tenant_id:bigint provider_id:bigint subscription:string project:string
        realm:string capabilities:json options:json last_refresh_date:datetime
        last_refresh_error:text last_refresh_success_date:datetime last_inventory_date:datetime
        last_metrics_error:text last_metrics_update_date:datetime
        last_metrics_success_date:datetime spec_name:string spec_path:text
        created_on:datetime updated_on:datetime""",
    "endpoints": """
        role:string ipaddress:string hostname:string port:integer resource_type:string
        resource_id:bigint verify_ssl:integer url:text security_protocol:string
        certificate_authority:text path:string api_version:string options:json
        created_at:datetime updated_at:datetime""",
    "authentications": """
        name:string authtype:string userid:string password:string auth_key:text
        auth_key_password:string become_username:string become_password:string
        become_method:string service_account:string resource_id:bigint resource_type:string
        type:string manager_ref:string ems_ref:string options:json status:string
        status_details:string last_valid_on:datetime last_invalid_on:datetime
        credentials_changed_on:datetime created_on:datetime updated_on:datetime""",
    "miqspec_refresh_locks": "holder:string acquired_at:datetime heartbeat_at:datetime",
    # per manager and collection: packed (row id, row digest) pairs (miqspec.persist.digest)
    "miqspec_digests": "ems_id:bigint collection:string fingerprint:string digests:text",
    # per manager, collection and kind: the last refresh's record or page map (persist.fast,
    # record carry)
    "miqspec_record_maps": "ems_id:bigint collection:string kind:string fingerprint:string "
    "data:binary",
}
CORE_TABLES: Mapping[str, tuple[tuple[str, str], ...]] = {
    name: tuple((c, k) for c, _, k in (p.partition(":") for p in text.split()))
    for name, text in _CORE_SPECS.items()
}
_CORE_UNIQUE = {"zones": ("name",), "ext_management_systems": ("name", "guid")}
_CORE_INDEXES: Mapping[str, list[tuple[str, ...]]] = {
    "ext_management_systems": [("parent_ems_id",), ("type",)],
    "endpoints": [("resource_id", "resource_type")],
    "authentications": [("resource_id", "resource_type")],
    "miqspec_digests": [("ems_id", "collection")],
    "miqspec_record_maps": [("ems_id", "collection")],
}


CORE_COLUMN_TYPES = (*COLUMN_TYPES, "binary")  # miqspec's own tables may hold bytes


class _Spec:
    """A table being assembled: columns with their types and where each was declared."""

    def __init__(self, name: str, problems: list[str]) -> None:
        self.name = name
        self.columns: dict[str, str] = {}
        self.origin: dict[str, str] = {}
        self.indexes: list[tuple[str, ...]] = []
        self.uniques: list[tuple[str, ...]] = []
        self.problems = problems

    def add(
        self, column: str, kind: str, origin: str, types: tuple[str, ...] = COLUMN_TYPES
    ) -> None:
        if kind not in types:
            self.problems.append(f"{origin}: column {column!r} has unknown type {kind!r}")
        elif column == "id":
            self.problems.append(f"{origin}: column 'id' is implicit")
        elif column not in self.columns:
            self.columns[column], self.origin[column] = kind, origin
        elif self.columns[column] != kind:
            self.problems.append(
                f"table {self.name}: column {column!r} is {kind} in {origin} but "
                f"{self.columns[column]} in {self.origin[column]}"
            )

    def index(self, columns: Sequence[str]) -> None:
        cols = tuple(columns)
        if cols and cols not in self.indexes:
            self.indexes.append(cols)


def _owner_columns(coll: CollectionDef) -> tuple[str, ...]:
    return {
        "ems_id": ("ems_id",),
        "manager_id": ("manager_id",),
        "resource": ("resource_id", "resource_type"),
        "parent": ("parent_id", "parent_type"),
    }.get(coll.owner, ())


def attribute_columns(coll: CollectionDef, attribute: str) -> tuple[str, ...]:
    """The SQL columns holding ``attribute`` (a reference maps to its id and type columns)."""
    ref = coll.references.get(attribute)
    if ref is None:
        return (attribute,)
    return (ref.column, ref.type_column) if ref.type_column else (ref.column,)


def _collection_problems(coll: CollectionDef, catalogue: Catalogue) -> list[str]:
    where = f"collection {coll.name}"
    problems = []
    if coll.owner not in OWNER_KINDS:
        problems.append(f"{where}: owner {coll.owner!r} is not one of {', '.join(OWNER_KINDS)}")
    if coll.manager not in MANAGER_KINDS:
        problems.append(f"{where}: manager {coll.manager!r} is unknown")
    if coll.delete not in DELETE_STRATEGIES:
        problems.append(
            f"{where}: delete {coll.delete!r} is not one of {', '.join(DELETE_STRATEGIES)}"
        )
    if coll.owner == "none" and not coll.parent_collections and coll.delete != "none":
        problems.append(f"{where}: owner none needs parent_collections (or delete none)")
    names = set(catalogue.collections)
    targets = [("parent_collections", p) for p in coll.parent_collections]
    targets += [(f"reference {r.name}", t) for r in coll.references.values() for t in r.collections]
    targets += [(f"many_to_many {m.name}", m.collection) for m in coll.many_to_many.values()]
    problems += [
        f"{where}: {what} names unknown collection {t!r}" for what, t in targets if t not in names
    ]
    for ref in coll.references.values():
        tables = {catalogue.collections[t].table for t in ref.collections if t in names}
        if len(tables) > 1 and not ref.type_column:
            problems.append(
                f"{where}: reference {ref.name} spans tables {sorted(tables)} without a type_column"
            )
        if ref.kind == "ancestry" and tables - {coll.table}:
            problems.append(f"{where}: ancestry reference {ref.name} must stay in {coll.table}")
        if ref.type_value == "class" and (
            not ref.type_column
            or ref.name in coll.manager_ref
            or set(ref.collections) & set(coll.parent_collections)
        ):
            problems.append(
                f"{where}: reference {ref.name} with type_value class needs a type_column and "
                "may not be a manager_ref part or a parent link (those compare the base class)"
            )
    known = set(coll.columns) | set(coll.references) | set(_owner_columns(coll)) | {"type"}
    keys = [("manager_ref", a) for a in coll.manager_ref]
    keys += [(f"secondary_ref {n}", a) for n, attrs in coll.secondary_refs.items() for a in attrs]
    problems += [
        f"{where}: {what} attribute {a!r} is neither a column nor a reference"
        for what, a in keys
        if a not in known
    ]
    problems += [
        f"{where}: manager_ref_allowed_nil {a!r} is not in manager_ref"
        for a in coll.manager_ref_allowed_nil
        if a not in coll.manager_ref
    ]
    return problems


def _add_collection(spec: _Spec, coll: CollectionDef) -> None:
    origin = f"collection {coll.name}"
    owner = _owner_columns(coll)
    for col in owner:
        spec.add(col, "string" if col.endswith("_type") else "bigint", origin)
    if coll.sti:
        spec.add("type", "string", origin)
        spec.index(("type",))
    for col, kind in coll.columns.items():
        spec.add(col, kind, origin)
    for ref in coll.references.values():
        spec.add(ref.column, "string" if ref.kind == "ancestry" else "bigint", origin)
        if ref.type_column:
            spec.add(ref.type_column, "string", origin)
    for col in coll.timestamps:
        spec.add(col, "datetime", origin)
    if coll.archives:  # archived rows: ``deleted_on`` set (ManageIQ's ArchivedMixin)
        spec.add("deleted_on", "datetime", origin)
    first = attribute_columns(coll, coll.manager_ref[0]) if coll.manager_ref else ()
    spec.index(owner)
    spec.index(owner + first)
    if coll.delete == "disconnect":
        spec.index(first)
    if not owner:  # rows are found through their parent: index the parent link(s)
        parents = set(coll.parent_collections)
        for attr in coll.manager_ref:
            link = coll.references.get(attr)
            if link is not None and parents.intersection(link.collections):
                spec.index(attribute_columns(coll, attr))
    for attrs in coll.secondary_refs.values():
        spec.index([c for a in attrs for c in attribute_columns(coll, a)])


def _add_join(spec: _Spec, columns: Sequence[str], origin: str) -> None:
    for col in columns:
        spec.add(col, "bigint", origin)
        spec.index((col,))


def _assemble(catalogue: Catalogue) -> tuple[dict[str, _Spec], list[str]]:
    problems: list[str] = []
    specs: dict[str, _Spec] = {}

    def spec_for(table: str) -> _Spec:
        return specs.setdefault(table, _Spec(table, problems))

    for name, columns in CORE_TABLES.items():
        core = spec_for(name)
        for col, kind in columns:
            core.add(col, kind, f"core table {name}", CORE_COLUMN_TYPES)
        for cols in _CORE_INDEXES.get(name, []):
            core.index(cols)
    for coll in catalogue.collections.values():
        problems += _collection_problems(coll, catalogue)
        _add_collection(spec_for(coll.table), coll)
    for tdef in catalogue.tables.values():
        spec = spec_for(tdef.name)
        for col, kind in tdef.columns.items():
            spec.add(col, kind, f"table {tdef.name}")
            if col.endswith("_id"):
                spec.index((col,))
        for cols in tdef.unique:
            missing = [c for c in cols if c not in spec.columns]
            if missing:
                problems.append(f"table {tdef.name}: unique columns {missing} are not columns")
            spec.uniques.append(tuple(cols))
    for coll in catalogue.collections.values():
        for link in coll.many_to_many.values():
            spec = spec_for(link.join_table)
            _add_join(
                spec,
                (link.own_column, link.other_column),
                f"collection {coll.name} many_to_many {link.name}",
            )
            if link.join_table not in catalogue.tables and not any(
                c.table == link.join_table for c in catalogue.collections.values()
            ):
                pair = (link.own_column, link.other_column)
                if pair not in spec.uniques and pair[::-1] not in spec.uniques:
                    spec.uniques.append(pair)
        missing_scope = [k for k in coll.scope if k not in specs[coll.table].columns]
        if missing_scope:
            problems.append(
                f"collection {coll.name}: scope columns {missing_scope} are not "
                f"columns of {coll.table}"
            )
    return specs, problems


def catalogue_problems(catalogue: Catalogue) -> list[str]:
    """Every inconsistency in ``catalogue`` (empty when tables can be built from it)."""
    return _assemble(catalogue)[1]


def _name(prefix: str, table: str, columns: Sequence[str]) -> str:
    name = f"{prefix}_{table}_{'_'.join(columns)}"
    if len(name) <= MAX_NAME:
        return name
    digest = hashlib.sha1(name.encode()).hexdigest()[:10]
    return f"{name[: MAX_NAME - 11]}_{digest}"


def _table(metadata: MetaData, spec: _Spec) -> Table:
    if spec.name == "miqspec_refresh_locks":
        key = Column("ems_id", BigInteger, primary_key=True, autoincrement=False)
    else:
        key = Column(
            "id",
            BigInteger().with_variant(Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        )
    unique = _CORE_UNIQUE.get(spec.name, ())
    columns = [key]
    for col, kind in spec.columns.items():
        extra: dict[str, Any] = {}
        if spec.name == "ext_management_systems" and col == "enabled":
            extra = {"default": True, "server_default": true()}
        columns.append(Column(col, column_type(kind), nullable=True, unique=col in unique, **extra))
    args: list[Any] = [
        UniqueConstraint(*cols, name=_name("uq", spec.name, cols)) for cols in spec.uniques
    ]
    args += [
        Index(_name("ix", spec.name, cols), *cols)
        for cols in spec.indexes
        if not (len(cols) == 1 and cols[0] in unique)
    ]
    return Table(spec.name, metadata, *columns, *args)


class Tables:
    """The built tables: ``tables["vms"]`` by table name, ``tables.collection("vms")``."""

    def __init__(self, metadata: MetaData, catalogue: Catalogue) -> None:
        self.metadata = metadata
        self.catalogue = catalogue

    def __getitem__(self, name: str) -> Table:
        return self.metadata.tables[name]

    def __contains__(self, name: object) -> bool:
        return name in self.metadata.tables

    def __iter__(self) -> Iterator[str]:
        return iter(self.metadata.tables)

    def __len__(self) -> int:
        return len(self.metadata.tables)

    def collection(self, name: str) -> Table:
        """The table holding collection ``name``'s rows (KeyError if there is no such one)."""
        return self.metadata.tables[self.catalogue.collections[name].table]

    def owner_columns(self, name: str) -> tuple[str, ...]:
        """The columns pointing a collection's rows at their manager (empty for owner none)."""
        return _owner_columns(self.catalogue.collections[name])


def build_tables(catalogue: Catalogue | None = None) -> Tables:
    """Tables for ``catalogue`` (default: the shipped catalogue) plus the core tables."""
    catalogue = catalogue if catalogue is not None else load_catalogue()
    specs, problems = _assemble(catalogue)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise SpecError(f"inventory catalogue: {problems[0]}{more}")
    metadata = MetaData()
    for name in sorted(specs):
        _table(metadata, specs[name])
    return Tables(metadata, catalogue)


def build_metadata(catalogue: Catalogue | None = None) -> MetaData:
    """The SQLAlchemy ``MetaData`` for ``catalogue`` (default: the shipped one)."""
    return build_tables(catalogue).metadata
