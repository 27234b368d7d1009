"""A provider's endpoints and credentials: form values to rows and back.

Takes: ``CredentialTables`` (the ``endpoints`` and ``authentications`` tables), a connection
(inside the caller's transaction) or an engine, flat form values (``endpoints.<role>.<field>``,
``authentications.<authtype>.<field>``) and a ``KeyRing``.
Gives: ``write_credentials`` (endpoint and authentication rows; secrets encrypted, fields
without a column kept as JSON ``options``; each credential row typed by ``credential_type``:
ManageIQ's ``AuthUseridPassword``, ``AuthToken`` or ``AuthKeyPair``), ``read_credentials``
(the flat form values back, secrets decrypted) and the column sets ``AUTH_COLUMNS``,
``ENCRYPTED``, ``ENDPOINT_COLUMNS``.
Raises: ``UsageError`` (a password inside an endpoint URL, a credential ``type`` that is not
a class name); ``sqlalchemy`` errors for the caller to wrap; ``KeyRing`` errors for a secret
it cannot decrypt. Does database I/O.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from miqspec.errors import UsageError
from miqspec.store.credentials import KeyRing
from miqspec.store.provider_form import check_urls

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

_CLASS = re.compile(r"[A-Z][A-Za-z0-9]*(::[A-Z][A-Za-z0-9]*)*")


def credential_type(role: str, values: Mapping[str, Any]) -> str:
    """ManageIQ's class of one credential row: the form's own ``type`` for it (a hidden field
    ``authentications.<role>.type``), else what it holds: a token alone (``auth_key``, no
    ``userid`` or ``password``) ``AuthToken``; a user and a key (``userid`` and ``auth_key``,
    no ``password``) ``AuthKeyPair``; else ``AuthUseridPassword``."""
    chosen = values.get("type")
    if chosen is not None and chosen != "":
        if not isinstance(chosen, str) or not _CLASS.fullmatch(chosen):
            raise UsageError(
                f"authentications.{role}.type: {str(chosen)[:60]!r} is not a class name "
                "(AuthUseridPassword, AuthToken, AuthKeyPair, ...)"
            )
        return chosen
    held = {k for k in ("userid", "password", "auth_key") if values.get(k) not in (None, "")}
    if "auth_key" in held and "password" not in held:
        return "AuthKeyPair" if "userid" in held else "AuthToken"
    return "AuthUseridPassword"


@dataclass(frozen=True)
class CredentialTables:
    """The two tables a provider's endpoints and credentials live in."""

    endpoints: sa.Table
    auths: sa.Table

    @classmethod
    def of(cls, md: sa.MetaData) -> CredentialTables:
        return cls(md.tables["endpoints"], md.tables["authentications"])


def write_credentials(
    tables: CredentialTables,
    conn: sa.Connection,
    ems_id: int,
    flat: Mapping[str, Any],
    keyring: KeyRing,
    ts: datetime,
) -> None:
    """Insert the endpoint and authentication rows of ``flat`` (secrets encrypted); an endpoint
    value holding a URL with a password is refused (``UsageError``), whatever path writes."""
    check_urls({k: v for k, v in flat.items() if k.startswith("endpoints.")})
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
                tables.endpoints.insert().values(
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
                tables.auths.insert().values(
                    name=f"{role} credentials",
                    authtype=role,
                    type=credential_type(role, values),
                    options=json.dumps(extra) if extra else None,
                    created_on=ts,
                    updated_on=ts,
                    credentials_changed_on=ts,
                    **owner,
                    **cols,
                )
            )


def read_credentials(
    engine: sa.Engine, tables: CredentialTables, ems_id: int, keyring: KeyRing
) -> dict[str, Any]:
    """A provider's endpoint and credential values as flat form fields
    (``endpoints.<role>.<column>``, ``authentications.<authtype>.<column>``), passwords
    decrypted (never printed)."""
    flat: dict[str, Any] = {}
    endpoints, auths = tables.endpoints, tables.auths
    owner = (
        endpoints.c.resource_type == "ExtManagementSystem",
        endpoints.c.resource_id == ems_id,
    )
    with engine.connect() as conn:
        for row in conn.execute(sa.select(endpoints).where(*owner)).mappings():
            for col in ENDPOINT_COLUMNS:
                if row[col] is not None:
                    flat[f"endpoints.{row['role']}.{col}"] = row[col]
            for k, v in json.loads(row["options"] or "{}").items():
                flat[f"endpoints.{row['role']}.{k}"] = v
        for row in conn.execute(
            sa.select(auths).where(
                auths.c.resource_type == "ExtManagementSystem",
                auths.c.resource_id == ems_id,
                auths.c.authtype.is_not(None),
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
