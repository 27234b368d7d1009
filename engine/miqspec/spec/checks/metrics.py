"""Semantic checks of the ``metrics`` section, and the template roots a metrics call adds.

Takes: the spec's data, the ``Findings`` sink, the ``TextChecker`` and the inventory
``Catalogue`` (extended by the spec's ``models``).
Gives: ``check_metrics``: findings for a target collection that is unknown or cannot be a
capture target (its table has no ``last_perf_capture_on``), an unknown call, a fan-out call
(a metrics call runs once per target, or once with ``bulk``), ``bulk`` without
``samples.target``, and the roots of every expression (``targets.where`` reads the stored
row with ``$provider``/``$settings``; sample expressions add ``$parent``/``$ancestors`` under
``samples.each``; counters read one sample). ``metrics_call_roots``: the template variables
the metrics call may read (``target`` or ``targets``, and ``metrics``). Raises nothing; no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from miqspec.spec import schema as schema_mod
from miqspec.spec.catalogue import Catalogue
from miqspec.spec.checks.findings import Findings
from miqspec.spec.checks.texts import TextChecker
from miqspec.spec.metrics_model import TARGET_COLLECTIONS

ROW_ROOTS = {"provider", "settings"}
SAMPLE_ROOTS = {"region", "provider", "settings"}
EACH_ROOTS = {"parent", "ancestors"}


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def metrics_call_roots(data: Mapping[str, Any], call: str) -> set[str]:
    """The template variables call ``call`` may read because ``metrics.call`` names it:
    ``metrics`` (the window) and ``target`` (per target) or ``targets`` (``bulk``)."""
    metrics = _dict(data.get("metrics"))
    if metrics.get("call") != call:
        return set()
    return {"metrics", "targets" if metrics.get("bulk") is True else "target"}


def check_metrics(
    data: Mapping[str, Any], findings: Findings, text: TextChecker, catalogue: Catalogue
) -> None:
    """The ``metrics`` section (its shape is the schema's)."""
    metrics = data.get("metrics")
    if not isinstance(metrics, dict):
        return
    _check_targets(findings, text, _dict(metrics.get("targets")), catalogue)
    _check_call(data, findings, metrics)
    samples = _dict(metrics.get("samples"))
    if metrics.get("bulk") is True and "target" not in samples:
        findings.add(
            ("metrics", "bulk"),
            "bulk: true needs samples.target (the ems_ref of the target each point is for)",
            key=True,
        )
    if isinstance(samples.get("each"), str):
        text.expression(("metrics", "samples", "each"), samples["each"], SAMPLE_ROOTS)
    point_roots = SAMPLE_ROOTS | (EACH_ROOTS if "each" in samples else set())
    for key in ("timestamp", "target", "name", "value"):
        if isinstance(samples.get(key), str):
            text.expression(("metrics", "samples", key), samples[key], point_roots)
    for name, expr in _dict(metrics.get("counters")).items():
        text.expression(("metrics", "counters", name), expr, SAMPLE_ROOTS)


def _check_targets(
    findings: Findings, text: TextChecker, targets: Mapping[str, Any], catalogue: Catalogue
) -> None:
    name = targets.get("collection")
    if isinstance(name, str):
        coll = catalogue.get(name)
        if coll is None:
            findings.add(
                ("metrics", "targets", "collection"),
                f"unknown collection '{name}'" + schema_mod.suggest(name, TARGET_COLLECTIONS),
            )
        elif "last_perf_capture_on" not in coll.columns:
            findings.add(
                ("metrics", "targets", "collection"),
                f"'{name}' cannot be a capture target: table {coll.table} has no "
                "last_perf_capture_on; targets are " + ", ".join(TARGET_COLLECTIONS),
            )
    if isinstance(targets.get("where"), str):
        text.expression(("metrics", "targets", "where"), targets["where"], ROW_ROOTS)


def _check_call(data: Mapping[str, Any], findings: Findings, metrics: Mapping[str, Any]) -> None:
    name = metrics.get("call")
    calls = _dict(data.get("calls"))
    if not isinstance(name, str):
        return
    if name not in calls:
        findings.add(
            ("metrics", "call"), f"unknown call '{name}'" + schema_mod.suggest(name, calls)
        )
    elif "for_each" in _dict(calls[name]):
        findings.add(
            ("metrics", "call"),
            f"call '{name}' fans out (for_each); a metrics call runs once per target "
            "(or once for all with bulk: true) and reads target/targets instead",
        )
