"""Collect: run a spec's calls in dependency order, page by page, fanning out per record.

Offers: ``collect`` (a ``ProviderSession`` and call names -> ``CollectResult``), the typed
results (``CollectResult``, ``CallResult``) and the ``Progress`` callback type. Uses ``connect``
for requests and pagination and ``spec`` for the model.
"""

from .runner import CallResult, CollectResult, Progress, collect

__all__ = ["CallResult", "CollectResult", "Progress", "collect"]
