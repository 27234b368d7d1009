"""Semantic checks of the ``calls`` section and the provider row, for ``checks``.

Takes: the ``Checker`` of ``checks`` (its document, findings and helpers) and the ``calls``
mapping. Gives: findings for unknown calls (``verify``, ``for_each``, ``fallback``), unknown
services, a call's own ``auth`` (through ``checks_auth``), pagination types (their keys and
expressions), call templates and ``records`` expressions, calls that depend on each other in a
cycle (``embed`` adds edges), ``path``/``url`` (one is needed), call-level ``where`` and
``for_each.where`` roots, ``embed`` (needs a fan-out, object records of the parent, one field
name per parent), ``ancestors[N]`` deeper than the fan-out chain, ``xml:`` without
``format: xml``, ``call_defaults``, form fields marked ``column``, and ``$provider.x`` /
``provider.x`` fields that do not exist. Raises nothing; no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from miqspec.spec import schema as schema_mod
from miqspec.spec.checks import auth as checks_auth
from miqspec.spec.document import Path
from miqspec.spec.model import ENGINE_ROW_COLUMNS, PROVIDER_FACTS, PROVIDER_ROW_FIELDS
from miqspec.spec.templating import TemplateSyntaxError, template_references

if TYPE_CHECKING:
    from miqspec.spec.checks.checker import Checker

TEMPLATED_CALL_KEYS = ("path", "url", "query", "headers", "body", "when", "auth")
EXPRESSION_ROOTS = {"region", "provider", "settings"}
FAN_OUT_ROOTS = {"parent", "ancestors"}
_PROVIDER_FIELD = re.compile(r"\$provider\s*\.\s*([A-Za-z_][A-Za-z0-9_]*)")
_ANCESTOR = re.compile(r"^ancestors\.(\d+)")


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _parent_of(call: Any, calls: Mapping[str, Any]) -> str | None:
    fe = _dict(call).get("for_each")
    name = _dict(fe).get("call")
    return name if isinstance(name, str) and name in calls else None


def fan_out_depth(name: str, calls: Mapping[str, Any]) -> int:
    """How many fan-out levels lie above ``name``'s records (0 for a plain call)."""
    depth, seen = 0, {name}
    parent = _parent_of(calls.get(name), calls)
    while parent is not None and parent not in seen:
        depth, seen = depth + 1, seen | {parent}
        parent = _parent_of(calls.get(parent), calls)
    return depth + (1 if parent is not None else 0)  # a cycle: reported elsewhere


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


def check_calls(ck: Checker) -> None:
    """The ``calls`` section: each call, its references and paginator, and cycles."""
    calls = ck.data.get("calls")
    if not isinstance(calls, dict):
        return
    paginators = schema_mod.variants("paginate")
    verify = ck.data.get("verify")
    if (
        isinstance(verify, dict)
        and isinstance(verify.get("call"), str)
        and (verify["call"] not in calls)
    ):
        ck.add(
            ("verify", "call"),
            f"unknown call '{verify['call']}'" + schema_mod.suggest(verify["call"], calls),
        )
    edges: dict[str, list[str]] = {}
    for name, call in calls.items():
        if not isinstance(call, dict):
            continue
        path: Path = ("calls", name)
        fe = call.get("for_each")
        has_parent = isinstance(fe, dict)
        roots = ck.base_roots() | {"login"} | ({"parent", "ancestors"} if has_parent else set())
        for k in TEMPLATED_CALL_KEYS:
            if k in call:
                ck.templates_in((*path, k), call[k], roots)
        ck._check_service((*path, "service"), call.get("service"))
        if "records" in call:
            ck.expression((*path, "records"), call["records"], set())
        edges[name] = []
        check_call(ck, name, call, calls)  # where, embed, url, ancestors
        if "auth" in call:
            checks_auth.check_call_auth(ck, name, call["auth"])
        if isinstance(fe, dict) and isinstance(fe.get("call"), str):
            _call_ref(ck, (*path, "for_each", "call"), fe["call"], calls)
            edges[name].append(fe["call"])
        fb = call.get("fallback")
        if isinstance(fb, dict) and isinstance(fb.get("call"), str):
            _call_ref(ck, (*path, "fallback", "call"), fb["call"], calls)
            edges[name].append(fb["call"])
        pg = call.get("paginate")
        if isinstance(pg, dict):
            kind = pg.get("type")
            if not isinstance(kind, str) or kind not in paginators:
                ck.add(
                    (*path, "paginate", "type"),
                    f"unknown pagination type '{kind}';"
                    " expected one of: "
                    + ", ".join(sorted(paginators))
                    + schema_mod.suggest(str(kind), paginators),
                )
            else:
                ck.findings.extend(
                    schema_mod.validate_definitions(
                        ck.doc,
                        pg,
                        ("paginate_common", f"paginate_{kind}"),
                        (*path, "paginate"),
                    )
                )
                for k in ("next", "total", "total_pages", "cursor"):
                    if isinstance(pg.get(k), str):
                        ck.expression((*path, "paginate", k), pg[k], set())
    for reader, embedding in embed_edges(calls).items():
        edges.setdefault(reader, []).extend(embedding)
    _check_cycles(ck, edges)
    check_call_defaults(ck)


def _call_ref(ck: Checker, path: Path, name: str, calls: Mapping[str, Any]) -> None:
    if name not in calls:
        ck.add(path, f"unknown call '{name}'" + schema_mod.suggest(name, calls))


def _check_cycles(ck: Checker, edges: dict[str, list[str]]) -> None:
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
                    ck.add(
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


def check_call(ck: Checker, name: str, call: Mapping[str, Any], calls: Mapping[str, Any]) -> None:
    """The checks of one call that the language extensions add."""
    path: Path = ("calls", name)
    if "path" not in call and "url" not in call:
        ck.add(
            path,
            "a call needs path: (appended to the service base URL) or url: "
            "(resolved against it like a link)",
            key=True,
        )
    depth = fan_out_depth(name, calls)
    roots = EXPRESSION_ROOTS | (FAN_OUT_ROOTS if depth else set())
    if "where" in call:
        ck.expression((*path, "where"), call["where"], roots)
    fe = _dict(call.get("for_each"))
    if "where" in fe:
        parent_roots = EXPRESSION_ROOTS | (FAN_OUT_ROOTS if depth > 1 else set())
        ck.expression((*path, "for_each", "where"), fe["where"], parent_roots)
    for key in TEMPLATED_CALL_KEYS:
        for spath, text in _strings(call.get(key), (*path, key)):
            _check_ancestor_depth(ck, spath, text, depth)
    _check_embed(ck, name, call, calls)
    if "xml" in call and call.get("format") != "xml":
        shown = call.get("format", "json")
        ck.add(
            (*path, "xml"),
            f"xml: needs format: xml (this call's format is {shown})",
            key=True,
        )


def _check_ancestor_depth(ck: Checker, path: Path, text: str, depth: int) -> None:
    try:
        refs = template_references(text)
    except TemplateSyntaxError:
        return  # reported by the template check
    for ref in sorted(refs):
        m = _ANCESTOR.match(ref)
        if m and depth and int(m.group(1)) >= depth:  # depth 0: 'ancestors' is unknown
            at = re.search(rf"\bancestors\s*\[\s*{m.group(1)}\s*\]", text)
            ck.syntax_error(
                path,
                at.start() if at else 0,
                f"'ancestors[{m.group(1)}]' does not exist here: this call has "
                f"{depth} fan-out level(s) above it (ancestors[0] is the parent)",
            )


def _check_embed(ck: Checker, name: str, call: Mapping[str, Any], calls: Mapping[str, Any]) -> None:
    embed = call.get("embed")
    if not isinstance(embed, dict):
        return
    path: Path = ("calls", name, "embed")
    parent = _parent_of(call, calls)
    if not isinstance(call.get("for_each"), dict):
        ck.add(
            path,
            "embed needs for_each: the records are set on each record of the parent call",
            key=True,
        )
        return
    if parent is None:
        return  # the unknown for_each call is reported already
    if _dict(calls.get(parent)).get("format") == "text":
        ck.add(path, f"cannot embed into '{parent}': its records are text, not objects", key=True)
    field = embed.get("as")
    if not isinstance(field, str):
        return
    for other in embedders(calls).get(parent, []):
        if other == name:
            break
        if _dict(_dict(calls[other]).get("embed")).get("as") == field:
            ck.add(
                (*path, "as"),
                f"'{parent}' records get '{field}' from '{other}' already; choose another name",
            )
            break


def check_call_defaults(ck: Checker) -> None:
    defaults = ck.data.get("call_defaults")
    if not isinstance(defaults, dict):
        return
    path: Path = ("call_defaults",)
    roots = ck.base_roots() | {"login"}
    for key in ("query", "headers"):
        if key in defaults:
            ck.templates_in((*path, key), defaults[key], roots)
    ck._check_service((*path, "service"), defaults.get("service"))
    pg = defaults.get("paginate")
    if isinstance(pg, dict):
        kinds = schema_mod.variants("paginate")
        kind = pg.get("type")
        if not isinstance(kind, str) or kind not in kinds:
            ck.add(
                (*path, "paginate", "type"),
                f"unknown pagination type '{kind}'; expected one of: " + ", ".join(sorted(kinds)),
            )
            return
        ck.findings.extend(
            schema_mod.validate_definitions(
                ck.doc, pg, ("paginate_common", f"paginate_{kind}"), (*path, "paginate")
            )
        )
        for k in ("next", "total", "total_pages", "cursor"):
            if isinstance(pg.get(k), str):
                ck.expression((*path, "paginate", k), pg[k], set())


def check_form_column(ck: Checker, path: Path, field: Mapping[str, Any]) -> None:
    """``column: true`` only on top-level fields the engine does not write itself."""
    name = field.get("name")
    if field.get("column") is not True or not isinstance(name, str):
        return
    if "." in name:
        ck.add(
            (*path, "column"),
            f"'{name}' is nested; only top-level form fields can be provider-row columns",
        )
    elif name in ENGINE_ROW_COLUMNS:
        ck.add(
            (*path, "column"), f"'{name}' is written by the engine; it cannot come from the form"
        )


def is_row_field(field: Mapping[str, Any]) -> bool:
    """A form field stored on the provider row: never "unused"."""
    name = field.get("name")
    return field.get("column") is True or (isinstance(name, str) and name in PROVIDER_ROW_FIELDS)


def provider_fields(ck: Checker) -> set[str]:
    top = {n for n in ck.form_names if "." not in n}
    from miqspec.spec.checks.form import IMPLICIT_FORM_FIELDS

    return set(PROVIDER_FACTS) | top | IMPLICIT_FORM_FIELDS | PROVIDER_ROW_FIELDS


def check_provider_field(ck: Checker, path: Path, name: str, text: str) -> None:
    """``$provider.<name>`` / ``provider.<name>`` in ``text``: mark a form field used, or
    report it (at its offset in ``text``)."""
    if name in ck.form_names:
        ck.used_form.add(name)
        return
    known = provider_fields(ck)
    if name not in known:
        hint = schema_mod.suggest(name, known)
        at = re.search(rf"\$?\bprovider\s*\.\s*{name}\b", text)
        ck.syntax_error(
            path,
            at.start() if at else 0,
            f"provider has no field '{name}'; it "
            "holds " + ", ".join(PROVIDER_FACTS) + " and the top-level form fields" + hint,
        )


def provider_fields_in_expression(text: str) -> list[str]:
    """Field names read as ``$provider.<name>`` (outside string literals, roughly)."""
    stripped = re.sub(r"'(?:[^'\\]|\\.)*'|`(?:[^`\\]|\\.)*`", "''", text)
    return _PROVIDER_FIELD.findall(stripped)
