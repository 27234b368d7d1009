"""Metrics capture wired: the provider's session, its target owner, the metrics stage, status.

Takes: a database engine, a provider name, the key ring and options (only due targets, the
realtime retention, an HTTP adapter for recorded traffic, a progress callback).
Gives: ``capture_metrics`` (one capture -> ``metrics.CaptureResult``; its outcome recorded on
the provider row's ``last_metrics_*``) and ``metrics_owner`` (the provider's spec and the id
of the manager row owning its metrics targets, for reading them back).
Raises: ``UsageError`` (the spec declares no metrics), ``NotFoundError`` (no such provider),
``CredentialsError``, ``DatabaseError`` (recorded on the row, then raised). Does network and
database I/O through ``metrics`` and ``store``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from miqspec import metrics
from miqspec.errors import MiqspecError, UsageError
from miqspec.pipeline.refresh import owners_for
from miqspec.pipeline.session import make_session
from miqspec.spec import Spec
from miqspec.store import Engine, KeyRing, ProviderStore, now, spec_for


def metrics_owner(engine: Engine, name: str) -> tuple[Spec, int]:
    """Provider ``name``'s spec and the id of the manager owning its metrics targets."""
    store = ProviderStore(engine)
    ems = store.row(name)
    spec = spec_for(ems)
    if spec.metrics is None:
        raise UsageError(f"provider {name}: its spec declares no metrics (no metrics: section)")
    owners = owners_for(spec, ems["id"], store.children(ems["id"]))
    return spec, owners[spec.metrics.collection]


def capture_metrics(
    engine: Engine,
    name: str,
    keyring: KeyRing,
    *,
    due_only: bool = False,
    retention: int = 4 * 3600,
    adapter: Any = None,
    progress: Callable[[int, int], None] | None = None,
) -> metrics.CaptureResult:
    """Capture provider ``name``'s metrics once (``due_only``: only the targets whose
    ``capture_threshold`` has passed), purging realtime rows older than ``retention``
    seconds. A failure of the whole capture is recorded on the row, then raised; failed
    targets are in the result and the row's ``last_metrics_error``."""
    spec, owner = metrics_owner(engine, name)
    store = ProviderStore(engine)
    ems = store.row(name)
    session = make_session(spec, store.args(ems, keyring), adapter, provider=ems)
    try:
        result = metrics.capture(
            engine,
            session,
            spec,
            ems,
            owner,
            at=now(),
            due_only=due_only,
            retention=retention,
            progress=progress,
        )
    except MiqspecError as exc:
        metrics.record_metrics_status(engine, ems["id"], str(exc))
        raise
    finally:
        session.close()
    first = next(iter(result.failed.items()), None)
    error = f"{len(result.failed)} target(s) failed; {first[0]}: {first[1]}" if first else None
    metrics.record_metrics_status(engine, ems["id"], error)
    return result
