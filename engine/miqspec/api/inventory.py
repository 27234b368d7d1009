"""Reading the saved inventory in the public API: ``InventoryRows``, ``read_inventory``
(current or archived rows) and ``inventory_counts``. Re-exported by ``miqspec.api``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from miqspec import pipeline, store
from miqspec.api.database import Database
from miqspec.errors import UsageError
from miqspec.spec import Spec
from miqspec.store import ProviderStore

MAX_LIMIT = 2**63 - 1  # the largest LIMIT SQLite and PostgreSQL take


# -- inventory ------------------------------------------------------------------------------


@dataclass(frozen=True)
class InventoryRows:
    """Rows of one collection of a provider, references named (a vm's ``flavor``: the
    flavor's name); ``columns`` are the ones worth showing, in order."""

    provider: str
    collection: str
    columns: list[str]
    rows: list[dict[str, Any]]


def inventory_counts(db: Database, name: str) -> dict[str, int]:
    """How many rows each collection of provider ``name``'s spec holds for it."""
    spec, owners, md = _inventory_scope(db, name)
    return {c: len(store.collection_rows(db.engine, md, spec, c, owners)) for c in spec.collections}


def read_inventory(
    db: Database,
    name: str,
    collection: str,
    *,
    limit: int | None = None,
    archived: bool = False,
) -> InventoryRows:
    """The rows of ``collection`` (``vms``, ``flavors``, ...) saved for provider ``name``, at
    most ``limit`` (0 or None: all; ``UsageError`` outside 0 to ``MAX_LIMIT``);
    ``NotFoundError`` for an unknown provider or collection. ``archived``: the disconnected
    rows instead (vms, templates, hosts that left the API; owner cleared, so those of every
    provider of the same spec), ``UsageError`` for a collection that is never disconnected."""
    if limit is not None and not 0 <= limit <= MAX_LIMIT:
        raise UsageError(f"limit must be a whole number from 0 to {MAX_LIMIT}, got {limit}")
    spec, owners, md = _inventory_scope(db, name)
    kind = _kind(ProviderStore(db.engine).row(name)["type"]) if archived else None
    rows = store.collection_rows(
        db.engine, md, spec, collection, owners, limit or None, archived=kind
    )
    columns = store.display_columns(rows, spec.catalogue.collections[collection])
    return InventoryRows(name, collection, columns, rows)


def _kind(manager_type: str) -> str:
    """``ManageIQ::Providers::AwesomeCloud::`` of ``ManageIQ::Providers::AwesomeCloud::X``."""
    return manager_type.rsplit("::", 1)[0] + "::"


def _inventory_scope(db: Database, name: str) -> tuple[Spec, dict[str, int], Any]:
    providers = ProviderStore(db.engine)
    ems = providers.row(name)
    spec = store.spec_for(ems)
    owners = pipeline.owners_for(spec, ems["id"], providers.children(ems["id"]))
    return spec, owners, store.spec_tables(spec)
