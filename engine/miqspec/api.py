"""The public Python API: specs, the inventory database, providers, verify, refresh, inventory.

Takes: spec file paths or shipped spec names, database URLs, provider names and argument hashes
shaped like the ones ManageIQ's UI sends. Gives: typed results (``Spec``, ``Finding``,
``ProviderInfo``, ``VerifyResult``, ``RefreshResult``, ``InventoryRows``). Raises:
``MiqspecError`` subclasses (one line each, with an ``exit_code``). Reads spec files, does
database and network I/O. What the CLI, the workers and a web API call; ``docs/python-api.md``
has a worked example. Every name here is also importable from ``miqspec``.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from miqspec import demo, pipeline, store
from miqspec.authoring import (  # author's kit
    TestResult,
    TryResult,
    expectations_for,
    load_expectations,
    test_spec,
    try_call,
)
from miqspec.collect import Progress
from miqspec.errors import (
    CredentialsError,
    DatabaseError,
    Finding,
    MiqspecError,
    NotFoundError,
    RefreshBusyError,
    SpecError,
    UnreachableError,
    UsageError,
)
from miqspec.pipeline import RefreshResult, VerifyResult
from miqspec.resources import is_shipped_name, shipped_spec, shipped_spec_names
from miqspec.simulator import SimulatorOptions, run_forever
from miqspec.spec import (
    MANAGER_TYPES,
    Spec,
    check_file,
    json_schema,
    new_spec,
    params_for_create,
)
from miqspec.spec import load_spec as load_spec_file
from miqspec.store import Engine, KeyRing, ProviderInfo, ProviderStore, nest_form, read_secret
from miqspec.workers import run_worker as _run_worker

__all__ = [
    "DEMO_NAME",
    "MANAGER_TYPES",
    "CredentialsError",
    "Database",
    "DatabaseError",
    "Finding",
    "InventoryRows",
    "MiqspecError",
    "NotFoundError",
    "Progress",
    "ProviderInfo",
    "RefreshBusyError",
    "RefreshResult",
    "Spec",
    "SpecError",
    "TestResult",
    "TryResult",
    "UnreachableError",
    "UsageError",
    "VerifyResult",
    "add_provider",
    "check_form_fields",
    "delete_provider",
    "demo_database_url",
    "edit_provider",
    "expectations_for",
    "inventory_counts",
    "json_schema",
    "list_providers",
    "load_expectations",
    "load_spec",
    "nest_form",
    "new_spec",
    "open_database",
    "params_for_create",
    "provider_info",
    "provider_names",
    "provider_spec",
    "read_inventory",
    "read_secret",
    "refresh",
    "rotate_keys",
    "run_demo",
    "run_simulator",
    "run_worker",
    "shipped_specs",
    "spec_path",
    "test_spec",
    "try_call",
    "unlock_provider",
    "validate_spec",
    "verify",
    "verify_provider",
]

DEMO_NAME = demo.DEMO_NAME
MAX_LIMIT = 2**63 - 1  # the largest LIMIT SQLite and PostgreSQL take


# -- specs ----------------------------------------------------------------------------------


def shipped_specs() -> list[str]:
    """The names of the specs shipped with miqspec (``awesome_cloud``, ...)."""
    return shipped_spec_names()


def spec_path(ref: str | Path) -> Path:
    """The file ``ref`` names: an existing file wins, else the shipped spec of that name, else
    ``ref`` itself (loading it then fails with the usual "cannot read")."""
    return Path(_spec_file(ref))


def _spec_file(ref: str | Path) -> str:
    """``ref`` as given when it is a file or no shipped spec's name, else the shipped spec."""
    text = os.fspath(ref)
    if Path(text).is_file() or not is_shipped_name(text):
        return text
    return str(shipped_spec(text))


def load_spec(ref: str | Path) -> Spec:
    """The checked, typed spec at ``ref`` (a path or a shipped spec's name); ``SpecError`` with
    every problem when it is invalid or cannot be read."""
    return load_spec_file(_spec_file(ref))


def validate_spec(ref: str | Path) -> list[Finding]:
    """Every problem of the spec at ``ref`` (a path or a shipped name), sorted; empty when it
    is valid. Problems reading the file are findings too."""
    return check_file(_spec_file(ref))


# -- the database ---------------------------------------------------------------------------


class Database:
    """An open inventory database and the key ring its credentials are encrypted with.

    ``engine`` is the SQLAlchemy engine (for reading the inventory tables directly); the key
    ring is read from ``key_file`` (default: ``MIQSPEC_KEY_FILE``, else ``$MIQSPEC_HOME/v2_key``)
    when first needed, and created with one new key when missing, unless the database holds
    encrypted secrets (``KeyRingError``, exit 11, saying how to restore it). ``created``: the
    SQLite file ``open_database`` created (None: it existed). Use as a context manager, or
    ``close`` it.
    """

    def __init__(
        self, engine: Engine, key_file: str | Path | None = None, created: Path | None = None
    ) -> None:
        self.engine, self.created = engine, created
        self.key_file = Path(key_file) if key_file is not None else None
        self._keyring: KeyRing | None = None

    @property
    def url(self) -> str:
        """The database URL, password masked."""
        return store.mask_url(self.engine.url)

    @property
    def keyring(self) -> KeyRing:
        if self._keyring is None:
            self._keyring = store.open_keyring(self.engine, self.key_file)
        return self._keyring

    def revision(self) -> str | None:
        """The schema revision the database is at."""
        return store.current_revision(self.engine)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Database:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Database({self.url!r})"


def open_database(
    url: str | None = None,
    *,
    key_file: str | Path | None = None,
    upgrade: bool = True,
    create: bool = True,
) -> Database:
    """Open the database at ``url`` (default: ``MIQSPEC_DATABASE_URL``, else a SQLite file in
    ``$MIQSPEC_HOME``), migrated to the current schema unless ``upgrade`` is false. A SQLite
    file that does not exist is created only with ``create`` (else ``NotFoundError``).
    ``DatabaseError`` (password masked) when it cannot be opened or migrated."""
    fresh = store.new_database_file(url) if create else None
    engine = store.open_database(url, create=create)
    if upgrade:
        store.upgrade(engine)
    return Database(engine, key_file, fresh)


def rotate_keys(db: Database) -> int:
    """Add a new newest key to the key file and re-encrypt every stored secret with it; gives
    how many values were re-encrypted."""
    ring = db.keyring if db.key_file is not None else None
    count = store.rotate_credentials(db.engine, ring)
    db._keyring = None  # read the rotated file again when next needed
    return count


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
    return [providers.info(name) for name in providers.names()]


def provider_info(db: Database, name: str) -> ProviderInfo:
    """Provider ``name``'s status (never its credentials); ``NotFoundError`` if there is none."""
    return ProviderStore(db.engine).info(name)


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


# -- verify and refresh ---------------------------------------------------------------------


def verify(
    spec: Spec,
    args: Mapping[str, Any],
    *,
    key_file: str | Path | None = None,
    replay: str | Path | None = None,
    replay_ignore: tuple[str, ...] = (),
) -> VerifyResult:
    """Class-level verify: run ``spec``'s verify call with the argument hash ``args`` before
    any provider exists. Values encrypted as ``v2:{...}`` are decrypted with the key file.
    ``replay`` serves the requests from a cassette (ignoring the query parameters
    ``replay_ignore`` besides the spec's). The outcome is in the result, not raised; but an
    unknown region or a missing required field is a ``UsageError`` (nothing is sent)."""
    plain = store.decrypt_values(
        args, functools.cache(lambda: KeyRing.load(key_file, create=False))
    )
    ProviderStore.check_args_of(spec, plain)
    adapter = pipeline.replay_adapter(spec, str(replay), replay_ignore) if replay else None
    return pipeline.verify(spec, plain, adapter)


def verify_provider(
    db: Database,
    name: str,
    *,
    replay: str | Path | None = None,
    replay_ignore: tuple[str, ...] = (),
) -> VerifyResult:
    """Instance-level verify of provider ``name``'s stored credentials (the same verify call);
    the status (Valid, Invalid, Unreachable, Error, Incomplete) is recorded on its
    authentication rows."""
    adapter = None
    if replay:
        spec = store.spec_for(ProviderStore(db.engine).row(name))
        adapter = pipeline.replay_adapter(spec, str(replay), replay_ignore)
    return pipeline.verify_provider(db.engine, name, db.keyring, adapter=adapter)


def refresh(
    db: Database,
    name: str,
    *,
    dry_run: bool = False,
    full_compare: bool = False,
    progress: Progress | None = None,
    replay: str | Path | None = None,
    replay_ignore: tuple[str, ...] = (),
    record: str | Path | None = None,
    sample_changes: int | None = None,
    on_phase: Callable[[str], None] | None = None,
    allow_mass_delete: bool = False,
    mass_delete_share: float | None = None,
) -> RefreshResult:
    """Refresh provider ``name``: collect, parse and save its inventory in one transaction.

    A failure is in the result (``ok``, ``error``, ``exit_code``) and on the provider row, with
    nothing written; ``RefreshBusyError`` when another process refreshes it, ``NotFoundError``
    when there is no such provider. ``dry_run`` writes nothing and keeps ``sample_changes``
    (default 10) changes; ``full_compare`` compares every row; ``progress`` is called with
    (call, pages, records). ``replay`` serves the requests from a cassette (the result counts
    its ``unused_interactions``); ``record`` writes the traffic to one, secrets replaced;
    ``on_phase`` is called with each phase's name (collect, parse, persist) as it starts.
    A save that would empty a collection, or delete or disconnect more than
    ``mass_delete_share`` of its stored rows (default ``$MIQSPEC_MASS_DELETE_SHARE``, else
    0.5; when at least 10 rows go), fails with exit code 5 and writes nothing, unless
    ``allow_mass_delete``; a dry run shows it as a warning. ``UsageError`` for a share
    outside 0-1.
    """
    adapter: Any = pipeline.provider_adapter(
        db.engine, name, db.keyring, replay, replay_ignore, record
    )
    result = pipeline.refresh_provider(
        db.engine,
        name,
        db.keyring,
        dry_run=dry_run,
        progress=progress,
        adapter=adapter,
        sample_changes=(10 if dry_run else 0) if sample_changes is None else sample_changes,
        full_compare=full_compare,
        on_phase=on_phase,
        allow_mass_delete=allow_mass_delete,
        mass_delete_share=mass_delete_share,
    )
    if record:
        adapter.save()
    elif replay:
        result.unused_interactions = len(adapter.unused())
    return result


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
    return spec, owners, providers.md


# -- running --------------------------------------------------------------------------------


def demo_database_url() -> str:
    """The demo's own database, ``sqlite:///$MIQSPEC_HOME/demo.db``: ``miqspec demo`` writes
    there unless given ``--database``, never to ``MIQSPEC_DATABASE_URL`` or the default file."""
    return demo.demo_database_url()


def run_demo(
    db: Database,
    *,
    instances: int = 200,
    flavors: int = 8,
    images: int = 20,
    progress: Progress | None = None,
) -> RefreshResult:
    """Start the bundled Awesome Cloud simulator, (re)add provider ``DEMO_NAME`` for it and
    refresh it; the simulator stops when this returns. Give it a database of its own
    (``open_database(demo_database_url())``): the provider it leaves points at a simulator
    that is gone."""
    return demo.run_demo(
        db.engine,
        db.keyring,
        instances=instances,
        flavors=flavors,
        images=images,
        progress=progress,
    )


def run_worker(
    db: Database,
    *,
    stop: threading.Event,
    log: Callable[[str], None],
    once: bool = False,
    poll: float = 5.0,
) -> None:
    """Refresh every provider when its spec's refresh interval has passed, one at a time,
    until ``stop`` is set (or after one pass with ``once``); ``log`` gets a line per event."""
    _run_worker(db.engine, db.keyring, stop=stop, log=log, once=once, poll=poll)


def run_simulator(**options: Any) -> None:
    """Serve the bundled Awesome Cloud simulator on 127.0.0.1 until interrupted; ``options``
    are ``SimulatorOptions`` fields (sizes, port, credentials, faults). ``UsageError`` for bad
    ones."""
    run_forever(SimulatorOptions.from_kwargs(**options))
