"""A provider's endpoints and credentials: form values to rows and back.

Takes: a ``ProviderStore`` (its engine and ``endpoints``/``authentications`` tables), a
connection inside the store's transaction, flat form values (``endpoints.<role>.<field>``,
``authentications.<authtype>.<field>``) and a ``KeyRing``.
Gives: ``write_credentials`` (endpoint and authentication rows; secrets encrypted, fields
without a column kept as JSON ``options``), ``read_credentials`` (the flat form values back,
secrets decrypted) and the column sets ``AUTH_COLUMNS``, ``ENCRYPTED``, ``ENDPOINT_COLUMNS``.
Raises: ``sqlalchemy`` errors for the caller to wrap; ``KeyRing`` errors for a secret it cannot
decrypt. Does database I/O.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from miqspec.store.credentials import KeyRing

if TYPE_CHECKING:
    from miqspec.store.providers import ProviderStore

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


def write_credentials(
    store: ProviderStore,
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
                store.endpoints.insert().values(
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
                store.auths.insert().values(
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


def read_credentials(store: ProviderStore, ems_id: int, keyring: KeyRing) -> dict[str, Any]:
    """A provider's endpoint and credential values as flat form fields
    (``endpoints.<role>.<column>``, ``authentications.<authtype>.<column>``), passwords
    decrypted (never printed)."""
    flat: dict[str, Any] = {}
    owner = (
        store.endpoints.c.resource_type == "ExtManagementSystem",
        store.endpoints.c.resource_id == ems_id,
    )
    with store.engine.connect() as conn:
        for row in conn.execute(sa.select(store.endpoints).where(*owner)).mappings():
            for col in ENDPOINT_COLUMNS:
                if row[col] is not None:
                    flat[f"endpoints.{row['role']}.{col}"] = row[col]
            for k, v in json.loads(row["options"] or "{}").items():
                flat[f"endpoints.{row['role']}.{k}"] = v
        for row in conn.execute(
            sa.select(store.auths).where(
                store.auths.c.resource_type == "ExtManagementSystem",
                store.auths.c.resource_id == ems_id,
                store.auths.c.authtype.is_not(None),
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
    return flat
