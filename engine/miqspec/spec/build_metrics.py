"""Build the typed ``metrics`` section of a checked spec.

Takes: a ``LoadedDocument`` whose data passed ``checks`` (for the section's location), the
raw ``metrics`` mapping (or None) and the expression compiler bound to the spec's functions.
Gives: ``build_metrics`` (a ``MetricsSpec``, or None when the spec declares no metrics) and
``seconds`` (``5m`` -> 300). Raises nothing for checked input; no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from miqspec.spec.document import LoadedDocument
from miqspec.spec.expressions import Expression
from miqspec.spec.metrics_model import (
    DEFAULT_CAPTURE_THRESHOLD,
    DEFAULT_SOURCE_INTERVAL,
    DEFAULT_WINDOW,
    TARGET_COLLECTIONS,
    MetricsSpec,
)

_UNIT = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def seconds(value: Any, default: int) -> int:
    """``5m`` -> 300, ``20s`` -> 20, ``4h`` -> 14400; integers are seconds; None -> default."""
    if value is None:
        return default
    if isinstance(value, int):
        return value
    found = re.fullmatch(r"(\d+)([smhd]?)", str(value).strip())
    return int(found.group(1)) * _UNIT[found.group(2)] if found else default


def build_metrics(
    doc: LoadedDocument, raw: Mapping[str, Any] | None, cx: Callable[[str], Expression]
) -> MetricsSpec | None:
    """The ``metrics`` section as a ``MetricsSpec`` (None when absent)."""
    if not raw:
        return None
    targets = raw["targets"]
    samples = raw["samples"]

    def optional(text: str | None) -> Expression | None:
        return cx(text) if text is not None else None

    collection = targets["collection"]
    return MetricsSpec(
        collection=collection,
        resource_type=TARGET_COLLECTIONS.get(collection, collection),
        where=optional(targets.get("where")),
        call=raw["call"],
        bulk=bool(raw.get("bulk", False)),
        interval=seconds(raw.get("interval"), DEFAULT_SOURCE_INTERVAL),
        window=seconds(raw.get("window"), DEFAULT_WINDOW),
        capture_threshold=seconds(raw.get("capture_threshold"), DEFAULT_CAPTURE_THRESHOLD),
        timestamp=cx(samples["timestamp"]),
        counters={name: cx(text) for name, text in raw["counters"].items()},
        location=doc.location(("metrics",), key=True),
        each=optional(samples.get("each")),
        target=optional(samples.get("target")),
        name=optional(samples.get("name")),
        value=optional(samples.get("value")),
    )
