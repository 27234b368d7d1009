"""Provider records: the manager row, its child managers, zone, and what list/show read.

Takes: a ``Spec``, a provider name, region, zone and form values (nested like the ManageIQ UI
sends them), a database ``Engine`` and a ``KeyRing``.
Gives: ``ProviderStore``: rows in ``ext_management_systems`` (and child managers, like
ManageIQ's ``ensure_managers``) and ``zones``, with endpoints and credentials written and read
back by :mod:`miqspec.store.provider_credentials`; ``args`` rebuilds the decrypted argument hash
used to connect; ``record_auth_status`` records a verify result, ``record_refresh`` a refresh's
outcome; ``edit`` changes form values, credentials or the spec reference and keeps the
inventory; ``check_fields_of`` refuses unknown form fields; ``info`` gives a ``ProviderInfo``
for list/show; ``delete`` deletes it all (:mod:`miqspec.store.provider_delete`) under the
provider's refresh lock; ``unlock`` removes that lock. Also ``now``,
``manager_type`` and ``build_metadata_cached`` (the shipped catalogue's tables, once per
process: ``tables_cache``).
Form values are checked and reshaped by :mod:`miqspec.store.provider_form`.
Raises ``UsageError`` (bad name, region, URL, missing required field, duplicate name),
``NotFoundError``, ``RefreshBusyError`` (delete, unlock), ``DatabaseError``. Does database I/O.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from miqspec.errors import DatabaseError, NotFoundError, UsageError
from miqspec.parse import MANAGER_CLASS
from miqspec.spec import ENGINE_ROW_COLUMNS, INPUT_COMPONENTS, Spec
from miqspec.store.clock import now
from miqspec.store.credentials import KeyRing
from miqspec.store.database import error_reason
from miqspec.store.lock_holder import Holder
from miqspec.store.provider_credentials import (
    CredentialTables,
    read_credentials,
    write_credentials,
)
from miqspec.store.provider_delete import delete_provider
from miqspec.store.provider_form import (
    check_args,
    check_fields,
    check_name,
    flatten_form,
    nest_form,
)
from miqspec.store.refresh_lock import RefreshLock, unlock_refresh
from miqspec.store.spec_refs import describe_ref, spec_ref
from miqspec.store.tables_cache import build_metadata_cached


def manager_type(spec: Spec, kind: str | None = None) -> str:
    return f"{spec.provider.namespace}::{MANAGER_CLASS[kind or spec.provider.manager_type]}"


@dataclass(frozen=True)
class ProviderInfo:
    """A provider as ``provider list``/``show`` tell it (never its credentials)."""

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
    event_stream: str | None = None  # "ok", "failing" (api: miqspec_event_cursors); None: never
    last_event_poll_date: datetime | None = None
    last_event_error: str | None = None
    last_event_error_date: datetime | None = None

    @property
    def spec_source(self) -> str:
        """Where the spec comes from: ``awesome_cloud (shipped with miqspec)`` or
        ``/path/to/x.yaml (file)``."""
        return describe_ref(self.spec_path)


class ProviderStore:
    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.md = build_metadata_cached()
        self.ems = self.md.tables["ext_management_systems"]
        self.endpoints = self.md.tables["endpoints"]
        self.auths = self.md.tables["authentications"]
        self.zones = self.md.tables["zones"]
        self.credential_tables = CredentialTables(self.endpoints, self.auths)

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
        check_name(name)
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
                    spec_path=spec_ref(spec),
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
                write_credentials(self.credential_tables, conn, ems_id, flat, keyring, ts)
        except sa.exc.SQLAlchemyError as exc:
            raise DatabaseError(f"cannot add provider {name!r}: {error_reason(exc)}") from None
        return ems_id

    @staticmethod
    def check_fields_of(spec: Spec, names: list[str], what: str = "--set") -> None:
        """``UsageError`` (with a did-you-mean) for a name that is not a form field of ``spec``."""
        check_fields(spec, names, what)

    @staticmethod
    def check_args_of(spec: Spec, args: Mapping[str, Any]) -> None:
        """``UsageError`` for an unknown region, a missing required field or a bad URL."""
        check_args(spec, args)

    def edit(
        self,
        name: str,
        changes: Mapping[str, Any],
        keyring: KeyRing,
        spec: Spec,
        zone: str | None = None,
    ) -> int:
        """Change provider ``name``'s form values (``changes``: flat field names to values,
        merged into the stored ones), its spec reference (``spec``, which must be for the same
        provider kind) and zone, in one transaction; endpoint and credential rows are
        rewritten (secrets encrypted), the inventory is kept. Gives the provider's id."""
        ems = self.row(name)
        if spec.provider.name != ems["spec_name"]:
            raise UsageError(
                f"provider {name!r} is a {ems['spec_name']} provider; the spec "
                f"{spec.path} is for {spec.provider.name} (add a new provider for it)"
            )
        flat = flatten_form(self.args(ems, keyring))
        changes = flatten_form(changes)
        self.check_fields_of(spec, [k for k in changes if k not in flat], "field")
        for key in ("zone_id", "uid_ems"):
            flat.pop(key, None)
        flat.update(changes)
        check_args(spec, nest_form(flat))
        ts = now()
        ids = [ems["id"], *self.children(ems["id"]).values()]
        common: dict[str, Any] = dict(
            provider_region=flat.get("provider_region"), spec_path=spec_ref(spec), updated_on=ts
        )
        tables = self.credential_tables
        try:
            with self.engine.begin() as conn:
                if zone is not None:
                    common["zone_id"] = self._zone_id(conn, zone)
                conn.execute(self.ems.update().where(self.ems.c.id.in_(ids)).values(**common))
                form = self._form_values(spec, flat)
                options = _json_mapping(ems.get("options"))
                options.pop("form", None)
                options.update(form.pop("options", {}))
                form["options"] = options or None
                conn.execute(self.ems.update().where(self.ems.c.id == ems["id"]).values(**form))
                for table in (tables.endpoints, tables.auths):
                    conn.execute(
                        table.delete().where(
                            table.c.resource_type == "ExtManagementSystem",
                            table.c.resource_id == ems["id"],
                        )
                    )
                write_credentials(tables, conn, ems["id"], flat, keyring, ts)
        except sa.exc.SQLAlchemyError as exc:
            raise DatabaseError(f"cannot edit provider {name!r}: {error_reason(exc)}") from None
        return int(ems["id"])

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
        flat.update(read_credentials(self.engine, self.credential_tables, ems["id"], keyring))
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

    def record_refresh(self, ems_id: int, error: str | None) -> None:
        """A refresh's outcome on the provider row and its child managers' rows:
        ``last_refresh_date`` always; ``error`` None (success) clears ``last_refresh_error`` and
        sets ``last_refresh_success_date``, else ``error`` (its first 4000 characters) is kept."""
        stamp = now()
        values: dict[str, Any] = {"last_refresh_date": stamp, "updated_on": stamp}
        if error is None:
            values.update(last_refresh_error=None, last_refresh_success_date=stamp)
        else:
            values["last_refresh_error"] = error[:4000]
        try:
            with self.engine.begin() as conn:
                ids = [ems_id, *self.children(ems_id).values()]
                conn.execute(self.ems.update().where(self.ems.c.id.in_(ids)).values(**values))
        except sa.exc.SQLAlchemyError as exc:
            raise DatabaseError(f"cannot record refresh status: {error_reason(exc)}") from None

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

    def delete(self, name: str, wait: float = 0.0) -> int:
        """Delete a provider and all it owns (see :mod:`miqspec.store.provider_delete`) under
        its refresh lock, waiting up to ``wait`` seconds for a running refresh to finish
        (``RefreshBusyError`` after that); returns how many manager rows went."""
        ems = self.row(name)
        ids = [ems["id"], *self.children(ems["id"]).values()]
        with RefreshLock(self.engine, ems["id"], name, wait=wait, purpose="delete"):
            return delete_provider(self.engine, self.md, ems, ids)

    def unlock(self, name: str, force: bool = False) -> Holder | None:
        """Remove provider ``name``'s refresh lock (``refresh_lock.unlock_refresh``); gives
        who held it (None: it was not locked)."""
        return unlock_refresh(self.engine, self.row(name)["id"], name, force=force)


def _json_mapping(value: Any) -> dict[str, Any]:
    """A JSON column's mapping (stored as text or already decoded); {} for anything else."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    return dict(value) if isinstance(value, Mapping) else {}
