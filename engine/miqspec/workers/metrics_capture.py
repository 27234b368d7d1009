"""The worker's metrics capture: each provider's due targets, on the spec's own interval.

Takes: a database engine, key ring, a provider name and its spec, the worker's log function,
and the time of the provider's last attempt (kept by the worker).
Gives: ``capture_due``: when the spec declares metrics and a minute has passed since the last
attempt, one capture of the targets whose ``capture_threshold`` (default 50 minutes, ManageIQ's
``capture_threshold.vm``) has passed; the realtime retention is ``MIQSPEC_METRICS_RETENTION``
(default 4 h). Logs one line when something was captured or failed; returns the attempt's
time (or the previous one when none was made).
Raises nothing for a failing capture (it is logged and tried again a minute later). Does
network and database I/O through ``pipeline``.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Callable

from miqspec.errors import MiqspecError
from miqspec.pipeline import capture_metrics
from miqspec.spec import Spec
from miqspec.store import Engine, KeyRing

ATTEMPT_EVERY = 60.0  # seconds between two attempts for one provider
Tell = Callable[..., None]


def _retention() -> int:
    text = os.environ.get("MIQSPEC_METRICS_RETENTION") or "4h"
    found = re.fullmatch(r"\s*(\d+)\s*([smhd]?)\s*", text)
    if not found:
        return 4 * 3600
    return int(found.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[found.group(2)]


def capture_due(
    engine: Engine,
    keyring: KeyRing,
    name: str,
    spec: Spec,
    tell: Tell,
    last_attempt: float | None,
) -> float | None:
    """Capture ``name``'s due metrics targets when an attempt is due; the attempt's time."""
    if spec.metrics is None:
        return last_attempt
    clock = time.monotonic()
    if last_attempt is not None and clock - last_attempt < ATTEMPT_EVERY:
        return last_attempt
    started = time.perf_counter()
    try:
        result = capture_metrics(engine, name, keyring, due_only=True, retention=_retention())
    except MiqspecError as exc:
        tell(
            f"{name}: metrics capture failed: {exc}",
            logging.WARNING,
            provider=name,
            event="metrics_failed",
        )
        return clock
    took = time.perf_counter() - started
    if result.targets or result.failed:
        tell(
            f"{name}: metrics of {result.captured} of {result.targets} target(s) captured in "
            f"{took:.1f}s, {result.rows} realtime row(s)"
            + (f", {len(result.failed)} failed" if result.failed else ""),
            logging.WARNING if result.failed else logging.INFO,
            provider=name,
            event="metrics_captured",
            seconds=round(took, 3),
            rows=result.rows,
        )
    return clock
