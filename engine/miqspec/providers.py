"""Provider records: the manager row, its child managers, endpoints and credentials.

Takes: a ``Spec``, a provider name, region, zone and form values (nested like the ManageIQ UI
sends them), a database ``Engine`` and a ``KeyRing``.
Gives: rows in ``ext_management_systems`` (and child managers, like ManageIQ's
``ensure_managers``), ``endpoints``, ``authentications`` (passwords encrypted), ``zones``;
``provider_args`` rebuilds the decrypted argument hash used to connect; ``ProviderInfo`` for
list/show. Raises ``UsageError`` (bad region, missing required field, duplicate name),
``NotFoundError``, ``DatabaseError``. Does database I/O.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from .cascade import cascade
from .credentials import KeyRing
from .errors import DatabaseError, NotFoundError, UsageError
from .inventory import load_catalogue
from .model import ENGINE_ROW_COLUMNS, INPUT_COMPONENTS, Spec
from .parse import MANAGER_CLASS, camelize
from .persist_db import Db
from .tables import build_metadata

AUTH_COLUMNS = {
    "userid",
    "password",
    "auth_key",
    "auth_key_password",
    "service_account",
    "become_username",
    "become_password",
    "become_method",
}
ENCRYPTED = {"password", "auth_key", "auth_key_password", "become_password", "service_account"}
ENDPOINT_COLUMNS = {
    "hostname",
    "ipaddress",
    "port",
    "url",
    "path",
    "security_protocol",
    "verify_ssl",
    "certificate_authority",
}


def now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def manager_type(spec: Spec, kind: str | None = None) -> str:
    return (
        f"ManageIQ::Providers::{camelize(spec.provider.name)}::"
        + MANAGER_CLASS[kind or spec.provider.manager_type]
    )


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


@dataclass(frozen=True)
class ProviderInfo:
    id: int
    name: str
    type: str
    spec_name: str
    spec_path: str
    region: str | None
    zone: str | None
    last_refresh_date: datetime | None
    last_refresh_success_date: datetime | None
    last_refresh_error: str | None
    auth_status: str | None
    auth_status_details: str | None
    children: tuple[str, ...]
    refresh_interval: int | None = None


class ProviderStore:
    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.md = build_metadata_cached()
        self.ems = self.md.tables["ext_management_systems"]
        self.endpoints = self.md.tables["endpoints"]
        self.auths = self.md.tables["authentications"]
        self.zones = self.md.tables["zones"]

    def _zone_id(self, conn: sa.Connection, zone: str) -> int:
        row = conn.execute(sa.select(self.zones.c.id).where(self.zones.c.name == zone)).first()
        if row:
            return int(row[0])
        ts = now()
        res = conn.execute(
            self.zones.insert().values(name=zone, description=zone, created_on=ts, updated_on=ts)
        )
        key = res.inserted_primary_key
        return int(key[0]) if key else 0

    def add(
        self,
        spec: Spec,
        name: str,
        args: Mapping[str, Any],
        keyring: KeyRing,
        zone: str = "default",
    ) -> int:
        check_args(spec, args)
        ts = now()
        flat = flatten_form(args)
        try:
            with self.engine.begin() as conn:
                if conn.execute(sa.select(self.ems.c.id).where(self.ems.c.name == name)).first():
                    raise UsageError(f"a provider named {name!r} exists already")
                zone_id = self._zone_id(conn, zone)
                base = dict(
                    zone_id=zone_id,
                    provider_region=args.get("provider_region"),
                    spec_name=spec.provider.name,
                    spec_path=spec.path,
                    enabled=True,
                    created_on=ts,
                    updated_on=ts,
                )
                inserted = conn.execute(
                    self.ems.insert().values(
                        name=name,
                        type=manager_type(spec),
                        guid=str(uuid.uuid4()),
                        uid_ems=flat.get("uid_ems"),
                        **self._form_values(spec, flat),
                        **base,
                    )
                ).inserted_primary_key
                ems_id = int(inserted[0]) if inserted else 0
                for kind in spec.provider.child_managers:
                    label = MANAGER_CLASS[kind].replace("Manager", " Manager")
                    conn.execute(
                        self.ems.insert().values(
                            name=f"{name} {label}",
                            type=manager_type(spec, kind),
                            guid=str(uuid.uuid4()),
                            parent_ems_id=ems_id,
                            **base,
                        )
                    )
                self._write_credentials(conn, ems_id, flat, keyring, ts)
        except sa.exc.SQLAlchemyError as exc:
            raise DatabaseError(f"cannot add provider {name!r}: {type(exc).__name__}") from None
        return ems_id

    def _row_columns(self) -> set[str]:
        """ext_management_systems columns a form field may set (the rest the engine owns)."""
        return set(self.ems.c.keys()) - ENGINE_ROW_COLUMNS

    def _form_values(self, spec: Spec, flat: Mapping[str, Any]) -> dict[str, Any]:
        """Top-level form values for the provider row: fields marked ``column`` that the table
        has go to their column, the others to ``options`` (``{"form": {...}}``)."""
        columns, extra = {}, {}
        for f in spec.form:
            if (
                "." in f.name
                or f.component not in INPUT_COMPONENTS
                or f.name not in flat
                or (f.name in ("provider_region", "uid_ems"))
            ):
                continue
            if f.column and f.name in self._row_columns():
                columns[f.name] = flat[f.name]
            else:
                extra[f.name] = flat[f.name]
        if extra:
            columns["options"] = {"form": extra}
        return columns

    def _write_credentials(
        self,
        conn: sa.Connection,
        ems_id: int,
        flat: Mapping[str, Any],
        keyring: KeyRing,
        ts: datetime,
    ) -> None:
        roles: dict[tuple[str, str], dict[str, Any]] = {}
        for field_name, value in flat.items():
            parts = field_name.split(".")
            if (
                len(parts) == 3
                and parts[0] in ("endpoints", "authentications")
                and (parts[2] != "valid")
            ):
                roles.setdefault((parts[0], parts[1]), {})[parts[2]] = value
        owner = dict(resource_type="ExtManagementSystem", resource_id=ems_id)
        for (kind, role), values in sorted(roles.items()):
            if kind == "endpoints":
                cols = {k: v for k, v in values.items() if k in ENDPOINT_COLUMNS}
                if "verify_ssl" in cols:
                    cols["verify_ssl"] = 1 if cols["verify_ssl"] not in (False, 0, "0") else 0
                extra = {k: v for k, v in values.items() if k not in ENDPOINT_COLUMNS}
                conn.execute(
                    self.endpoints.insert().values(
                        role=role,
                        options=json.dumps(extra) if extra else None,
                        created_at=ts,
                        updated_at=ts,
                        **owner,
                        **cols,
                    )
                )
            else:
                cols = {
                    k: (keyring.encrypt(str(v)) if k in ENCRYPTED and v else v)
                    for k, v in values.items()
                    if k in AUTH_COLUMNS
                }
                extra = {k: v for k, v in values.items() if k not in AUTH_COLUMNS}
                conn.execute(
                    self.auths.insert().values(
                        name=f"{role} credentials",
                        authtype=role,
                        type="AuthUseridPassword",
                        options=json.dumps(extra) if extra else None,
                        created_on=ts,
                        updated_on=ts,
                        credentials_changed_on=ts,
                        **owner,
                        **cols,
                    )
                )

    def row(self, name: str) -> Mapping[str, Any]:
        with self.engine.connect() as conn:
            row = (
                conn.execute(
                    sa.select(self.ems).where(
                        self.ems.c.name == name, self.ems.c.parent_ems_id.is_(None)
                    )
                )
                .mappings()
                .first()
            )
        if row is None:
            raise NotFoundError(f"no provider named {name!r} (see miqspec provider list)")
        return dict(row)

    def names(self) -> list[str]:
        with self.engine.connect() as conn:
            return [
                r[0]
                for r in conn.execute(
                    sa.select(self.ems.c.name)
                    .where(self.ems.c.parent_ems_id.is_(None))
                    .order_by(self.ems.c.name)
                )
            ]

    def children(self, ems_id: int) -> dict[str, int]:
        """Child managers by kind (network, storage)."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(self.ems.c.id, self.ems.c.type).where(self.ems.c.parent_ems_id == ems_id)
            ).all()
        out = {}
        for rid, rtype in rows:
            for kind, cls in MANAGER_CLASS.items():
                if str(rtype).endswith("::" + cls):
                    out[kind] = int(rid)
        return out

    def args(self, ems: Mapping[str, Any], keyring: KeyRing) -> dict[str, Any]:
        """The decrypted nested argument hash to connect with (never printed)."""
        flat: dict[str, Any] = {
            "provider_region": ems["provider_region"],
            "uid_ems": ems["uid_ems"],
            "zone_id": ems["zone_id"],
        }
        flat.update(
            (c, ems[c])
            for c in sorted(self._row_columns())
            if ems.get(c) is not None and c not in flat
        )
        options = _json_mapping(ems.get("options"))
        flat.update(_json_mapping(options.get("form")))
        owner = (
            self.endpoints.c.resource_type == "ExtManagementSystem",
            self.endpoints.c.resource_id == ems["id"],
        )
        with self.engine.connect() as conn:
            for row in conn.execute(sa.select(self.endpoints).where(*owner)).mappings():
                for col in ENDPOINT_COLUMNS:
                    if row[col] is not None:
                        flat[f"endpoints.{row['role']}.{col}"] = row[col]
                for k, v in json.loads(row["options"] or "{}").items():
                    flat[f"endpoints.{row['role']}.{k}"] = v
            for row in conn.execute(
                sa.select(self.auths).where(
                    self.auths.c.resource_type == "ExtManagementSystem",
                    self.auths.c.resource_id == ems["id"],
                    self.auths.c.authtype.is_not(None),
                )
            ).mappings():
                for col in AUTH_COLUMNS:
                    if row[col] is not None:
                        value = row[col]
                        flat[f"authentications.{row['authtype']}.{col}"] = (
                            keyring.decrypt(value) if col in ENCRYPTED else value
                        )
                for k, v in json.loads(row["options"] or "{}").items():
                    flat[f"authentications.{row['authtype']}.{k}"] = v
        return nest_form(flat)

    def record_auth_status(self, ems_id: int, status: str, details: str) -> None:
        ts = now()
        values: dict[str, Any] = {"status": status, "status_details": details, "updated_on": ts}
        if status == "Valid":
            values["last_valid_on"] = ts
        else:
            values["last_invalid_on"] = ts
        with self.engine.begin() as conn:
            conn.execute(
                self.auths.update()
                .where(
                    self.auths.c.resource_type == "ExtManagementSystem",
                    self.auths.c.resource_id == ems_id,
                    self.auths.c.authtype.is_not(None),
                )
                .values(**values)
            )

    def info(self, name: str) -> ProviderInfo:
        ems = self.row(name)
        with self.engine.connect() as conn:
            auth = conn.execute(
                sa.select(self.auths.c.status, self.auths.c.status_details).where(
                    self.auths.c.resource_type == "ExtManagementSystem",
                    self.auths.c.resource_id == ems["id"],
                    self.auths.c.authtype == "default",
                )
            ).first()
            zone = conn.execute(
                sa.select(self.zones.c.name).where(self.zones.c.id == ems["zone_id"])
            ).scalar()
            kids = (
                conn.execute(
                    sa.select(self.ems.c.name).where(self.ems.c.parent_ems_id == ems["id"])
                )
                .scalars()
                .all()
            )
        return ProviderInfo(
            id=ems["id"],
            name=ems["name"],
            type=ems["type"],
            spec_name=ems["spec_name"],
            spec_path=ems["spec_path"],
            region=ems["provider_region"],
            zone=zone,
            last_refresh_date=ems["last_refresh_date"],
            last_refresh_success_date=ems["last_refresh_success_date"],
            last_refresh_error=ems["last_refresh_error"],
            auth_status=auth[0] if auth else None,
            auth_status_details=auth[1] if auth else None,
            children=tuple(kids),
        )

    def delete(self, name: str) -> int:
        """Delete a provider, its child managers, credentials, endpoints and inventory: the
        rows owned through ``ems_id``/``manager_id``/``resource``, then (``cascade``, as
        persist's sweep does) the owner-less rows hanging off them (hardwares and disks of the
        vms, ...) and the join rows naming any deleted row; one transaction. Returns how many
        manager rows went."""
        ems = self.row(name)
        ids = [ems["id"], *self.children(ems["id"]).values()]
        catalogue = load_catalogue()
        try:
            with self.engine.begin() as conn:
                gone: dict[str, list[int]] = {self.ems.name: ids}  # table -> deleted ids
                for table in self.md.sorted_tables:
                    owned = _owned_by(table, ids)
                    if table is self.ems or owned is None:
                        continue
                    if "id" in table.c:
                        found = conn.execute(sa.select(table.c.id).where(owned)).scalars()
                        gone[table.name] = list(found)
                    conn.execute(table.delete().where(owned))
                conn.execute(self.ems.delete().where(self.ems.c.id.in_(ids)))
                db = Db(conn, self.md, catalogue, {}, dry_run=False)
                for collection, cdef in catalogue.collections.items():
                    if gone.get(cdef.table) and db.has_table(collection):
                        cascade(catalogue, db, collection, gone[cdef.table])
        except sa.exc.SQLAlchemyError as exc:
            raise DatabaseError(f"cannot delete provider {name!r}: {type(exc).__name__}") from None
        return len(ids)


def _owned_by(table: sa.Table, ids: list[int]) -> sa.ColumnElement[bool] | None:
    """Rows of ``table`` owned by one of the managers ``ids`` (None: no owner column)."""
    cols = table.c
    conds: list[sa.ColumnElement[bool]] = [
        cols[c].in_(ids) for c in ("ems_id", "manager_id") if c in cols
    ]
    if "resource_id" in cols and "resource_type" in cols:
        conds.append(
            sa.and_(cols.resource_type == "ExtManagementSystem", cols.resource_id.in_(ids))
        )
    return sa.or_(*conds) if conds else None


def _json_mapping(value: Any) -> dict[str, Any]:
    """A JSON column's mapping (stored as text or already decoded); {} for anything else."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    return dict(value) if isinstance(value, Mapping) else {}


_METADATA: sa.MetaData | None = None


def build_metadata_cached() -> sa.MetaData:
    global _METADATA
    if _METADATA is None:
        _METADATA = build_metadata(load_catalogue())
    return _METADATA
