"""The typed, frozen model of a valid spec; expressions and templates compiled once.

Takes: the plain data of a spec that passed ``checks`` (and its ``LoadedDocument`` for
locations). Gives: ``Spec`` and its parts. Raises nothing for checked input (building an
unchecked spec may raise ``SpecError``). No I/O.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import Location
from .expressions import Expression, compile_expression
from .functions import CustomFunctions, define_spec_functions
from .inventory import Catalogue, load_catalogue
from .loader import LoadedDocument, Path
from .templating import Template, compile_template

SECRET_COMPONENTS = {"password-field"}
INPUT_COMPONENTS = {
    "select",
    "text-field",
    "password-field",
    "checkbox",
    "switch",
    "textarea",
    "hidden",
}
DEFAULT_REFRESH_INTERVAL = 15 * 60
# ManageIQ ext_management_systems columns a create form may set; such top-level form fields
# are stored on the provider row (or in its options when the table lacks the column).
PROVIDER_ROW_FIELDS = frozenset(
    {
        "provider_region",
        "uid_ems",
        "subscription",
        "project",
        "realm",
        "api_version",
        "hostname",
        "port",
        "tenant_mapping_enabled",
        "keystone_v3_domain_id",
        "host_default_vnc_port_start",
        "host_default_vnc_port_end",
    }
)
# Provider-row columns the engine itself writes; never taken from a form.
ENGINE_ROW_COLUMNS = frozenset(
    {
        "id",
        "name",
        "type",
        "guid",
        "zone_id",
        "parent_ems_id",
        "enabled",
        "tenant_id",
        "provider_id",
        "capabilities",
        "options",
        "spec_name",
        "spec_path",
        "created_on",
        "updated_on",
        "last_refresh_date",
        "last_refresh_error",
        "last_refresh_success_date",
        "last_inventory_date",
        "last_metrics_error",
        "last_metrics_update_date",
        "last_metrics_success_date",
    }
)
# What ``$provider`` / template ``provider`` hold besides the top-level form values.
PROVIDER_FACTS = ("name", "id", "guid", "spec_name", "title", "vendor", "type")
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


@dataclass(frozen=True)
class Region:
    name: str
    hostname: str | None
    description: str | None
    attributes: Mapping[str, Any]


@dataclass(frozen=True)
class FormField:
    name: str
    component: str
    label: str
    required: bool
    secret: bool
    raw: Mapping[str, Any]
    column: bool = False  # stored on the provider row (``column: true`` or a known column)


@dataclass(frozen=True)
class Provider:
    name: str
    title: str
    manager_type: str
    vendor: str
    child_managers: tuple[str, ...]
    refresh_interval: int
    supports: tuple[str, ...]
    settings: Mapping[str, Any]
    power_map: Mapping[str, str]
    power_match: tuple[tuple[re.Pattern[str], str], ...]
    power_default: str

    def power_state(self, raw: Any) -> str:
        """ManageIQ's ``calculate_power_state`` for this provider."""
        if raw is None:
            return self.power_default
        text = str(raw)
        if text in self.power_map:
            return self.power_map[text]
        for pattern, value in self.power_match:
            if pattern.search(text):
                return value
        return "never" if text == "never" else self.power_default


@dataclass(frozen=True)
class Retry:
    attempts: int = 4
    on: tuple[int, ...] = (429, 500, 502, 503, 504)
    backoff: float = 0.5
    max_backoff: float = 30.0


@dataclass(frozen=True)
class Connection:
    services: Mapping[str, Template]
    verify_ssl: bool | Template
    ca_file: str | None
    timeout: float
    connect_timeout: float
    concurrency: int
    max_pages: int
    retry: Retry


@dataclass(frozen=True)
class Body:
    kind: str  # json | form | text
    value: Any


@dataclass(frozen=True)
class Extract:
    var: str
    kind: str  # body | header | cookie
    source: str
    expression: Expression | None


@dataclass(frozen=True)
class LoginStep:
    name: str
    service: str
    method: str
    path: Template
    query: Mapping[str, Any]
    headers: Mapping[str, Template]
    body: Body | None
    extract: tuple[Extract, ...]


@dataclass(frozen=True)
class Auth:
    type: str
    params: Mapping[str, Any]
    headers: Mapping[str, Template]
    cookies: Mapping[str, Template]
    query: Mapping[str, Template]
    login: tuple[LoginStep, ...]
    relogin_on: tuple[int, ...]


@dataclass(frozen=True)
class Paginate:
    type: str
    params: Mapping[str, Any]
    expressions: Mapping[str, Expression]
    max_pages: int


@dataclass(frozen=True)
class ForEach:
    call: str
    where: Expression | None
    concurrency: int | None


@dataclass(frozen=True)
class Fallback:
    call: str
    on: tuple[int, ...]


@dataclass(frozen=True)
class Embed:
    """``embed: {as, first}``: a fan-out call's records set as a field of each parent record."""

    field: str
    first: bool


@dataclass(frozen=True)
class Call:
    name: str
    service: str
    method: str
    path: Template
    query: Mapping[str, Any]
    headers: Mapping[str, Template]
    body: Body | None
    format: str
    records: Expression | None
    paginate: Paginate
    for_each: ForEach | None
    skip_on: tuple[int, ...]
    fallback: Fallback | None
    retry: Retry
    when: Template | None
    timeout: float
    location: Location
    where: Expression | None = None  # call-level record filter (every reader sees the rest)
    embed: Embed | None = None
    url_join: bool = False  # ``url:`` (RFC 3986 join with the base) instead of ``path:``


@dataclass(frozen=True)
class Attribute:
    """One attribute rule: how a mapping computes ``name`` for each record.

    ``switch``: ``expression`` is the switch, ``cases`` the expression per case (by the
    switch's value and its string form) and ``default_expression`` the fallback.
    ``ref_parts`` of a lazy: (manager_ref attribute or "" for a single ref, expression or a
    nested attribute rule, e.g. an inner lazy).
    """

    name: str
    kind: str  # const | expr | template | switch | lazy | lazy_many
    location: Location
    value: Any = None
    expression: Expression | None = None
    template: Template | None = None
    value_map: Mapping[Any, Any] | None = None
    match: tuple[tuple[re.Pattern[str], Any], ...] = ()
    default: Any = None
    has_default: bool = False
    lazy: str | None = None
    ref_parts: tuple[tuple[str, Expression | Attribute], ...] = ()
    key: str | None = None
    by: str | None = None
    cases: Mapping[Any, Expression] | None = None
    default_expression: Expression | None = None


@dataclass(frozen=True)
class Source:
    """One source of a collection: a call's records (``call``) or ``items`` computed once.

    ``each``: the nested levels (empty: the records themselves). ``attributes`` include the
    collection-level shared ones. ``secondary_refs``: computed secondary refs (name, expression
    over the built object's attributes).
    """

    call: str  # "" for an items source
    each: tuple[Expression, ...]
    where: Expression | None
    attributes: tuple[Attribute, ...]
    location: Location
    items: Expression | None = None
    secondary_refs: tuple[tuple[str, Expression], ...] = ()


@dataclass(frozen=True)
class CollectionMapping:
    """A collection's mapping. ``sources`` are the sources that read a call; ``all_sources``
    are every source in spec order (with ``items`` sources), which is what the parser runs."""

    name: str
    complete: bool
    sources: tuple[Source, ...]
    all_sources: tuple[Source, ...] = ()

    @property
    def calls(self) -> tuple[str, ...]:
        """Every call this mapping reads: its sources' calls and ``$calls.<name>`` names."""
        names = [s.call for s in self.sources]
        for source in self.all_sources or self.sources:
            for expr in source_expressions(source):
                names.extend(n for n in expr.calls if n != "*")
        return tuple(dict.fromkeys(names))


def attribute_expressions(attr: Attribute) -> list[Expression]:
    """Every compiled expression of an attribute rule (nested ref parts included)."""
    found = [e for e in (attr.expression, attr.default_expression) if e is not None]
    found.extend((attr.cases or {}).values())
    for _, part in attr.ref_parts:
        found.extend(attribute_expressions(part) if isinstance(part, Attribute) else [part])
    return found


def source_expressions(source: Source) -> list[Expression]:
    """Every compiled expression of a source: items, each levels, where, attributes."""
    found = [e for e in (source.items, source.where) if e is not None]
    found.extend(source.each)
    for attr in source.attributes:
        found.extend(attribute_expressions(attr))
    return found


@dataclass(frozen=True)
class Spec:
    path: str
    provider: Provider
    regions: tuple[Region, ...]
    form: tuple[FormField, ...]
    connection: Connection
    auth: Auth
    verify_call: str | None
    invalid_statuses: tuple[int, ...]
    calls: Mapping[str, Call]
    collections: Mapping[str, CollectionMapping]
    catalogue: Catalogue
    raw: Mapping[str, Any] = field(repr=False, default_factory=dict)
    replay_ignore_query_params: tuple[str, ...] = ()

    @property
    def secret_fields(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.form if f.secret)

    def region(self, name: str | None) -> Region | None:
        return next((r for r in self.regions if r.name == name), None)


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
    a = dict(data.get("auth") or {"type": "none"})
    auth = Auth(
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
