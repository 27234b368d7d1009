"""Semantic checks of the ``functions`` section (functions a spec declares in JMESPath).

Takes: the spec's data and the ``Findings`` sink.
Gives: ``check_functions``: the spec's function registry for the other sections' expressions
(``None`` when the spec declares none), with findings for bodies that do not compile (a
caret), bad ``params``, bodies with ``$`` roots, names taken and recursion. A function that
fails stays callable (a stub) where it can, so that its uses are not reported again.
Raises nothing; no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from miqspec.spec.checks.findings import Findings
from miqspec.spec.document import Path
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
            return define_spec_functions(good)
        except FunctionDefinitionError as exc:
            name = exc.function if exc.function in good else next(iter(good))
            _report(findings, ("functions", name), name, exc)
            if "taken" in exc.reason or "'params'" in exc.reason or "stub" in good[name]:
                del good[name]
            else:  # keep the name callable so that its uses are not reported again
                good[name] = {"params": good[name]["params"], "expr": "`null`", "stub": 1}
    return None


def _report(findings: Findings, path: Path, name: str, exc: FunctionDefinitionError) -> None:
    if exc.column is not None:
        findings.syntax_error((*path, "expr"), exc.column, f"JMESPath syntax error: {exc.reason}")
    elif "'params'" in exc.reason:
        findings.add((*path, "params"), exc.reason)
    elif "body" in exc.reason:
        findings.add((*path, "expr"), exc.reason)
    else:
        findings.add(path, f"function '{name}': {exc.reason}", key=True)
