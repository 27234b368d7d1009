"""Semantic checks of the ``calls`` and ``call_defaults`` sections, and of ``verify``.

Takes: the spec's data, the ``Findings`` sink and the ``TextChecker``.
Gives: ``check_calls``: findings for unknown calls (``verify``, ``for_each``, ``fallback``),
unknown services, a call's own ``auth`` (through ``auth.check_call_auth``), pagination types
(their keys and expressions), call templates and ``records`` expressions, calls that depend on
each other in a cycle (``embed`` adds edges), ``path``/``url`` (one is needed), call-level
``where`` and ``for_each.where`` roots, ``embed`` (needs a fan-out, object records of the
parent, one field name per parent), ``ancestors[N]`` deeper than the fan-out chain, ``xml:``
without ``format: xml`` and ``call_defaults``; ``call_flow`` adds nested fan-out
(``for_each.each``), ``item_fallback``, ``poll`` and ``$calls`` (also as dependencies).
Raises nothing; no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from miqspec.spec import schema as schema_mod
from miqspec.spec.checks.auth import check_call_auth, check_service
from miqspec.spec.checks.call_flow import calls_read, check_call_flow, fan_out_depth
from miqspec.spec.checks.events import events_call_roots, targeted_call_roots
from miqspec.spec.checks.findings import Findings
from miqspec.spec.checks.metrics import metrics_call_roots
from miqspec.spec.checks.texts import TextChecker
from miqspec.spec.document import Path
from miqspec.spec.templating import TemplateSyntaxError, template_references

TEMPLATED_CALL_KEYS = ("path", "url", "query", "headers", "body", "when", "auth")
EXPRESSION_ROOTS = {"region", "provider", "settings", "calls", "login"}
FAN_OUT_ROOTS = {"parent", "ancestors"}
PAGINATE_EXPRESSIONS = ("next", "total", "total_pages", "cursor")
_ANCESTOR = re.compile(r"^ancestors\.(\d+)")


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _parent_of(call: Any, calls: Mapping[str, Any]) -> str | None:
    fe = _dict(call).get("for_each")
    name = _dict(fe).get("call")
    return name if isinstance(name, str) and name in calls else None


def embedders(calls: Mapping[str, Any]) -> dict[str, list[str]]:
    """Parent call -> the calls embedding their records into it (spec order)."""
    out: dict[str, list[str]] = {}
    for name, call in calls.items():
        parent = _parent_of(call, calls)
        if parent is not None and isinstance(_dict(call).get("embed"), dict):
            out.setdefault(parent, []).append(name)
    return out


def embed_edges(calls: Mapping[str, Any]) -> dict[str, list[str]]:
    """Edges ``reader -> embedding call``: a call reading a parent call (for_each, fallback)
    runs after the calls that embed into that parent, unless it embeds into it itself."""
    emb = embedders(calls)
    out: dict[str, list[str]] = {}
    for name, call in calls.items():
        for key in ("for_each", "fallback"):
            target = _dict(_dict(call).get(key)).get("call")
            if isinstance(target, str) and target in emb and name not in emb[target]:
                out.setdefault(name, []).extend(emb[target])
    return out


def _strings(value: Any, path: Path) -> Iterator[tuple[Path, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _strings(v, (*path, i))


def check_calls(data: Mapping[str, Any], findings: Findings, text: TextChecker) -> None:
    """The ``calls`` section: each call, its references and paginator, and cycles."""
    calls = data.get("calls")
    if not isinstance(calls, dict):
        return
    _check_verify(data, findings, calls)
    edges: dict[str, list[str]] = {}
    for name, call in calls.items():
        if isinstance(call, dict):
            edges[name] = _check_call(data, findings, text, name, call, calls)
    for reader, embedding in embed_edges(calls).items():
        edges.setdefault(reader, []).extend(embedding)
    _check_cycles(findings, edges)
    check_call_defaults(data, findings, text)


def _check_verify(data: Mapping[str, Any], findings: Findings, calls: Mapping[str, Any]) -> None:
    verify = data.get("verify")
    if isinstance(verify, dict) and isinstance(verify.get("call"), str):
        _check_call_ref(findings, ("verify", "call"), verify["call"], calls)


def _check_call(
    data: Mapping[str, Any],
    findings: Findings,
    text: TextChecker,
    name: str,
    call: Mapping[str, Any],
    calls: Mapping[str, Any],
) -> list[str]:
    """One call; gives the calls it depends on (``for_each``, ``fallback``, ``$calls``)."""
    path: Path = ("calls", name)
    fan_out = FAN_OUT_ROOTS if isinstance(call.get("for_each"), dict) else set()
    roots = text.base_roots() | {"login"} | fan_out | metrics_call_roots(data, name)
    roots |= targeted_call_roots(data, name) | events_call_roots(data, name)
    for k in TEMPLATED_CALL_KEYS:
        if k in call:
            text.templates_in((*path, k), call[k], roots)
    check_service(data, findings, (*path, "service"), call.get("service"))
    if "records" in call:
        records_roots = EXPRESSION_ROOTS | (FAN_OUT_ROOTS if fan_out else set())
        records_roots |= targeted_call_roots(data, name)
        text.expression((*path, "records"), call["records"], records_roots)
    _check_extensions(findings, text, name, call, calls)
    if "auth" in call:
        check_call_auth(findings, name, call["auth"])
    depends: list[str] = []
    for key in ("for_each", "fallback"):
        ref = call.get(key)
        if isinstance(ref, dict) and isinstance(ref.get("call"), str):
            _check_call_ref(findings, (*path, key, "call"), ref["call"], calls)
            depends.append(ref["call"])
    depends.extend(n for n in calls_read(text, call) if n in calls and n != name)
    pg = call.get("paginate")
    if isinstance(pg, dict):
        _check_paginate(findings, text, (*path, "paginate"), pg, hint=True)
    return depends


def _check_call_ref(findings: Findings, path: Path, name: str, calls: Mapping[str, Any]) -> None:
    if name not in calls:
        findings.add(path, f"unknown call '{name}'" + schema_mod.suggest(name, calls))


def _check_paginate(
    findings: Findings, text: TextChecker, path: Path, pg: Mapping[str, Any], *, hint: bool
) -> None:
    """A ``paginate:`` mapping: a known type, its keys (against the type's schema) and its
    expressions; ``hint`` adds "did you mean" to an unknown type."""
    kinds = schema_mod.variants("paginate")
    kind = pg.get("type")
    if not isinstance(kind, str) or kind not in kinds:
        findings.add(
            (*path, "type"),
            f"unknown pagination type '{kind}'; expected one of: "
            + ", ".join(sorted(kinds))
            + (schema_mod.suggest(str(kind), kinds) if hint else ""),
        )
        return
    findings.extend(
        schema_mod.validate_definitions(
            findings.doc, pg, ("paginate_common", f"paginate_{kind}"), path
        )
    )
    for k in PAGINATE_EXPRESSIONS:
        if isinstance(pg.get(k), str):
            text.expression((*path, k), pg[k], set())


def _check_cycles(findings: Findings, edges: dict[str, list[str]]) -> None:
    state: dict[str, int] = {}
    reported: set[frozenset[str]] = set()

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in edges.get(node, []):
            if state.get(nxt) == 1:
                cycle = [*stack[stack.index(nxt) :], nxt] if nxt in stack else [node, nxt]
                key = frozenset(cycle)
                if key not in reported:
                    reported.add(key)
                    findings.add(
                        ("calls", nxt),
                        "calls depend on each other in a cycle: " + " -> ".join(cycle),
                        key=True,
                    )
            elif state.get(nxt) is None and nxt in edges:
                visit(nxt, [*stack, nxt])
        state[node] = 2

    for start in edges:
        if state.get(start) is None:
            visit(start, [start])


def _check_extensions(
    findings: Findings,
    text: TextChecker,
    name: str,
    call: Mapping[str, Any],
    calls: Mapping[str, Any],
) -> None:
    """The checks of one call that the language extensions add: ``path``/``url``, ``where``
    roots, ``ancestors[N]``, ``embed`` and ``xml``."""
    path: Path = ("calls", name)
    if "path" not in call and "url" not in call:
        findings.add(
            path,
            "a call needs path: (appended to the service base URL) or url: "
            "(resolved against it like a link)",
            key=True,
        )
    depth = fan_out_depth(name, calls)
    roots = EXPRESSION_ROOTS | (FAN_OUT_ROOTS if depth else set())
    if "where" in call:
        text.expression((*path, "where"), call["where"], roots)
    fe = _dict(call.get("for_each"))
    if "where" in fe:
        parent_roots = EXPRESSION_ROOTS | (FAN_OUT_ROOTS if depth > 1 else set())
        text.expression((*path, "for_each", "where"), fe["where"], parent_roots)
    for key in TEMPLATED_CALL_KEYS:
        for spath, value in _strings(call.get(key), (*path, key)):
            _check_ancestor_depth(findings, spath, value, depth)
    _check_embed(findings, name, call, calls)
    check_call_flow(findings, text, name, call, calls)
    if "xml" in call and call.get("format") != "xml":
        shown = call.get("format", "json")
        findings.add(
            (*path, "xml"),
            f"xml: needs format: xml (this call's format is {shown})",
            key=True,
        )


def _check_ancestor_depth(findings: Findings, path: Path, text: str, depth: int) -> None:
    try:
        refs = template_references(text)
    except TemplateSyntaxError:
        return  # reported by the template check
    for ref in sorted(refs):
        m = _ANCESTOR.match(ref)
        if m and depth and int(m.group(1)) >= depth:  # depth 0: 'ancestors' is unknown
            at = re.search(rf"\bancestors\s*\[\s*{m.group(1)}\s*\]", text)
            findings.syntax_error(
                path,
                at.start() if at else 0,
                f"'ancestors[{m.group(1)}]' does not exist here: this call has "
                f"{depth} fan-out level(s) above it (ancestors[0] is the parent)",
            )


def _check_embed(
    findings: Findings, name: str, call: Mapping[str, Any], calls: Mapping[str, Any]
) -> None:
    embed = call.get("embed")
    if not isinstance(embed, dict):
        return
    path: Path = ("calls", name, "embed")
    parent = _parent_of(call, calls)
    if not isinstance(call.get("for_each"), dict):
        findings.add(
            path,
            "embed needs for_each: the records are set on each record of the parent call",
            key=True,
        )
        return
    if parent is None:
        return  # the unknown for_each call is reported already
    if _dict(calls.get(parent)).get("format") == "text":
        findings.add(
            path, f"cannot embed into '{parent}': its records are text, not objects", key=True
        )
    field = embed.get("as")
    if not isinstance(field, str):
        return
    for other in embedders(calls).get(parent, []):
        if other == name:
            break
        if _dict(_dict(calls[other]).get("embed")).get("as") == field:
            findings.add(
                (*path, "as"),
                f"'{parent}' records get '{field}' from '{other}' already; choose another name",
            )
            break


def check_call_defaults(data: Mapping[str, Any], findings: Findings, text: TextChecker) -> None:
    defaults = data.get("call_defaults")
    if not isinstance(defaults, dict):
        return
    path: Path = ("call_defaults",)
    roots = text.base_roots() | {"login"}
    for key in ("query", "headers"):
        if key in defaults:
            text.templates_in((*path, key), defaults[key], roots)
    check_service(data, findings, (*path, "service"), defaults.get("service"))
    pg = defaults.get("paginate")
    if isinstance(pg, dict):
        _check_paginate(findings, text, (*path, "paginate"), pg, hint=False)
