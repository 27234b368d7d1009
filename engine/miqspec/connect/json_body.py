"""JSON response bodies decoded to exactly what ``json.loads`` gives, about twice as fast.

Takes: a response body (bytes).
Gives: ``decode(body)``: the value ``json.loads(body)`` returns. msgspec's decoder reads the
body when it can (UTF-8 JSON: its values, integers of any size, floats and dict key order are
``json.loads``'); what it refuses (``NaN``/``Infinity``, lone UTF-16 surrogates, floats out of
range, other encodings or a byte-order mark) goes to ``json.loads``, which decides: same value,
same error.
Raises what ``json.loads`` raises for a body it refuses (``json.JSONDecodeError``, another
``ValueError`` for undecodable bytes, ``RecursionError`` for nesting too deep). No I/O.
"""

from __future__ import annotations

import json
from typing import Any

import msgspec

_fast = msgspec.json.Decoder().decode


def decode(body: bytes) -> Any:
    """``json.loads(body)``'s value (see the module doc)."""
    try:
        return _fast(body)
    except (msgspec.MsgspecError, ValueError, RecursionError):
        return json.loads(body)
