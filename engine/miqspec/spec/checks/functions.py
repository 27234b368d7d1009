"""Semantic checks of the ``functions`` section (functions a spec declares in JMESPath).

Takes: the spec's data and the ``Findings`` sink.
Gives: ``check_functions``: the spec's function registry for the other sections' expressions
(``None`` when the spec declares none), with findings for bodies that do not compile (a
caret), bad ``params``, bodies reading roots of the record (``$item``, ``$parent``, ...),
``$calls.<name>`` naming no call, names taken and functions calling each other in a cycle. A
function that fails stays callable (a stub) where it can, so that its uses are not reported
again.
Raises nothing; no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from miqspec.spec import schema as schema_mod
from miqspec.spec.checks.findings import Findings
from miqspec.spec.document import Path
from miqspec.spec.expressions import compile_expression
from miqspec.spec.functions.registry import CustomFunctions
from miqspec.spec.spec_functions import FunctionDefinitionError, define_spec_functions


def check_functions(data: Mapping[str, Any], findings: Findings) -> CustomFunctions | None:
    funcs = data.get("functions")
    if not isinstance(funcs, dict):
        return None
    good = {
        n: f
        for n, f in funcs.items()  # the schema reports the malformed ones
        if isinstance(n, str)
        and re.fullmatch(r"[a-z][a-z0-9_]*", n)
        and isinstance(f, dict)
        and isinstance(f.get("expr"), str)
        and isinstance(f.get("params"), list)
    }
    while good:  # drop each function that fails (reported once), keep the rest usable
        try:
            registry = define_spec_functions(good)
        except FunctionDefinitionError as exc:
            name = exc.function if exc.function in good else next(iter(good))
            _report(findings, ("functions", name), name, exc)
            if "taken" in exc.reason or "'params'" in exc.reason or "stub" in good[name]:
                del good[name]
            else:  # keep the name callable so that its uses are not reported again
                good[name] = {"params": good[name]["params"], "expr": "`null`", "stub": 1}
            continue
        _check_calls_read(data, findings, funcs, registry)
        return registry
    return None


def _check_calls_read(
    data: Mapping[str, Any], findings: Findings, funcs: Mapping[str, Any], registry: Any
) -> None:
    """``$calls.<name>`` in a body must name a call (reported where the body reads it)."""
    raw = data.get("calls")
    calls: Mapping[str, Any] = raw if isinstance(raw, dict) else {}
    for name, definition in funcs.items():
        text = definition.get("expr") if isinstance(definition, dict) else None
        if name not in registry.function_reads or not isinstance(text, str):
            continue
        own = compile_expression(text, registry).calls
        for call in sorted(own - set(calls) - {"*"}):
            at = re.search(rf"\$calls\s*\.\s*{re.escape(call)}\b", text)
            findings.add(
                ("functions", name, "expr"),
                f"unknown call '{call}' in $calls.{call}" + schema_mod.suggest(call, calls),
                at=at.start() if at else None,
            )


def _report(findings: Findings, path: Path, name: str, exc: FunctionDefinitionError) -> None:
    if exc.column is not None:
        findings.syntax_error((*path, "expr"), exc.column, f"JMESPath syntax error: {exc.reason}")
    elif "'params'" in exc.reason:
        findings.add((*path, "params"), exc.reason)
    elif "body" in exc.reason:
        findings.add((*path, "expr"), exc.reason)
    else:
        findings.add(path, f"function '{name}': {exc.reason}", key=True)
