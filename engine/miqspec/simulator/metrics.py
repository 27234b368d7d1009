"""Deterministic, realistic utilisation series for the simulator's metrics endpoints.

Takes: an instance id, the dataset's seed and a window (epoch seconds). Gives: ``series``
(1-minute samples in the window, oldest first: ``timestamp`` ISO 8601 UTC with the
instance's fixed sub-second offset, ``cpu_percent``, ``memory_percent``,
``disk_read_kbps``, ``disk_write_kbps``, ``net_in_kbps``, ``net_out_kbps``), ``profile``
(``idle``, ``normal`` or ``busy``) and ``parse_moment`` (an ISO 8601 or epoch query value).
The same instance and minute give the same values in any window and on any run: a daily
shape (low at 03:00 UTC, high at 15:00), noise from a hash of the minute, about 1 % of
minutes missing, and for one instance in eight a 12-minute outage every 6 hours (gaps, never
zeros). Raises nothing; no I/O.
"""

from __future__ import annotations

import hashlib
import math
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

MASK = (1 << 64) - 1
MAX_WINDOW = 7 * 86400


def _mix(x: int) -> int:
    """A 64-bit integer hash (splitmix64's finaliser)."""
    x = (x ^ (x >> 33)) * 0xFF51AFD7ED558CCD & MASK
    x = (x ^ (x >> 33)) * 0xC4CEB9FE1A85EC53 & MASK
    return x ^ (x >> 33)


@lru_cache(maxsize=65536)
def _traits(instance_id: str, seed: str) -> tuple[int, str, float, float, float, int, bool]:
    """(hash key, profile, cpu base, cpu swing, memory base, millisecond offset, outages)."""
    d = hashlib.blake2b(f"{seed}/{instance_id}/metrics".encode(), digest_size=16).digest()
    key = int.from_bytes(d[:8], "big")
    kind = "idle" if d[8] < 77 else ("normal" if d[8] < 205 else "busy")
    base, swing = {"idle": (1.5, 3.0), "normal": (15.0, 25.0), "busy": (55.0, 30.0)}[kind]
    memory = {"idle": 20.0, "normal": 45.0, "busy": 70.0}[kind] + d[9] % 15
    offset_ms = (d[10] << 8 | d[11]) % 1000 if d[12] % 2 else 0
    return key, kind, base + d[13] % 10, swing, memory, offset_ms, d[14] % 8 == 0


def profile(instance_id: str, seed: int | str = 0) -> str:
    """``idle``, ``normal`` or ``busy``: how loaded the instance is."""
    return _traits(instance_id, str(seed))[1]


def parse_moment(value: str | None) -> int | None:
    """Epoch seconds of a query value (ISO 8601, ``Z`` or an offset; or epoch seconds)."""
    if not value:
        return None
    text = value.strip()
    try:
        return int(float(text))
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return math.floor(moment.timestamp())


def _stamp(epoch: int, offset_ms: int) -> str:
    text = datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{text}.{offset_ms:03d}Z" if offset_ms else text + "Z"


def _clamp(value: float, high: float = 100.0) -> float:
    return round(min(max(value, 0.0), high), 2)


def series(instance_id: str, seed: int | str, start: int, end: int) -> list[dict[str, Any]]:
    """The 1-minute samples of ``instance_id`` whose time lies in ``[start, end]``."""
    key, _kind, base, swing, memory, offset_ms, outages = _traits(instance_id, str(seed))
    out = []
    first = -(-(start * 1000 - offset_ms) // 60000)  # the first minute at or after start
    for minute in range(first, (end * 1000 - offset_ms) // 60000 + 1):
        h = _mix(key ^ minute)
        if h % 97 == 0:
            continue  # a missing sample
        if outages and (minute // 60) % 6 == key % 6 and minute % 60 < 12:
            continue  # an outage
        noise = (h >> 11) / float(1 << 53) * 2 - 1  # -1 .. 1
        hour = (minute % 1440) / 60
        daily = 0.5 - 0.5 * math.cos(2 * math.pi * (hour - 3) / 24)
        cpu = _clamp(base + swing * daily + noise * swing * 0.2)
        io = cpu * (1.0 + ((h >> 3) & 7) / 8)
        out.append(
            {
                "timestamp": _stamp(minute * 60, offset_ms),
                "cpu_percent": cpu,
                "memory_percent": _clamp(memory + 6 * daily + noise * 2),
                "disk_read_kbps": round(io * 12.5, 1),
                "disk_write_kbps": round(io * 7.25, 1),
                "net_in_kbps": round(io * 3.5 + 0.5, 1),
                "net_out_kbps": round(io * 2.25 + 0.25, 1),
            }
        )
    return out
