"""Credential rows typed as ManageIQ types them (issue 16, point 22): ``AuthToken`` for a
token alone, ``AuthKeyPair`` for a user and a key, ``AuthUseridPassword`` otherwise, or what
the form says, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime

import pytest
import sqlalchemy as sa

from miqspec.errors import UsageError
from miqspec.store.provider_credentials import (
    CredentialTables,
    credential_type,
    read_credentials,
    write_credentials,
)
from miqspec.store.tables_cache import build_metadata_cached

FLAT = {
    "authentications.default.userid": "admin",
    "authentications.default.password": "secret",
    "authentications.bearer.auth_key": "token-123",
    "authentications.ssh_keypair.userid": "root",
    "authentications.ssh_keypair.auth_key": "-----BEGIN KEY-----",
    "authentications.metrics.auth_key": "t",
    "authentications.metrics.type": "ManageIQ::Providers::Acme::AuthToken",
}


def test_rows_are_typed_by_what_they_hold_or_the_form(engine, keyring):
    tables = CredentialTables.of(build_metadata_cached())
    with engine.begin() as conn:
        write_credentials(tables, conn, 7, FLAT, keyring, datetime(2024, 5, 1))
        auths = tables.auths
        got = dict(conn.execute(sa.select(auths.c.authtype, auths.c.type)).all())
    assert got == {
        "default": "AuthUseridPassword",
        "bearer": "AuthToken",
        "ssh_keypair": "AuthKeyPair",
        "metrics": "ManageIQ::Providers::Acme::AuthToken",
    }
    back = read_credentials(engine, tables, 7, keyring)
    assert back["authentications.metrics.type"] == "ManageIQ::Providers::Acme::AuthToken"
    assert back["authentications.bearer.auth_key"] == "token-123"


def test_a_type_that_is_not_a_class_is_refused():
    with pytest.raises(UsageError, match=r"authentications.default.type: 'drop table'"):
        credential_type("default", {"type": "drop table"})
