"""Targeted refresh: collect, parse and persist only some objects of one provider.

Takes: a database engine, a provider name, the key ring, ``Target``\\ s and options (an
adapter for recorded traffic, a log callback). Gives: ``refresh_targets`` ->
``TargetedResult`` (per collection the objects built, the persist report, the targets the API
said are gone, those that failed to collect with their one-line errors, time per phase).
Semantics (ManageIQ's targeted refresh, reference/manageiq-model.md §2.7): each target is
collected alone by its collection's ``target.call`` (standing for the call it replaces, so
fan-outs below it run for that object only); a target that fails (an error other than a
``gone_on`` status) is logged and left out (its rows untouched), the others go on; the rows
saved, updated, deleted or disconnected are those of the targets and of the rows hanging on
them (``persist(..., targets=)``); a target the API answers ``gone_on`` (or no record) for is
deleted or disconnected as a full refresh would; lazies into collections outside the scope
resolve to stored rows. The provider's refresh lock is held; its row's refresh dates are a
full refresh's and stay as they are. Raises: ``UsageError`` for a bad target,
``RefreshBusyError`` when another process holds the lock, ``MiqspecError`` subclasses for a
failure of the whole (login, database): nothing is written then. Does network and database
I/O.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from miqspec.collect import CallResult, CollectResult, collect
from miqspec.connect import ProviderSession, RequestMemo, secret_values
from miqspec.errors import MiqspecError
from miqspec.events import Target, TargetedPlan, group_targets, plan_targeted
from miqspec.parse import ParsedInventory, attribute_location, parse
from miqspec.persist import PersistReport, StoreTypeError, persist
from miqspec.pipeline.refresh import owners_for
from miqspec.pipeline.session import make_session
from miqspec.spec import Spec
from miqspec.store import (
    Engine,
    KeyRing,
    ProviderStore,
    RefreshLock,
    inventory_transaction,
    now,
    spec_for,
    spec_metadata,
)

LOG = logging.getLogger("miqspec.targeted")


@dataclass
class TargetedResult:
    provider: str
    targets: list[Target] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    report: PersistReport | None = None
    gone: list[Target] = field(default_factory=list)
    failed: dict[Target, str] = field(default_factory=dict)
    phases: dict[str, float] = field(default_factory=dict)
    requests: int = 0
    reused: int = 0  # reads answered by the request memo (the same GET asked again)

    @property
    def ok(self) -> bool:
        return not self.failed


def refresh_targets(
    engine: Engine,
    name: str,
    keyring: KeyRing,
    targets: Iterable[Target],
    *,
    adapter: Any = None,
    log: Callable[[str], None] | None = None,
    spec: Spec | None = None,
) -> TargetedResult:
    """Refresh ``targets`` of provider ``name`` (module docstring)."""
    store = ProviderStore(engine)
    ems = store.row(name)
    spec = spec or spec_for(ems)
    wanted = list(dict.fromkeys(targets))
    plans = [  # one plan per collection: each target rule's stand-ins apart
        plan_targeted(spec, [Target(coll, r) for r in refs])
        for coll, refs in group_targets(wanted).items()
    ]  # UsageError before anything runs
    result = TargetedResult(provider=name, targets=wanted)
    tell = log or (lambda line: None)
    with RefreshLock(engine, ems["id"], name) as lock:
        args = store.args(ems, keyring)
        session = make_session(spec, args, adapter, provider=ems)
        session.memo = RequestMemo()  # one read serves every target asking it
        inventory = ParsedInventory()
        scope: dict[str, bool] = {}
        try:
            for plan in plans:
                started = time.perf_counter()
                session.spec = plan.spec  # this collection's target calls stand in
                collected = _collect(session, plan, result, tell)
                result.phases["collect"] = result.phases.get("collect", 0.0) + (
                    time.perf_counter() - started
                )
                started = time.perf_counter()
                _add(inventory, parse(plan.spec, collected, context=session.ctx), plan.scope)
                for coll in plan.scope:
                    scope[coll] = scope.get(coll, False) or plan.complete[coll]
                result.phases["parse"] = result.phases.get("parse", 0.0) + (
                    time.perf_counter() - started
                )
        finally:
            result.reused = session.memo.hits
            session.close()
        inventory.complete = scope
        result.counts = {n: inventory.count(n) for n in scope}
        started = time.perf_counter()
        kept = {
            coll: [r for r in refs if Target(coll, r) not in result.failed]
            for coll, refs in group_targets(wanted).items()
        }
        for coll, refs in kept.items():  # what other targets brought along is in scope too
            brought = (str(ref[0]) for ref in inventory.objects.get(coll, {}) if ref[0] is not None)
            kept[coll] = list(dict.fromkeys([*refs, *brought]))
        owners = owners_for(spec, ems["id"], store.children(ems["id"]))
        tables = spec_metadata(engine, spec)
        secrets = secret_values(spec, args)
        with inventory_transaction(engine, secrets=secrets, before_commit=lock.confirm) as conn:
            try:
                result.report = persist(
                    conn,
                    tables,
                    spec.catalogue,
                    inventory,
                    owners,
                    power_states=spec.provider.power_state,
                    now=now(),
                    fast=False,
                    targets=kept,
                )
            except StoreTypeError as exc:
                raise exc.located(attribute_location(spec, exc.collection, exc.column)) from None
        result.phases["persist"] = time.perf_counter() - started
    return result


def _collect(
    session: ProviderSession,
    plan: TargetedPlan,
    result: TargetedResult,
    tell: Callable[[str], None],
) -> CollectResult:
    """Each target alone; the records of all merged per call; gone and failed noted."""
    merged = CollectResult()
    for coll, refs in plan.refs.items():
        manager_ref = plan.spec.catalogue.collections[coll].manager_ref
        replaced = plan.replaced[coll]
        for ref in refs:
            target = Target(coll, ref)
            session.ctx["target"] = {"ems_ref": ref, **dict.fromkeys(manager_ref, ref)}
            try:
                got = collect(session, plan.roots[coll])
            except MiqspecError as exc:
                result.failed[target] = str(exc)
                line = f"{result.provider}: target {target} failed to collect: {exc}"
                LOG.error(line)
                tell(line)
                continue
            finally:
                session.ctx.pop("target", None)
            main = got.calls.get(replaced)
            result.requests += sum(c.requests for c in got.calls.values())
            if main is None or not main.records:
                result.gone.append(target)
            _merge(merged, got.calls)
    return merged


def _add(into: ParsedInventory, parsed: ParsedInventory, scope: Iterable[str]) -> None:
    """The objects of ``scope`` in ``parsed`` added to ``into`` (the first build of a ref
    wins, as within one parse), with their computed secondary refs and labels."""
    for coll in scope:
        bucket = into.objects.setdefault(coll, {})
        for ref, obj in parsed.objects.get(coll, {}).items():
            bucket.setdefault(ref, obj)
        for ref_name, found in parsed.secondary.get(coll, {}).items():
            mine = into.secondary.setdefault(coll, {}).setdefault(ref_name, {})
            for key, obj in found.items():
                mine.setdefault(key, obj)
        for ref, labels in parsed.labels.get(coll, {}).items():
            into.labels.setdefault(coll, {}).setdefault(ref, labels)


def _merge(into: CollectResult, calls: Mapping[str, CallResult]) -> None:
    for name, res in calls.items():
        have = into.calls.get(name)
        if have is None:
            have = into.calls[name] = CallResult(name, page_digests=None)
            if res.parents is not None:
                have.parents, have.ancestors = [], []
        have.records.extend(res.records)
        if have.parents is not None:
            have.parents.extend(res.parents or [None] * len(res.records))
        if have.ancestors is not None:
            have.ancestors.extend(res.ancestors or [[]] * len(res.records))
        have.pages += res.pages
        have.requests += res.requests
        have.seconds += res.seconds
