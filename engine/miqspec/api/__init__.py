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
from pathlib import Path
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
    UnsupportedError,
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
from miqspec.store import KeyRing, ProviderInfo, ProviderStore, nest_form, read_secret
from miqspec.workers import run_worker as _run_worker

from .database import Database, open_database, rotate_keys
from .events import event_stream_status, poll_events, read_events, refresh_targets, tail_events
from .inventory import MAX_LIMIT as MAX_LIMIT
from .inventory import InventoryRows, inventory_counts, read_inventory
from .metrics import (
    CaptureResult,
    MetricsSeries,
    capture_metrics,
    metrics_report,
    metrics_retention,
    metrics_series,
    parse_duration,
)
from .operations import (
    FollowResult,
    ObjectRows,
    OperationResult,
    ProvisionOutcome,
    follow_requests,
    list_requests,
    list_tasks,
    object_list,
    object_show,
    provision,
    provisioning_form,
    run_operation,
)
from .providers import (
    add_provider,
    check_form_fields,
    delete_provider,
    edit_provider,
    list_providers,
    provider_info,
    provider_names,
    provider_spec,
    unlock_provider,
)
from .tags import TagMapping, add_tag_mapping, delete_tag_mapping, list_tag_mappings

__all__ = [
    "DEMO_NAME",
    "MANAGER_TYPES",
    "CaptureResult",
    "CredentialsError",
    "Database",
    "DatabaseError",
    "Finding",
    "FollowResult",
    "InventoryRows",
    "MetricsSeries",
    "MiqspecError",
    "NotFoundError",
    "ObjectRows",
    "OperationResult",
    "Progress",
    "ProviderInfo",
    "ProvisionOutcome",
    "RefreshBusyError",
    "RefreshResult",
    "Spec",
    "SpecError",
    "TagMapping",
    "TestResult",
    "TryResult",
    "UnreachableError",
    "UnsupportedError",
    "UsageError",
    "VerifyResult",
    "add_provider",
    "add_tag_mapping",
    "capture_metrics",
    "check_form_fields",
    "delete_provider",
    "delete_tag_mapping",
    "demo_database_url",
    "edit_provider",
    "event_stream_status",
    "expectations_for",
    "follow_requests",
    "inventory_counts",
    "json_schema",
    "list_providers",
    "list_requests",
    "list_tag_mappings",
    "list_tasks",
    "load_expectations",
    "load_spec",
    "metrics_report",
    "metrics_retention",
    "metrics_series",
    "nest_form",
    "new_spec",
    "object_list",
    "object_show",
    "open_database",
    "params_for_create",
    "parse_duration",
    "poll_events",
    "provider_info",
    "provider_names",
    "provider_spec",
    "provision",
    "provisioning_form",
    "read_events",
    "read_inventory",
    "read_secret",
    "refresh",
    "refresh_targets",
    "rotate_keys",
    "run_demo",
    "run_operation",
    "run_simulator",
    "run_worker",
    "shipped_specs",
    "spec_path",
    "tail_events",
    "test_spec",
    "try_call",
    "unlock_provider",
    "validate_spec",
    "verify",
    "verify_provider",
]

DEMO_NAME = demo.DEMO_NAME


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
    events: bool = True,
    event_poll: float | None = None,
    merge_window: float = 1.0,
) -> None:
    """Refresh every provider when its spec's refresh interval has passed, one at a time,
    until ``stop`` is set (or after one pass with ``once``); ``log`` gets a line per event.
    With ``events``, providers whose spec has ``events`` get an event catcher (every
    ``event_poll`` seconds, default the spec's interval) and the targeted refreshes their
    events queue, merged over ``merge_window`` seconds."""
    _run_worker(
        db.engine,
        db.keyring,
        stop=stop,
        log=log,
        once=once,
        poll=poll,
        events=events,
        event_poll=event_poll,
        merge_window=merge_window,
    )


def run_simulator(**options: Any) -> None:
    """Serve the bundled Awesome Cloud simulator on 127.0.0.1 until interrupted; ``options``
    are ``SimulatorOptions`` fields (sizes, port, credentials, faults). ``UsageError`` for bad
    ones."""
    run_forever(SimulatorOptions.from_kwargs(**options))
