"""The one module that wires the stages: verify, collect, parse, persist, refresh status.

Takes: a database engine, provider names or a spec plus an argument hash, and options (an
HTTP adapter for recorded traffic among them).
Gives: ``verify`` (class level) and ``verify_provider`` (instance level) -> ``VerifyResult``;
``refresh_provider`` -> ``RefreshResult`` (counts per collection, time per phase, calls);
``replay_adapter``/``recording_adapter``/``provider_adapter`` (requests served from or recorded
to a cassette) and
``owners_for`` (which manager row owns each collection).
Raises: ``MiqspecError`` subclasses; a failed refresh has rolled back every inventory write and
recorded ``last_refresh_error``/``last_refresh_date`` on the provider row (an interrupted one
too, before ``KeyboardInterrupt`` goes on). A refresh holds the provider's ``RefreshLock``.
Does network and database I/O through the stage modules; the database only through ``store``.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from miqspec.collect import CollectResult, Progress, collect
from miqspec.connect import (
    Cassette,
    HttpClient,
    ProviderSession,
    RecordingAdapter,
    ReplayAdapter,
    secret_values,
)
from miqspec.errors import (
    CredentialsError,
    DatabaseError,
    MiqspecError,
    RefreshBusyError,
    UnreachableError,
)
from miqspec.parse import Carry, attribute_location, carry_plans, parse, parse_warnings
from miqspec.persist import (
    PersistReport,
    StoreTypeError,
    guard_removals,
    load_maps,
    mass_share,
    persist,
)
from miqspec.spec import Spec
from miqspec.store import (
    REPLACEMENT,
    Engine,
    KeyRing,
    ProviderStore,
    RefreshLock,
    inventory_transaction,
    make_storable,
    now,
    spec_for,
    spec_metadata,
)


@dataclass
class VerifyResult:
    valid: bool
    status: str  # Valid | Invalid | Unreachable | Error | Incomplete
    details: str
    exit_code: int = 0


@dataclass
class RefreshResult:
    provider: str
    ok: bool
    error: str | None = None
    exit_code: int = 0
    report: PersistReport | None = None
    collected: CollectResult | None = None
    phases: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    dry_run: bool = False
    unused_interactions: int = 0  # replaying: recorded requests the refresh did not make
    warnings: list[str] = field(default_factory=list)  # e.g. text stored with U+FFFD


def make_session(
    spec: Spec,
    args: Mapping[str, Any],
    adapter: Any = None,
    provider: Mapping[str, Any] | None = None,
) -> ProviderSession:
    """A session for ``args``; ``provider`` (the ems row, if any) becomes ``$provider``."""
    client = HttpClient(
        pool_size=max(4, spec.connection.concurrency * 2),
        adapter=adapter,
        verify=_verify_setting(spec, args),
    )
    return ProviderSession(spec, args, client, provider=provider)


def _verify_setting(spec: Spec, args: Mapping[str, Any]) -> bool | str:
    ep = (args.get("endpoints") or {}).get("default") or {}
    if ep.get("verify_ssl") in (0, False, "0", "false"):
        return False
    if spec.connection.ca_file:
        return spec.connection.ca_file
    v = spec.connection.verify_ssl
    return v if isinstance(v, bool) else True


def verify(
    spec: Spec,
    args: Mapping[str, Any],
    adapter: Any = None,
    provider: Mapping[str, Any] | None = None,
) -> VerifyResult:
    """Class-level and instance-level verify share this: run the spec's verify call.

    ``provider`` is the ems row at instance level (None at class level: ``$provider.name`` and
    ``guid`` are null). Calls that embed into the verify call are not run.
    """
    if not spec.verify_call:
        return VerifyResult(False, "Incomplete", "the spec declares no verify call", 11)
    session = make_session(spec, args, adapter, provider)
    try:
        result = collect(session, [spec.verify_call], embed=False)
        res = result.calls[spec.verify_call]
        return VerifyResult(True, "Valid", f"{spec.verify_call}: {len(res.records)} record(s)")
    except CredentialsError as exc:
        return VerifyResult(False, "Invalid", str(exc), exc.exit_code)
    except UnreachableError as exc:
        return VerifyResult(False, "Unreachable", str(exc), exc.exit_code)
    except MiqspecError as exc:
        return VerifyResult(False, "Error", str(exc), exc.exit_code)
    finally:
        session.close()


def verify_provider(
    engine: Engine, name: str, keyring: KeyRing, adapter: Any = None
) -> VerifyResult:
    store = ProviderStore(engine)
    ems = store.row(name)
    spec = spec_for(ems)
    args = store.args(ems, keyring)
    missing = [f.name for f in spec.form if f.secret and f.required and not _dig(args, f.name)]
    result = (
        VerifyResult(False, "Incomplete", "missing " + ", ".join(missing), 3)
        if missing
        else verify(spec, args, adapter, provider=ems)
    )
    store.record_auth_status(ems["id"], result.status, result.details)
    return result


def _dig(args: Mapping[str, Any], dotted: str) -> Any:
    node: Any = args
    for part in dotted.split("."):
        node = node.get(part) if isinstance(node, Mapping) else None
    return node


# -- recorded traffic ---------------------------------------------------------------------


def secret_placeholders(spec: Spec, args: Mapping[str, Any]) -> dict[str, str]:
    """Each secret form value in ``args`` -> the placeholder a cassette holds instead of it
    (``authentications.default.password`` -> ``AUTHENTICATIONS_DEFAULT_PASSWORD``)."""
    secrets = secret_values(spec, args)
    out = {}
    for name in spec.secret_fields:
        value = _dig(args, name)
        if isinstance(value, str) and value in secrets:
            out[value] = name.upper().replace(".", "_")
    return out


def replay_adapter(
    spec: Spec, path: str, ignore: tuple[str, ...] = (), args: Mapping[str, Any] | None = None
) -> ReplayAdapter:
    """Requests served from the cassette at ``path``, matched ignoring the query parameters
    ``ignore`` and the spec's ``replay.ignore_query_params``; with ``args`` (the provider's
    decrypted arguments) its placeholders stand for their secrets. Raises ``ReplayError`` for a
    cassette it cannot read; reads the file."""
    params = tuple(dict.fromkeys((*ignore, *spec.replay_ignore_query_params)))
    placeholders = secret_placeholders(spec, args) if args is not None else None
    return ReplayAdapter(Cassette.load(path, ignore_query_params=params, placeholders=placeholders))


def recording_adapter(spec: Spec, path: str, args: Mapping[str, Any]) -> RecordingAdapter:
    """Requests sent to the network and recorded for ``path`` (written by its ``save``), each
    secret of ``args`` replaced by its placeholder."""
    return RecordingAdapter(path, secrets=secret_placeholders(spec, args))


def provider_adapter(
    engine: Engine,
    name: str,
    keyring: KeyRing,
    replay: str | os.PathLike[str] | None = None,
    replay_ignore: tuple[str, ...] = (),
    record: str | os.PathLike[str] | None = None,
) -> ReplayAdapter | RecordingAdapter | None:
    """What a refresh of provider ``name`` sends its requests through: the cassette ``replay``
    (its placeholders standing for the provider's secrets), a recorder for ``record``, or
    None (the network)."""
    if not (replay or record):
        return None
    store = ProviderStore(engine)
    ems = store.row(name)
    spec = spec_for(ems)
    args = store.args(ems, keyring)
    if replay:
        return replay_adapter(spec, os.fspath(replay), replay_ignore, args)
    return recording_adapter(spec, os.fspath(record or ""), args)


# -- refresh --------------------------------------------------------------------------------


def owners_for(spec: Spec, ems_id: int, children: Mapping[str, int]) -> dict[str, int]:
    """Which manager row owns each mapped collection (child managers own their kinds)."""
    out = {}
    for name in spec.collections:
        coll = spec.catalogue.collections[name]
        out[name] = children.get(coll.manager, ems_id)
    for name, coll in spec.catalogue.collections.items():
        out.setdefault(name, children.get(coll.manager, ems_id))
    return out


def refresh_provider(
    engine: Engine,
    name: str,
    keyring: KeyRing,
    *,
    dry_run: bool = False,
    progress: Progress | None = None,
    adapter: Any = None,
    sample_changes: int = 0,
    on_phase: Callable[[str], None] | None = None,
    full_compare: bool = False,
    allow_mass_delete: bool = False,
    mass_delete_share: float | None = None,
) -> RefreshResult:
    """Refresh one provider; every failure is recorded on its row, never half-written.

    The provider's ``RefreshLock`` is held throughout (``RefreshBusyError`` when another
    process holds it); before the inventory commits, the lock must still be held and the
    provider still exist. API text the database refuses (NUL on PostgreSQL, lone surrogates)
    is replaced by U+FFFD and the save tried once more, with a warning in the result.
    An interruption (Ctrl+C, SIGTERM) or an internal error is recorded too, then raised.
    ``full_compare`` ignores the stored row digests and record maps, parses every record and
    compares every row (repairing rows edited outside miqspec), then stores fresh ones.
    Mass-disappearance guard: a save that would empty a collection or delete/disconnect more
    than ``mass_delete_share`` (default ``$MIQSPEC_MASS_DELETE_SHARE``, else 0.5) of its
    stored rows (when at least 10 go) fails with ``ApiError`` and writes nothing, unless
    ``allow_mass_delete``; a dry run reports it as a warning. ``UsageError`` for a share
    outside 0-1 (before anything runs).
    """
    share = mass_share(mass_delete_share)  # UsageError before anything runs
    store = ProviderStore(engine)
    ems = store.row(name)
    result = RefreshResult(provider=name, ok=False, dry_run=dry_run)
    lock = RefreshLock(engine, ems["id"], name)
    held = False
    try:
        with lock:
            held = True
            spec = spec_for(ems)
            args = store.args(ems, keyring)
            session = make_session(spec, args, adapter, provider=ems)
            run = functools.partial(
                _refresh,
                engine,
                store,
                ems,
                spec,
                args,
                session,
                result,
                before_commit=lock.confirm,
                dry_run=dry_run,
                progress=progress,
                sample_changes=sample_changes,
                on_phase=on_phase,
                full_compare=full_compare,
                mass_share=None if allow_mass_delete else share,
            )
            try:
                try:
                    run()
                except DatabaseError:
                    if not _make_storable(engine, result):
                        raise
                    run(collected=result.collected)
            finally:
                session.close()
        result.ok = True
    except RefreshBusyError as exc:
        if not held:
            raise  # another process refreshes it: its outcome is its own to record
        result.error, result.exit_code = str(exc), exc.exit_code
    except MiqspecError as exc:
        result.error, result.exit_code = str(exc), exc.exit_code
    except BaseException as exc:  # interrupted, or a bug: recorded, then raised
        if not dry_run:
            reason = (
                "interrupted" + (f" ({exc})" if str(exc) else "")
                if isinstance(exc, KeyboardInterrupt)
                else f"internal error: {type(exc).__name__}: {exc}"
            )
            with contextlib.suppress(MiqspecError):
                store.record_refresh(ems["id"], reason)
        raise
    if not dry_run:
        store.record_refresh(ems["id"], None if result.ok else (result.error or ""))
    return result


def _make_storable(engine: Engine, result: RefreshResult) -> bool:
    """Replace, in the collected records, the text ``engine``'s database cannot store; True
    when some was (the records are then no longer their pages' bytes: no page digests)."""
    if result.collected is None:
        return False
    changed = 0
    for call in result.collected.calls.values():
        count = make_storable(call.records, engine) + make_storable(call.parents or [], engine)
        if count:
            call.page_digests = None
        changed += count
    if changed:
        result.warnings.append(
            f"{changed} text value(s) from the API held characters the database cannot store "
            f"(NUL on PostgreSQL, lone UTF-16 surrogates); saved with {REPLACEMENT!r} "
            "(U+FFFD) in their place"
        )
    return changed > 0


def _refresh(
    engine: Engine,
    store: ProviderStore,
    ems: Mapping[str, Any],
    spec: Spec,
    args: Mapping[str, Any],
    session: ProviderSession,
    result: RefreshResult,
    *,
    before_commit: Callable[[Any], None] | None,
    dry_run: bool,
    progress: Progress | None,
    sample_changes: int,
    on_phase: Callable[[str], None] | None,
    full_compare: bool = False,
    mass_share: float | None = None,
    collected: CollectResult | None = None,
) -> None:
    """Collect (unless ``collected`` is given), parse and persist with ``session``; with a
    ``mass_share``, a save removing too much raises (dry run: warns) before the commit."""
    phase = on_phase or (lambda _: None)
    gc_was_enabled = gc.isenabled()
    gc.disable()  # the inventory only grows during a refresh; rescans cost time, not memory
    try:
        if collected is None:
            phase("collect")
            started = time.perf_counter()
            roots = [c for m in spec.collections.values() for c in m.calls]
            result.collected = collect(session, roots, progress)
            result.phases["collect"] = time.perf_counter() - started
        else:
            result.collected = collected
        phase("parse")
        started = time.perf_counter()
        owners = owners_for(spec, ems["id"], store.children(ems["id"]))
        plans = carry_plans(spec)
        stored: dict[str, dict[int, int]] = {}
        pages: dict[str, dict[int, list[int]]] = {}
        if plans and not full_compare:  # --full-compare parses every record
            with engine.connect() as conn:
                stored, pages = load_maps(conn, store.md, plans, owners)
        carry = Carry(plans, stored, pages)
        inventory = parse(spec, result.collected, context=session.ctx, carry=carry)
        result.phases["parse"] = time.perf_counter() - started
        result.counts = {n: inventory.count(n) for n in spec.collections}
        phase("persist")
        started = time.perf_counter()
        tables = spec_metadata(engine, spec)
        secrets = secret_values(spec, args)
        with inventory_transaction(
            engine, dry_run=dry_run, secrets=secrets, before_commit=before_commit
        ) as conn:
            try:  # a value its column cannot hold: named with the spec's location
                result.report = persist(
                    conn,
                    tables,
                    spec.catalogue,
                    inventory,
                    owners,
                    power_states=spec.provider.power_state,
                    now=now(),
                    dry_run=dry_run,
                    sample_changes=sample_changes,
                    digests=not full_compare,
                )
            except StoreTypeError as exc:
                raise exc.located(attribute_location(spec, exc.collection, exc.column)) from None
            if mass_share is not None:
                result.warnings.extend(
                    guard_removals(result.report, list(spec.collections), mass_share, dry_run)
                )
        result.warnings.extend(parse_warnings(spec, inventory))
        result.warnings.extend(
            f"{name}: {rep.skipped} object(s) dropped (a manager_ref reference resolves to nothing)"
            for name, rep in result.report.collections.items()
            if rep.skipped
        )
        result.phases["persist"] = time.perf_counter() - started
    finally:
        if gc_was_enabled:
            # what the refresh allocated goes to the oldest generation unscanned: enabling
            # the collector as is would scan it all at the next allocation
            gc.freeze()
            gc.unfreeze()
            gc.enable()
