"""Build the typed spec model from a checked document; expressions and templates compiled once.

Takes: a ``LoadedDocument`` whose data passed ``checks`` (for values and locations) and
optionally a ``Catalogue``. Gives: ``build_spec`` (the ``Spec``, built section by section:
provider, regions, form, connection, auth, calls, collections) and the builders of its parts
(``build_provider``, ``build_regions``, ``build_form``, ``build_connection``, ``build_auth``,
``build_calls``, ``build_paginate``; the collection mappings come from ``build_mappings``),
``expression_compiler``, ``with_call_defaults`` (``call_defaults`` merging), ``walk_fields``
and ``parse_interval``. Raises nothing for checked input (building an unchecked spec may raise
``SpecError``). No I/O.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from miqspec.spec.build_events import build_events, build_targets
from miqspec.spec.build_mappings import Compile, build_collections, match_rules
from miqspec.spec.build_metrics import build_metrics
from miqspec.spec.build_operations import build_operations, build_provisioning
from miqspec.spec.catalogue import Catalogue, load_catalogue
from miqspec.spec.document import LoadedDocument, Path
from miqspec.spec.expressions import Expression, compile_expression
from miqspec.spec.functions.registry import CustomFunctions
from miqspec.spec.model import (
    INPUT_COMPONENTS,
    PROVIDER_ROW_FIELDS,
    SECRET_COMPONENTS,
    FormField,
    Provider,
    Region,
    Spec,
)
from miqspec.spec.model_calls import (
    Auth,
    Body,
    Call,
    Connection,
    Embed,
    Extract,
    Fallback,
    ForEach,
    ItemFallback,
    LoginStep,
    Paginate,
    Poll,
    Retry,
)
from miqspec.spec.spec_functions import define_spec_functions
from miqspec.spec.templating import Template, compile_template

DEFAULT_REFRESH_INTERVAL = 15 * 60
# Keys of a call that ``call_defaults`` merges key by key (the others are replaced).
MERGED_CALL_KEYS = ("query", "headers", "retry")
PAGINATE_EXPRESSIONS = {"next", "total", "total_pages", "cursor"}
# Keys of an auth that are not its kind's parameters.
AUTH_KEYS = ("type", "headers", "cookies", "query", "login", "logout", "relogin_on")

T = TypeVar("T")


def build_spec(doc: LoadedDocument, catalogue: Catalogue | None = None) -> Spec:
    """Build the typed model from checked data."""
    data: Mapping[str, Any] = doc.data
    cx = expression_compiler(data.get("functions"))
    connection = build_connection(data.get("connection") or {})
    first_service = next(iter(connection.services))
    verify = data.get("verify") or {}
    replay = data.get("replay") or {}
    return Spec(
        path=doc.file,
        provider=build_provider(data["provider"]),
        regions=build_regions(data.get("regions")),
        form=build_form(data.get("form")),
        connection=connection,
        auth=build_auth(data.get("auth") or {"type": "none"}, first_service, cx),
        verify_call=verify.get("call"),
        invalid_statuses=tuple(verify.get("invalid_statuses", (401, 403))),
        calls=build_calls(doc, data, connection, cx),
        collections=build_collections(doc, data.get("collections") or {}, cx),
        catalogue=(catalogue or load_catalogue())
        .with_models(data.get("models") or {})
        .with_policies(collection_policies(data.get("collections") or {}))
        .for_provider(
            data["provider"]["manager_type"],
            tuple(data["provider"].get("child_managers") or ()),
        ),
        raw=data,
        replay_ignore_query_params=tuple(replay.get("ignore_query_params") or ()),
        metrics=build_metrics(doc, data.get("metrics"), cx),
        events=build_events(doc, data.get("events"), cx),
        targets=build_targets(doc, data),
        operations=build_operations(doc, data.get("operations"), connection, cx),
        provisioning=build_provisioning(doc, data.get("provisioning"), connection, cx),
    )


def collection_policies(collections: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The catalogue fields a collection mapping sets for its collection (``reconnect``)."""
    return {
        name: {"reconnect": raw["reconnect"]}
        for name, raw in collections.items()
        if isinstance(raw, Mapping) and "reconnect" in raw
    }


def expression_compiler(functions: Mapping[str, Any] | None) -> Compile:
    """``compile_expression`` bound to the spec's own functions (if it declares any)."""
    registry: CustomFunctions | None = define_spec_functions(functions) if functions else None

    def compile_(text: str) -> Expression:
        return compile_expression(text, registry)

    return compile_


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


def build_provider(p: Mapping[str, Any]) -> Provider:
    ps = p.get("power_states") or {}
    return Provider(
        name=p["name"],
        title=p["title"],
        manager_type=p["manager_type"],
        vendor=p.get("vendor", p["name"]),
        child_managers=tuple(p.get("child_managers") or ()),
        refresh_interval=parse_interval(p.get("refresh_interval")),
        supports=tuple(p.get("supports") or ()),
        settings=dict(p.get("settings") or {}),
        power_map={str(k): v for k, v in (ps.get("map") or {}).items()},
        power_match=match_rules(ps.get("match")),
        power_default=ps.get("default", "unknown"),
        class_namespace=p.get("class_namespace", ""),
    )


def build_regions(raw: Any) -> tuple[Region, ...]:
    return tuple(
        Region(r["name"], r.get("hostname"), r.get("description"), dict(r)) for r in raw or []
    )


def walk_fields(fields: list[Any], path: Path) -> list[tuple[Path, Mapping[str, Any]]]:
    """Every form field (depth first) with its spec path."""
    out: list[tuple[Path, Mapping[str, Any]]] = []
    for i, f in enumerate(fields or []):
        if not isinstance(f, dict):
            continue
        out.append(((*path, i), f))
        out.extend(walk_fields(f.get("fields") or [], (*path, i, "fields")))
    return out


def build_form(raw: Any) -> tuple[FormField, ...]:
    """Every field of the form, nested ones included (depth first)."""
    fields = walk_fields((raw or {}).get("fields") or [], ("form", "fields"))
    return tuple(_form_field(f) for _, f in fields)


def _form_field(f: Mapping[str, Any]) -> FormField:
    secret = f["component"] in SECRET_COMPONENTS or bool(f.get("secret"))
    row_field = f["name"] in PROVIDER_ROW_FIELDS and f["component"] in INPUT_COMPONENTS
    return FormField(
        name=f["name"],
        component=f["component"],
        label=f.get("label", ""),
        required=bool(f.get("isRequired")),
        secret=secret or f.get("type") == "password",
        raw=f,
        column=bool(f.get("column")) or row_field,
    )


def build_connection(c: Mapping[str, Any]) -> Connection:
    verify_ssl = c.get("verify_ssl", True)
    return Connection(
        services={k: compile_template(v["base_url"]) for k, v in c["services"].items()},
        verify_ssl=compile_template(verify_ssl)
        if isinstance(verify_ssl, str)
        else bool(verify_ssl),
        ca_file=c.get("ca_file"),
        timeout=float(c.get("timeout", 60)),
        connect_timeout=float(c.get("connect_timeout", 10)),
        concurrency=int(c.get("concurrency", 4)),
        max_pages=int(c.get("max_pages", 10_000)),
        retry=_retry(c.get("retry"), Retry()),
        allowed_origins=tuple(c.get("allowed_origins") or ()),
        deadline=float(c["deadline"]) if c.get("deadline") is not None else None,
        refresh_deadline=float(c.get("refresh_deadline", 3600)),
    )


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


def _body(raw: Mapping[str, Any] | None) -> Body | None:
    if not raw:
        return None
    kind, value = next(iter(raw.items()))
    return Body(kind, value)


def _optional(compile_: Callable[[str], T], raw: Any) -> T | None:
    """``raw`` compiled, or None when it is missing or empty."""
    return compile_(raw) if raw else None


def build_auth(raw: Mapping[str, Any], first_service: str, cx: Compile) -> Auth:
    """The spec's ``auth`` or a call's own (a call's has no login steps)."""
    return Auth(
        type=raw.get("type", "none"),
        params={k: v for k, v in raw.items() if k not in AUTH_KEYS},
        headers=_templates(raw.get("headers")),
        cookies=_templates(raw.get("cookies")),
        query=_templates(raw.get("query")),
        login=tuple(_login_step(s, first_service, cx) for s in raw.get("login") or []),
        relogin_on=tuple(raw.get("relogin_on", (401,))),
        logout=tuple(
            _login_step({"method": "DELETE", "extract": {}, **s}, first_service, cx)
            for s in raw.get("logout") or []
        ),
    )


def _login_step(s: Mapping[str, Any], first_service: str, cx: Compile) -> LoginStep:
    return LoginStep(
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
        format=s.get("format", "json"),
        xml_force_list=tuple((s.get("xml") or {}).get("force_list") or ()),
    )


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


def build_calls(
    doc: LoadedDocument, data: Mapping[str, Any], connection: Connection, cx: Compile
) -> dict[str, Call]:
    """Every call, in spec order, each over ``call_defaults``."""
    defaults = data.get("call_defaults")
    return {
        name: build_call(doc, name, with_call_defaults(defaults, raw), connection, cx)
        for name, raw in data["calls"].items()
    }


def build_call(
    doc: LoadedDocument, name: str, raw: Mapping[str, Any], connection: Connection, cx: Compile
) -> Call:
    """One call (``call_defaults`` merged in already)."""
    first_service = next(iter(connection.services))
    own_auth = raw.get("auth")
    return Call(
        name=name,
        service=raw.get("service", first_service),
        method=raw.get("method", "GET"),
        path=compile_template(raw["url"] if "url" in raw else raw["path"]),
        query=dict(raw.get("query") or {}),
        headers=_templates(raw.get("headers")),
        body=_body(raw.get("body")),
        format=raw.get("format", "json"),
        records=_optional(cx, raw.get("records")),
        paginate=build_paginate(raw.get("paginate"), connection.max_pages, cx),
        for_each=_for_each(raw.get("for_each"), cx),
        skip_on=tuple(raw.get("skip_on") or ()),
        fallback=_fallback(raw.get("fallback")),
        retry=_retry(raw.get("retry"), connection.retry),
        when=_optional(compile_template, raw.get("when")),
        timeout=float(raw.get("timeout", connection.timeout)),
        location=doc.location(("calls", name), key=True),
        where=_optional(cx, raw.get("where")),
        embed=_embed(raw.get("embed")),
        url_join="url" in raw,
        auth=build_auth(own_auth, first_service, cx) if isinstance(own_auth, dict) else None,
        xml_force_list=tuple((raw.get("xml") or {}).get("force_list") or ()),
        item_fallback=_item_fallback(doc, name, raw, connection, cx),
        poll=_poll(raw.get("poll"), cx),
    )


def _item_fallback(
    doc: LoadedDocument, name: str, raw: Mapping[str, Any], connection: Connection, cx: Compile
) -> ItemFallback | None:
    """The call again, its keys replaced by those ``item_fallback`` gives (path or url: both
    replaced; records and format: from the fallback when it gives them)."""
    fb = raw.get("item_fallback")
    if not isinstance(fb, dict):
        return None
    own = {k: v for k, v in fb.items() if k != "on"}
    base = {k: v for k, v in raw.items() if k not in ("item_fallback", "fallback", "poll")}
    if "path" in own or "url" in own:
        base.pop("path", None)
        base.pop("url", None)
    call = build_call(doc, name, {**base, **own}, connection, cx)
    return ItemFallback(call, tuple(fb.get("on") or (404,)))


def _poll(raw: Mapping[str, Any] | None, cx: Compile) -> Poll | None:
    if not raw:
        return None
    return Poll(
        until=cx(raw["until"]),
        interval=float(raw.get("interval", 1.0)),
        backoff=float(raw.get("backoff", 1.0)),
        max_interval=float(raw.get("max_interval", 60.0)),
        deadline=float(raw.get("deadline", 300.0)),
    )


def build_paginate(
    raw: Mapping[str, Any] | None, default_max: int, cx: Compile = compile_expression
) -> Paginate:
    raw = dict(raw or {"type": "none"})
    kind = raw.pop("type", "none")
    max_pages = int(raw.pop("max_pages", default_max))
    exprs = {k: cx(v) for k, v in raw.items() if k in PAGINATE_EXPRESSIONS}
    return Paginate(kind, raw, exprs, max_pages)


def _for_each(raw: Mapping[str, Any] | None, cx: Compile) -> ForEach | None:
    if not raw:
        return None
    each = raw.get("each")
    levels = [each] if isinstance(each, str) else list(each or [])
    return ForEach(
        raw["call"],
        _optional(cx, raw.get("where")),
        raw.get("concurrency"),
        tuple(cx(level) for level in levels),
    )


def _fallback(raw: Mapping[str, Any] | None) -> Fallback | None:
    return Fallback(raw["call"], tuple(raw.get("on") or ())) if raw else None


def _embed(raw: Mapping[str, Any] | None) -> Embed | None:
    return Embed(raw["as"], bool(raw.get("first", False))) if raw else None
