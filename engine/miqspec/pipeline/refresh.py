"""Refresh: collect, parse and persist one provider under its refresh lock.

Takes: a database engine, a provider name, the key ring and options (dry run, an adapter for
recorded traffic, progress, the mass-disappearance share). Gives: ``refresh_provider`` ->
``RefreshResult`` (counts per collection, time per phase, the persist report, warnings) and
``owners_for`` (which manager row owns each collection). Raises: ``MiqspecError`` subclasses
are recorded in the result and on the provider row (a failed refresh has rolled back every
inventory write); ``RefreshBusyError`` when another process holds the lock; an interruption
or an internal error is recorded, then raised. Does network and database I/O.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from miqspec.collect import CollectResult, Progress, collect
from miqspec.connect import (
    ProviderSession,
    secret_values,
)
from miqspec.errors import (
    DatabaseError,
    MiqspecError,
    RefreshBusyError,
)
from miqspec.parse import Carry, attribute_location, carry_plans, parse, parse_warnings
from miqspec.persist import (
    PersistReport,
    StoreTypeError,
    guard_removals,
    load_maps,
    mass_share,
    persist,
    settle_touched,
)
from miqspec.pipeline.session import make_session
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
                session.close()  # runs auth.logout, also after a failure
                if session.logout_error:
                    result.warnings.append(f"the session was not closed: {session.logout_error}")
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
        if not dry_run:  # rows targeted refreshes touched leave the digests and maps first
            with engine.begin() as conn:
                settle_touched(conn, store.md, spec.catalogue, owners)
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
