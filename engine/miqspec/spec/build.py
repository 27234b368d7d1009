"""Build the typed spec model from a checked document; expressions and templates compiled once.

Takes: a ``LoadedDocument`` whose data passed ``checks`` (for values and locations) and
optionally a ``Catalogue``. Gives: ``build_spec`` (the ``Spec``) and its parts' builders and
rules shared with checks and the parser: ``build_auth``, ``build_paginate``, ``build_attribute``,
``build_mapping``, ``expression_compiler``, ``with_call_defaults`` (``call_defaults`` merging),
``walk_fields``, ``parse_interval`` and ``case_key``. Raises nothing for checked input
(building an unchecked spec may raise ``SpecError``). No I/O.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from miqspec.errors import Location
from miqspec.spec.catalogue import Catalogue, load_catalogue
from miqspec.spec.document import LoadedDocument, Path
from miqspec.spec.expressions import Expression, compile_expression
from miqspec.spec.functions.registry import CustomFunctions
from miqspec.spec.model import (
    INPUT_COMPONENTS,
    PROVIDER_ROW_FIELDS,
    SECRET_COMPONENTS,
    Attribute,
    Auth,
    Body,
    Call,
    CollectionMapping,
    Connection,
    Embed,
    Extract,
    Fallback,
    ForEach,
    FormField,
    LoginStep,
    Paginate,
    Provider,
    Region,
    Retry,
    Source,
    Spec,
)
from miqspec.spec.spec_functions import define_spec_functions
from miqspec.spec.templating import Template, compile_template

DEFAULT_REFRESH_INTERVAL = 15 * 60
# Keys of a call that ``call_defaults`` merges key by key (the others are replaced).
MERGED_CALL_KEYS = ("query", "headers", "retry")


def parse_interval(value: Any) -> int:
    """``15m`` -> 900 seconds; integers are seconds; ``0`` turns the schedule off."""
    if value is None:
        return DEFAULT_REFRESH_INTERVAL
    if isinstance(value, int):
        return value
    m = re.fullmatch(r"(\d+)([smhd]?)", str(value).strip())
    if not m:
        return DEFAULT_REFRESH_INTERVAL
    return int(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]


def walk_fields(fields: list[Any], path: Path) -> list[tuple[Path, Mapping[str, Any]]]:
    """Every form field (depth first) with its spec path."""
    out: list[tuple[Path, Mapping[str, Any]]] = []
    for i, f in enumerate(fields or []):
        if not isinstance(f, dict):
            continue
        out.append(((*path, i), f))
        out.extend(walk_fields(f.get("fields") or [], (*path, i, "fields")))
    return out


def _retry(raw: Mapping[str, Any] | None, base: Retry) -> Retry:
    if not raw:
        return base
    return Retry(
        attempts=int(raw.get("attempts", base.attempts)),
        on=tuple(raw.get("on", base.on)),
        backoff=float(raw.get("backoff", base.backoff)),
        max_backoff=float(raw.get("max_backoff", base.max_backoff)),
    )


def _templates(raw: Mapping[str, Any] | None) -> dict[str, Template]:
    return {k: compile_template(str(v)) for k, v in (raw or {}).items() if v is not None}


def with_call_defaults(
    defaults: Mapping[str, Any] | None, raw: Mapping[str, Any]
) -> dict[str, Any]:
    """``raw`` (one call) over ``call_defaults``: query, headers and retry merge key by key (a
    null query or header value removes a default), every other key replaces the default."""
    out = {**(defaults or {}), **raw}
    for key in MERGED_CALL_KEYS:
        base, own = (defaults or {}).get(key), raw.get(key)
        if isinstance(base, dict) and isinstance(own, dict):
            out[key] = {**base, **own}
    for key in ("query", "headers"):
        if isinstance(out.get(key), dict):
            out[key] = {k: v for k, v in out[key].items() if v is not None}
    return out


def _body(raw: Mapping[str, Any] | None) -> Body | None:
    if not raw:
        return None
    kind, value = next(iter(raw.items()))
    return Body(kind, value)


PAGINATE_EXPRESSIONS = {"next", "total", "total_pages", "cursor"}


Compile = Callable[[str], Expression]


def expression_compiler(functions: Mapping[str, Any] | None) -> Compile:
    """``compile_expression`` bound to the spec's own functions (if it declares any)."""
    registry: CustomFunctions | None = define_spec_functions(functions) if functions else None

    def compile_(text: str) -> Expression:
        return compile_expression(text, registry)

    return compile_


def build_paginate(
    raw: Mapping[str, Any] | None, default_max: int, cx: Compile = compile_expression
) -> Paginate:
    raw = dict(raw or {"type": "none"})
    kind = raw.pop("type", "none")
    max_pages = int(raw.pop("max_pages", default_max))
    exprs = {k: cx(v) for k, v in raw.items() if k in PAGINATE_EXPRESSIONS}
    return Paginate(kind, raw, exprs, max_pages)


def case_key(value: Any) -> str:
    """The string a ``map``/``cases`` key or a switch value is compared as (true, 1, text)."""
    return str(value).lower() if isinstance(value, bool) else str(value)


def build_attribute(
    name: str, raw: Any, loc: Location, cx: Compile = compile_expression
) -> Attribute:
    if isinstance(raw, str):
        return Attribute(name, "expr", loc, expression=cx(raw))
    if not isinstance(raw, dict):
        return Attribute(name, "const", loc, value=raw)
    has_default = "default" in raw
    default = raw.get("default")
    if "value" in raw:
        return Attribute(name, "const", loc, value=raw["value"])
    if "template" in raw:
        return Attribute(
            name,
            "template",
            loc,
            template=compile_template(raw["template"]),
            default=default,
            has_default=has_default,
        )
    if "switch" in raw:
        fallback = raw.get("default")
        return Attribute(
            name,
            "switch",
            loc,
            expression=cx(raw["switch"]),
            cases={case_key(k): cx(v) for k, v in (raw.get("cases") or {}).items()},
            default_expression=cx(fallback) if isinstance(fallback, str) else None,
        )
    if "lazy" in raw:
        spec_ref = raw.get("refs", raw.get("ref"))
        parts: tuple[tuple[str, Expression | Attribute], ...]
        if isinstance(spec_ref, dict):  # a value may itself be any attribute form (inner lazy)
            parts = tuple(
                (k, cx(v) if isinstance(v, str) else build_attribute(k, v, loc, cx))
                for k, v in spec_ref.items()
            )
        else:
            parts = (("", cx(spec_ref or "@")),)
        return Attribute(
            name,
            "lazy_many" if "refs" in raw else "lazy",
            loc,
            lazy=raw["lazy"],
            ref_parts=parts,
            key=raw.get("key"),
            by=raw.get("by"),
            default=default,
            has_default=has_default,
        )
    match = tuple((re.compile(m["regex"]), m["value"]) for m in raw.get("match") or [])
    return Attribute(
        name,
        "expr",
        loc,
        expression=cx(raw["expr"]),
        value_map=raw.get("map"),
        match=match,
        default=default,
        has_default=has_default,
    )


def build_mapping(
    doc: LoadedDocument, cname: str, craw: Mapping[str, Any], cx: Compile
) -> CollectionMapping:
    """One collection's mapping; collection-level ``attributes`` and ``secondary_refs`` are
    shared by every source (a source's own win)."""
    multi = "sources" in craw
    srcs = craw["sources"] if multi else [craw]
    cpath: Path = ("collections", cname)
    shared = (
        {
            k: build_attribute(k, v, doc.location((*cpath, "attributes", k)), cx)
            for k, v in (craw.get("attributes") or {}).items()
        }
        if multi
        else {}
    )
    shared_keys = dict(craw.get("secondary_refs") or {}) if multi else {}
    sources = []
    for i, s in enumerate(srcs):
        spath: Path = (*cpath, "sources", i) if multi else cpath
        attrs = {
            **shared,
            **{
                k: build_attribute(k, v, doc.location((*spath, "attributes", k)), cx)
                for k, v in (s.get("attributes") or {}).items()
            },
        }
        each = s.get("each")
        levels = [each] if isinstance(each, str) else list(each or [])
        keys = {**shared_keys, **(s.get("secondary_refs") or {})}
        sources.append(
            Source(
                call=s.get("from") or "",
                each=tuple(cx(level) for level in levels),
                where=cx(s["where"]) if s.get("where") else None,
                attributes=tuple(attrs.values()),
                location=doc.location(spath),
                items=cx(s["items"]) if s.get("items") else None,
                secondary_refs=tuple((k, cx(v)) for k, v in keys.items()),
            )
        )
    return CollectionMapping(
        cname,
        bool(craw.get("complete", True)),
        tuple(s for s in sources if s.items is None),
        tuple(sources),
    )


def build_auth(raw: Mapping[str, Any], first_service: str, cx: Compile) -> Auth:
    """The spec's ``auth`` or a call's own (a call's has no login steps)."""
    a = dict(raw)
    return Auth(
        type=a.get("type", "none"),
        params={
            k: v
            for k, v in a.items()
            if k not in ("type", "headers", "cookies", "query", "login", "relogin_on")
        },
        headers=_templates(a.get("headers")),
        cookies=_templates(a.get("cookies")),
        query=_templates(a.get("query")),
        login=tuple(
            LoginStep(
                name=s["name"],
                service=s.get("service", first_service),
                method=s.get("method", "POST"),
                path=compile_template(s["path"]),
                query=dict(s.get("query") or {}),
                headers=_templates(s.get("headers")),
                body=_body(s.get("body")),
                extract=tuple(
                    Extract(var, kind, src, cx(src) if kind == "body" else None)
                    for var, e in s["extract"].items()
                    for kind, src in e.items()
                ),
            )
            for s in a.get("login") or []
        ),
        relogin_on=tuple(a.get("relogin_on", (401,))),
    )


def build_spec(doc: LoadedDocument, catalogue: Catalogue | None = None) -> Spec:
    """Build the typed model from checked data."""
    data: Mapping[str, Any] = doc.data
    cx = expression_compiler(data.get("functions"))
    p = data["provider"]
    ps = p.get("power_states") or {}
    provider = Provider(
        name=p["name"],
        title=p["title"],
        manager_type=p["manager_type"],
        vendor=p.get("vendor", p["name"]),
        child_managers=tuple(p.get("child_managers") or ()),
        refresh_interval=parse_interval(p.get("refresh_interval")),
        supports=tuple(p.get("supports") or ()),
        settings=dict(p.get("settings") or {}),
        power_map={str(k): v for k, v in (ps.get("map") or {}).items()},
        power_match=tuple((re.compile(m["regex"]), m["value"]) for m in ps.get("match") or []),
        power_default=ps.get("default", "unknown"),
    )
    regions = tuple(
        Region(r["name"], r.get("hostname"), r.get("description"), dict(r))
        for r in data.get("regions") or []
    )
    form = tuple(
        FormField(
            name=f["name"],
            component=f["component"],
            label=f.get("label", ""),
            required=bool(f.get("isRequired")),
            secret=f["component"] in SECRET_COMPONENTS
            or bool(f.get("secret"))
            or f.get("type") == "password",
            raw=f,
            column=bool(f.get("column"))
            or (f["name"] in PROVIDER_ROW_FIELDS and f["component"] in INPUT_COMPONENTS),
        )
        for _, f in walk_fields((data.get("form") or {}).get("fields") or [], ("form", "fields"))
    )
    c = data.get("connection") or {}
    retry = _retry(c.get("retry"), Retry())
    verify_ssl_raw = c.get("verify_ssl", True)
    connection = Connection(
        services={k: compile_template(v["base_url"]) for k, v in c["services"].items()},
        verify_ssl=compile_template(verify_ssl_raw)
        if isinstance(verify_ssl_raw, str)
        else bool(verify_ssl_raw),
        ca_file=c.get("ca_file"),
        timeout=float(c.get("timeout", 60)),
        connect_timeout=float(c.get("connect_timeout", 10)),
        concurrency=int(c.get("concurrency", 4)),
        max_pages=int(c.get("max_pages", 10_000)),
        retry=retry,
    )
    first_service = next(iter(connection.services))
    auth = build_auth(data.get("auth") or {"type": "none"}, first_service, cx)
    calls: dict[str, Call] = {}
    for name, own in data["calls"].items():
        raw = with_call_defaults(data.get("call_defaults"), own)
        fe = raw.get("for_each")
        fb = raw.get("fallback")
        em = raw.get("embed")
        calls[name] = Call(
            name=name,
            service=raw.get("service", first_service),
            method=raw.get("method", "GET"),
            path=compile_template(raw["url"] if "url" in raw else raw["path"]),
            query=dict(raw.get("query") or {}),
            headers=_templates(raw.get("headers")),
            body=_body(raw.get("body")),
            format=raw.get("format", "json"),
            records=cx(raw["records"]) if raw.get("records") else None,
            paginate=build_paginate(raw.get("paginate"), connection.max_pages, cx),
            for_each=ForEach(
                fe["call"], cx(fe["where"]) if fe.get("where") else None, fe.get("concurrency")
            )
            if fe
            else None,
            skip_on=tuple(raw.get("skip_on") or ()),
            fallback=Fallback(fb["call"], tuple(fb.get("on") or ())) if fb else None,
            retry=_retry(raw.get("retry"), retry),
            when=compile_template(raw["when"]) if raw.get("when") else None,
            timeout=float(raw.get("timeout", connection.timeout)),
            location=doc.location(("calls", name), key=True),
            where=cx(raw["where"]) if raw.get("where") else None,
            embed=Embed(em["as"], bool(em.get("first", False))) if em else None,
            url_join="url" in raw,
            auth=build_auth(raw["auth"], first_service, cx)
            if isinstance(raw.get("auth"), dict)
            else None,
            xml_force_list=tuple((raw.get("xml") or {}).get("force_list") or ()),
        )
    collections = {
        cname: build_mapping(doc, cname, craw, cx)
        for cname, craw in (data.get("collections") or {}).items()
    }
    cat = (catalogue or load_catalogue()).with_models(data.get("models") or {})
    verify = data.get("verify") or {}
    return Spec(
        path=doc.file,
        provider=provider,
        regions=regions,
        form=form,
        connection=connection,
        auth=auth,
        verify_call=verify.get("call"),
        invalid_statuses=tuple(verify.get("invalid_statuses", (401, 403))),
        calls=calls,
        collections=collections,
        catalogue=cat,
        raw=data,
        replay_ignore_query_params=tuple(
            (data.get("replay") or {}).get("ignore_query_params") or ()
        ),
    )
