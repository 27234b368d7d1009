"""Workers: long-running refresh loops over ``pipeline`` and ``store``.

Offers: ``run_worker`` (every provider refreshed at its spec's interval, one at a time each,
and the metrics targets due by the spec's ``capture_threshold`` captured: ``metrics_capture``;
its provisioning tasks nobody waits for checked once per pass, finished when done: ``follow``).
``miqspec.api.run_worker`` runs it on an open ``Database``.
"""

from .schedule import run_worker

__all__ = ["run_worker"]
