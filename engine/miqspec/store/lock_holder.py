"""Who holds a provider's refresh lock, and whether that process still lives.

Takes: a host name, a process id and times (from a lock row or a PostgreSQL session).
Gives: ``Holder`` (``describe()`` for messages, ``alive()``: True/False for a process on this
host, None for one elsewhere), ``this_host()`` and ``process_alive(pid)``.
Raises nothing. Signals process ``pid`` with signal 0 (``os.kill``), which only checks it exists.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import datetime


def this_host() -> str:
    """This machine's name, as lock holders record it."""
    return socket.gethostname()


def process_alive(pid: int) -> bool:
    """True when process ``pid`` exists on this host (``os.kill(pid, 0)``)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        return True
    except OSError:
        return False
    return True


@dataclass(frozen=True)
class Holder:
    """The process holding a refresh lock, as far as the database tells."""

    host: str
    pid: int | None
    since: datetime | None = None
    heartbeat: datetime | None = None
    raw: str = ""  # the lock row's holder text (row locks)
    backend: int | None = None  # the PostgreSQL server process holding it (advisory locks)

    def describe(self) -> str:
        who = f"process {self.pid} on {self.host}" if self.pid else f"a session from {self.host}"
        if self.since is not None:
            who += f" (since {self.since:%Y-%m-%d %H:%M:%S} UTC)"
        return who

    def alive(self) -> bool | None:
        """True/False for a process on this host; None when it runs elsewhere (unknown)."""
        if self.pid is None or self.host != this_host():
            return None
        return process_alive(self.pid)
