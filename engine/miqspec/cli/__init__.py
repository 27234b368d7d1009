"""The ``miqspec`` command line: a thin layer over the public API (``miqspec.api``).

Offers: ``main`` (the click group; the console script). ``app`` holds the group and the one
place errors become exit codes; ``commands`` and ``refresh`` register their commands on it.
"""

from . import commands, refresh
from .app import main

__all__ = ["commands", "main", "refresh"]
