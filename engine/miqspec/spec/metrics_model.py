"""The typed ``metrics`` section of a spec: what is captured, by which call, mapped how.

Takes: nothing at import; values are built by ``build_metrics.build_metrics``.
Gives: ``MetricsSpec`` (frozen) and the vocabulary shared by checks, the builder and the
metrics stage: ``COUNTERS`` (ManageIQ's realtime counters with their units),
``TARGET_COLLECTIONS`` (catalogue collections that can be capture targets, with the
``resource_type`` ManageIQ stores for their rows), ``REALTIME_INTERVAL`` (20 s) and the
defaults (``DEFAULT_SOURCE_INTERVAL`` 1 min, ``DEFAULT_WINDOW`` 4 h,
``DEFAULT_CAPTURE_THRESHOLD`` 50 min). Raises nothing; no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from miqspec.errors import Location
from miqspec.spec.expressions import Expression

#: ManageIQ's realtime counters a cloud provider fills, with their units.
COUNTERS: Mapping[str, str] = {
    "cpu_usage_rate_average": "percent",
    "mem_usage_absolute_average": "percent",
    "disk_usage_rate_average": "KB/s",
    "net_usage_rate_average": "KB/s",
}
#: collection -> the ``resource_type`` of its rows in ``metrics`` (ManageIQ's base classes).
TARGET_COLLECTIONS: Mapping[str, str] = {
    "vms": "VmOrTemplate",
    "hosts": "Host",
    "ems_clusters": "EmsCluster",
    "storages": "Storage",
}
REALTIME_INTERVAL = 20  # seconds between realtime samples (Metric::Capture: 3 per minute)
DEFAULT_SOURCE_INTERVAL = 60
DEFAULT_WINDOW = 4 * 3600
DEFAULT_CAPTURE_THRESHOLD = 50 * 60


@dataclass(frozen=True)
class MetricsSpec:
    """A spec's ``metrics`` section, its expressions compiled.

    ``collection`` rows (filtered by ``where``, evaluated on the stored row) are the targets;
    ``call`` reads their samples, once per target or once for all (``bulk``). Each record of
    the call gives points (``each``, else the record); a point has a ``timestamp``, belongs to
    the target ``target`` names (else the one the call ran for) and is either a whole sample
    or, with ``name``/``value``, one named value joined with the others of its time.
    ``counters`` map ManageIQ counters to expressions on a sample. Intervals are seconds.
    """

    collection: str
    resource_type: str
    where: Expression | None
    call: str
    bulk: bool
    interval: int
    window: int
    capture_threshold: int
    timestamp: Expression
    counters: Mapping[str, Expression]
    location: Location
    each: Expression | None = None
    target: Expression | None = None
    name: Expression | None = None
    value: Expression | None = None
