"""Workers: long-running refresh loops over the public API.

Offers: ``run_worker`` (every provider refreshed at its spec's interval, one at a time each).
"""

from .schedule import run_worker

__all__ = ["run_worker"]
