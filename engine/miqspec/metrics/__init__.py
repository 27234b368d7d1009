"""Metrics: capture utilisation time series as a spec declares them, store them as ManageIQ does.

Offers: ``capture`` (one capture of a provider's targets -> ``CaptureResult``: calls through
``collect``, samples mapped to ManageIQ's counters, spread onto the 20-second grid, upserted
into ``metrics``, rolled up into ``metric_rollups``, old realtime rows purged),
``find_target``, ``series`` and ``rollup_report`` (reading them back), ``purge_realtime``,
``record_metrics_status`` (a capture's outcome on the provider row) and the tables'
vocabulary (``COUNTERS``, ``CAPTURE_INTERVALS``). Owns its tables (sqlalchemy) like
``persist``; uses ``collect``, ``connect``, ``spec`` and ``store``.

Inside, modules run one way: ``capture`` -> ``calls`` (running the metrics call),
``targets``, ``derived``, ``samples`` -> ``spread``; ``rollup``, ``queries`` -> ``store`` ->
``partitions`` and ``tables``.
"""

from .capture import CaptureResult, capture
from .queries import find_target, rollup_report, series
from .status import record_metrics_status
from .store import purge_realtime
from .tables import CAPTURE_INTERVALS, COUNTERS

__all__ = [
    "CAPTURE_INTERVALS",
    "COUNTERS",
    "CaptureResult",
    "capture",
    "find_target",
    "purge_realtime",
    "record_metrics_status",
    "rollup_report",
    "series",
]
