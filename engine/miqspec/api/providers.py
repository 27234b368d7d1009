"""Providers in the public API: add, edit, list, show, delete, unlock, and the form-field
check the CLI runs on ``--set``. A provider's status includes its event stream's (the worker's
catcher: ``ok`` or ``failing`` with the last error, from its ``miqspec_event_cursors`` row).
Re-exported by ``miqspec.api``."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from miqspec import store
from miqspec.api.database import Database
from miqspec.spec import Spec
from miqspec.store import EventLog, ProviderInfo, ProviderStore

# -- providers ------------------------------------------------------------------------------


def add_provider(
    db: Database, spec: Spec, name: str, args: Mapping[str, Any], *, zone: str = "default"
) -> ProviderInfo:
    """Create provider ``name`` of ``spec`` with its child managers, endpoints and encrypted
    credentials from ``args`` (nested as ManageIQ's UI sends them: ``provider_region``,
    ``endpoints.default.*``, ``authentications.default.*``). ``UsageError`` for a name in use
    or against the rule (docs/cli.md), an unknown region, a missing required field or a
    password inside a URL. A shipped spec is stored by its name,
    a file by its path."""
    ProviderStore(db.engine).add(spec, name, args, db.keyring, zone=zone)
    return provider_info(db, name)


def edit_provider(
    db: Database,
    name: str,
    changes: Mapping[str, Any],
    *,
    spec: Spec | None = None,
    zone: str | None = None,
) -> ProviderInfo:
    """Change provider ``name`` keeping its inventory: ``changes`` are form values (flat, like
    ``endpoints.default.url``, or nested) merged into the stored ones, secrets encrypted;
    ``spec`` (same provider kind) replaces the spec it refers to; ``zone`` moves it. The result
    is checked as ``add_provider`` checks (``UsageError``)."""
    providers = ProviderStore(db.engine)
    loaded = spec or store.spec_for(providers.row(name))
    providers.edit(name, changes, db.keyring, loaded, zone=zone)
    return provider_info(db, name)


def provider_spec(db: Database, name: str) -> Spec:
    """The spec provider ``name`` refers to, loaded; ``NotFoundError`` when it is gone."""
    return store.spec_for(ProviderStore(db.engine).row(name))


def check_form_fields(spec: Spec, names: list[str], what: str = "--set") -> None:
    """``UsageError`` naming the first of ``names`` (flat field names) that ``spec``'s form
    lacks, with the closest field it has (did you mean ...?)."""
    ProviderStore.check_fields_of(spec, names, what)


def provider_names(db: Database) -> list[str]:
    """The names of all providers, sorted."""
    return ProviderStore(db.engine).names()


def list_providers(db: Database) -> list[ProviderInfo]:
    """Every provider with region, credential and refresh status, sorted by name."""
    providers = ProviderStore(db.engine)
    return [_with_stream(db, providers.info(name)) for name in providers.names()]


def provider_info(db: Database, name: str) -> ProviderInfo:
    """Provider ``name``'s status (never its credentials); ``NotFoundError`` if there is none."""
    return _with_stream(db, ProviderStore(db.engine).info(name))


def _with_stream(db: Database, info: ProviderInfo) -> ProviderInfo:
    """``info`` with its event stream's state: ``failing`` while the last poll failed (the
    error and its time kept), ``ok`` after a poll that stored; unchanged before any poll."""
    status = EventLog(db.engine).status(info.id)
    if status is None:
        return info
    error = status.get("last_event_error")
    return dataclasses.replace(
        info,
        event_stream="failing" if error else "ok",
        last_event_poll_date=status.get("last_poll_date"),
        last_event_error=error,
        last_event_error_date=status.get("last_event_error_date") if error else None,
    )


def delete_provider(db: Database, name: str, *, wait: float = 60.0) -> int:
    """Delete provider ``name`` with its child managers, credentials and inventory in one
    transaction, under its refresh lock: a running refresh is waited for up to ``wait``
    seconds (then ``RefreshBusyError``, nothing deleted); gives how many manager rows went."""
    return ProviderStore(db.engine).delete(name, wait=wait)


def unlock_provider(db: Database, name: str, *, force: bool = False) -> str | None:
    """Remove provider ``name``'s refresh lock, left by a process that cannot release it;
    gives who held it (None: it was not locked). A holder running on this host keeps it
    unless ``force`` (``RefreshBusyError``)."""
    holder = ProviderStore(db.engine).unlock(name, force=force)
    return None if holder is None else holder.describe()
