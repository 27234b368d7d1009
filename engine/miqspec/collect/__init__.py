"""Collect: run a spec's calls in dependency order, page by page, fanning out per record.

Offers: ``collect`` (a ``ProviderSession`` and call names -> ``CollectResult``), the typed
results (``CollectResult``, ``CallResult``), the ``Progress`` callback type and ``poll_until``
(send again until an expression holds: asynchronous jobs, operations). Uses ``connect``
for requests and pagination and ``spec`` for the model.
"""

from .polling import poll_until
from .runner import CallResult, CollectResult, Progress, collect

__all__ = ["CallResult", "CollectResult", "Progress", "collect", "poll_until"]
