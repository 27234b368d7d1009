"""The ``miqspec`` command line: a thin layer over the public API (``miqspec.api``).

Offers: ``main`` (the click group; the console script). ``app`` holds the group and the one
place errors become exit codes; ``options`` the options several commands share; ``specs``,
``providers``, ``refresh``, ``events``, ``metrics``, ``vm`` (operations), ``provision``
(``provision``, ``requests``), ``tags`` (tag mappings) and ``author`` (``try``, ``test``)
register their commands on the group; ``report`` renders results, ``output`` prints them
(colours and tables on a terminal, plain text elsewhere) and ``progress`` shows a refresh's
progress.
Imports only ``miqspec.api``, ``miqspec.errors`` and ``miqspec.version`` of miqspec.
"""

from . import author, events, metrics, providers, provision, refresh, specs, tags, vm
from .app import main

__all__ = [
    "author",
    "events",
    "main",
    "metrics",
    "providers",
    "provision",
    "refresh",
    "specs",
    "tags",
    "vm",
]
