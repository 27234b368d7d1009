"""The one module that wires the stages: verify, collect, parse, persist, refresh status.

Takes: a database engine, provider names or a spec plus an argument hash, and options.
Gives: ``VerifyResult``, ``RefreshResult`` (counts per collection, time per phase, calls).
Raises: ``MiqspecError`` subclasses; a failed refresh has rolled back every inventory write and
recorded ``last_refresh_error``/``last_refresh_date`` on the provider row.
Does network and database I/O through the stage modules.
"""

from __future__ import annotations

import gc
import os
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from miqspec.collect import CollectResult, Progress, collect
from miqspec.connect import HttpClient, ProviderSession, secret_values
from miqspec.errors import (
    ApiError,
    CredentialsError,
    DatabaseError,
    MiqspecError,
    RefreshBusyError,
    UnreachableError,
)
from miqspec.parse import Carry, carry_plans, parse
from miqspec.persist import PersistReport, load_maps, persist
from miqspec.spec import Spec
from miqspec.store import KeyRing, ProviderStore, now, spec_for

LOCK_STALE_AFTER = timedelta(hours=2)


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
    engine: sa.Engine, name: str, keyring: KeyRing, adapter: Any = None
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


# -- refresh --------------------------------------------------------------------------------


class RefreshLock:
    """Row in ``miqspec_refresh_locks``: one writer per provider, across processes."""

    def __init__(self, engine: sa.Engine, ems_id: int, name: str) -> None:
        self.engine, self.ems_id, self.name = engine, ems_id, name
        self.table = ProviderStore(engine).md.tables["miqspec_refresh_locks"]

    def __enter__(self) -> RefreshLock:
        holder = f"{socket.gethostname()}:{os.getpid()}"
        t = self.table
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    t.delete().where(
                        t.c.ems_id == self.ems_id, t.c.acquired_at < now() - LOCK_STALE_AFTER
                    )
                )
                conn.execute(
                    t.insert().values(ems_id=self.ems_id, holder=holder, acquired_at=now())
                )
        except sa.exc.IntegrityError:
            with self.engine.connect() as conn:
                other = conn.execute(
                    sa.select(t.c.holder, t.c.acquired_at).where(t.c.ems_id == self.ems_id)
                ).first()
            since = f" ({other[0]} since {other[1]:%Y-%m-%d %H:%M:%S})" if other else ""
            raise RefreshBusyError(
                f"provider {self.name!r} is being refreshed by another "
                f"process{since}; try again when it finishes"
            ) from None
        return self

    def __exit__(self, *exc: object) -> None:
        with self.engine.begin() as conn:
            conn.execute(self.table.delete().where(self.table.c.ems_id == self.ems_id))


def metadata_for(engine: sa.Engine, spec: Spec, base: sa.MetaData) -> sa.MetaData:
    """Tables for the spec: the catalogue's, plus its own ``models`` (created if missing)."""
    from miqspec.spec import load_catalogue
    from miqspec.store import build_metadata

    own = set(spec.catalogue.collections) - set(load_catalogue().collections)
    if not own:
        return base
    md = build_metadata(spec.catalogue)
    new_tables = [md.tables[spec.catalogue.collections[n].table] for n in sorted(own)]
    try:
        md.create_all(engine, tables=new_tables, checkfirst=True)
    except sa.exc.SQLAlchemyError as exc:
        raise DatabaseError(
            f"cannot create tables of the spec's models: {type(exc).__name__}"
        ) from None
    return md


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
    engine: sa.Engine,
    name: str,
    keyring: KeyRing,
    *,
    dry_run: bool = False,
    progress: Progress | None = None,
    adapter: Any = None,
    sample_changes: int = 0,
    on_phase: Callable[[str], None] | None = None,
    full_compare: bool = False,
) -> RefreshResult:
    """Refresh one provider; every failure is recorded on its row, never half-written.

    ``full_compare`` ignores the stored row digests and record maps, parses every record and
    compares every row (repairing rows edited outside miqspec), then stores fresh ones.
    """
    store = ProviderStore(engine)
    ems = store.row(name)
    result = RefreshResult(provider=name, ok=False, dry_run=dry_run)
    ems_table = store.ems
    try:
        with RefreshLock(engine, ems["id"], name):
            _refresh(
                engine,
                store,
                ems,
                keyring,
                result,
                dry_run=dry_run,
                progress=progress,
                adapter=adapter,
                sample_changes=sample_changes,
                on_phase=on_phase,
                full_compare=full_compare,
            )
        result.ok = True
    except RefreshBusyError:
        raise
    except MiqspecError as exc:
        result.error, result.exit_code = str(exc), exc.exit_code
    stamp = now()
    if not dry_run:
        values: dict[str, Any] = {"last_refresh_date": stamp, "updated_on": stamp}
        if result.ok:
            values.update(last_refresh_error=None, last_refresh_success_date=stamp)
        else:
            values["last_refresh_error"] = (result.error or "")[:4000]
        try:
            with engine.begin() as conn:
                ids = [ems["id"], *store.children(ems["id"]).values()]
                conn.execute(ems_table.update().where(ems_table.c.id.in_(ids)).values(**values))
        except sa.exc.SQLAlchemyError as exc:
            raise DatabaseError(f"cannot record refresh status: {type(exc).__name__}") from None
    return result


def _refresh(
    engine: sa.Engine,
    store: ProviderStore,
    ems: Mapping[str, Any],
    keyring: KeyRing,
    result: RefreshResult,
    *,
    dry_run: bool,
    progress: Progress | None,
    adapter: Any,
    sample_changes: int,
    on_phase: Callable[[str], None] | None,
    full_compare: bool = False,
) -> None:
    spec = spec_for(ems)
    args = store.args(ems, keyring)
    session = make_session(spec, args, adapter, provider=ems)
    phase = on_phase or (lambda _: None)
    gc_was_enabled = gc.isenabled()
    gc.disable()  # the inventory only grows during a refresh; rescans cost time, not memory
    try:
        phase("collect")
        started = time.perf_counter()
        roots = [c for m in spec.collections.values() for c in m.calls]
        result.collected = collect(session, roots, progress)
        result.phases["collect"] = time.perf_counter() - started
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
        secrets = secret_values(spec, args)
        try:
            with engine.connect() as conn:
                tx = conn.begin()
                try:
                    result.report = persist(
                        conn,
                        metadata_for(engine, spec, store.md),
                        spec.catalogue,
                        inventory,
                        owners,
                        power_states=spec.provider.power_state,
                        now=now(),
                        dry_run=dry_run,
                        sample_changes=sample_changes,
                        digests=not full_compare,
                    )
                except BaseException:
                    tx.rollback()
                    raise
                if dry_run:
                    tx.rollback()
                else:
                    tx.commit()
        except sa.exc.SQLAlchemyError as exc:
            raise DatabaseError(
                f"saving inventory failed: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}",
                secrets=secrets,
            ) from None
        result.phases["persist"] = time.perf_counter() - started
    except (ApiError, CredentialsError, UnreachableError):
        raise
    finally:
        session.close()
        if gc_was_enabled:
            # what the refresh allocated goes to the oldest generation unscanned: enabling
            # the collector as is would scan it all at the next allocation
            gc.freeze()
            gc.unfreeze()
            gc.enable()
