"""Build the typed collection mappings of a checked spec: sources and attribute rules.

Takes: a ``LoadedDocument`` whose data passed ``checks`` (for locations), one collection's
raw mapping and the expression compiler bound to the spec's functions.
Gives: ``build_collections`` (every mapping by collection, routed copies included),
``build_mapping`` (a ``CollectionMapping``: its sources, collection-level attributes and
secondary refs shared by every source), ``build_attribute`` (one attribute rule in any form:
an expression, a constant, ``template``, ``switch``, ``lazy``/``refs``, ``expr`` with
``map``/``match``/``default``), ``case_key`` (how ``map``/``cases`` keys and switch values
compare, also used by the parser) and ``match_rules``. Raises nothing for checked input
(building an unchecked spec may raise ``SpecError``). No I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from miqspec.errors import Location
from miqspec.spec.document import LoadedDocument, Path
from miqspec.spec.expressions import Expression, compile_expression
from miqspec.spec.functions.patterns import Pattern, compile_pattern
from miqspec.spec.model import Attribute, CollectionMapping, Source
from miqspec.spec.routes import routed_where, routes
from miqspec.spec.templating import compile_template

Compile = Callable[[str], Expression]


def case_key(value: Any) -> str:
    """The string a ``map``/``cases`` key or a switch value is compared as (true, 1, text)."""
    return str(value).lower() if isinstance(value, bool) else str(value)


def match_rules(raw: Any) -> tuple[tuple[Pattern, Any], ...]:
    """``match:`` rules (``regex`` and ``value``), their patterns compiled (searches bounded in
    time, ``functions.patterns``)."""
    return tuple((compile_pattern(m["regex"]), m["value"]) for m in raw or [])


def build_collections(
    doc: LoadedDocument, raw: Mapping[str, Any], cx: Compile
) -> dict[str, CollectionMapping]:
    """Every collection's mapping, by collection. A mapping with ``route:`` gives one mapping
    per collection it routes to (its sources narrowed to the records routed there, after that
    collection's own sources when the spec maps it too) besides its own (``spec.routes``)."""
    out: dict[str, CollectionMapping] = {}
    extra: dict[str, list[CollectionMapping]] = {}
    for cname, craw in raw.items():
        conds = routes(craw)
        out[cname] = build_mapping(doc, cname, craw, cx, (conds, None) if conds else None)
        for i, (target, _) in enumerate(conds):
            routed = build_mapping(doc, cname, craw, cx, (conds, i))
            extra.setdefault(target, []).append(routed)
    for target, mappings in extra.items():
        own = out.get(target)
        parts = ([own] if own is not None else []) + mappings
        out[target] = CollectionMapping(
            target,
            all(m.complete for m in parts),
            tuple(s for m in parts for s in m.sources),
            tuple(s for m in parts for s in m.all_sources),
        )
    return out


Route = tuple[list[tuple[str, str]], int | None]


def build_mapping(
    doc: LoadedDocument,
    cname: str,
    craw: Mapping[str, Any],
    cx: Compile,
    route: Route | None = None,
) -> CollectionMapping:
    """One collection's mapping; collection-level ``attributes`` and ``secondary_refs`` are
    shared by every source (a source's own win). ``route``: the mapping's routes and the one
    this copy builds (None: the records no route takes)."""
    cpath: Path = ("collections", cname)
    shared: dict[str, Attribute] = {}
    shared_refs: dict[str, Any] = {}
    raws: list[tuple[Path, Mapping[str, Any]]] = [(cpath, craw)]
    if "sources" in craw:
        shared = _attributes(doc, cpath, craw, cx)
        shared_refs = dict(craw.get("secondary_refs") or {})
        raws = [((*cpath, "sources", i), s) for i, s in enumerate(craw["sources"])]
    tags = craw.get("tags")  # with sources: shared by them (a source's own win)
    sources = tuple(
        _source(doc, path, raw, shared, shared_refs, cx, route, tags) for path, raw in raws
    )
    return CollectionMapping(
        cname,
        bool(craw.get("complete", True)),
        tuple(s for s in sources if s.items is None),
        sources,
    )


def _attributes(
    doc: LoadedDocument, path: Path, raw: Mapping[str, Any], cx: Compile
) -> dict[str, Attribute]:
    """The ``attributes:`` of a collection or source, by name."""
    return {
        k: build_attribute(k, v, doc.location((*path, "attributes", k)), cx)
        for k, v in (raw.get("attributes") or {}).items()
    }


def _source(
    doc: LoadedDocument,
    path: Path,
    raw: Mapping[str, Any],
    shared: Mapping[str, Attribute],
    shared_refs: Mapping[str, Any],
    cx: Compile,
    route: Route | None = None,
    shared_tags: Mapping[str, Any] | None = None,
) -> Source:
    attrs = {**shared, **_attributes(doc, path, raw, cx)}
    where = raw.get("where") or None
    if route is not None:
        where = routed_where(where, *route)
    each = raw.get("each")
    levels = [each] if isinstance(each, str) else list(each or [])
    refs = {**shared_refs, **(raw.get("secondary_refs") or {})}
    # tags: a source's own, else the collection's (shared by every source)
    tags = (raw.get("tags") or shared_tags or {}).get("from")
    return Source(
        call=raw.get("from") or "",
        each=tuple(cx(level) for level in levels),
        where=cx(where) if where else None,
        attributes=tuple(attrs.values()),
        location=doc.location(path),
        items=cx(raw["items"]) if raw.get("items") else None,
        secondary_refs=tuple((k, cx(v)) for k, v in refs.items()),
        merge=bool(raw.get("merge")),
        tags=cx(tags) if tags else None,
    )


def build_attribute(
    name: str, raw: Any, loc: Location, cx: Compile = compile_expression
) -> Attribute:
    """One attribute rule: an expression string, a constant, or a mapping with one form key."""
    if isinstance(raw, str):
        return Attribute(name, "expr", loc, expression=cx(raw))
    if not isinstance(raw, dict):
        return Attribute(name, "const", loc, value=raw)
    if "value" in raw:
        return Attribute(name, "const", loc, value=raw["value"])
    if "template" in raw:
        return _template_attribute(name, raw, loc)
    if "switch" in raw:
        return _switch_attribute(name, raw, loc, cx)
    if "lazy" in raw:
        return _lazy_attribute(name, raw, loc, cx)
    return _expr_attribute(name, raw, loc, cx)


def _template_attribute(name: str, raw: Mapping[str, Any], loc: Location) -> Attribute:
    return Attribute(
        name,
        "template",
        loc,
        template=compile_template(raw["template"]),
        default=raw.get("default"),
        has_default="default" in raw,
    )


def _switch_attribute(name: str, raw: Mapping[str, Any], loc: Location, cx: Compile) -> Attribute:
    fallback = raw.get("default")
    return Attribute(
        name,
        "switch",
        loc,
        expression=cx(raw["switch"]),
        cases={case_key(k): cx(v) for k, v in (raw.get("cases") or {}).items()},
        default_expression=cx(fallback) if isinstance(fallback, str) else None,
    )


def _lazy_attribute(name: str, raw: Mapping[str, Any], loc: Location, cx: Compile) -> Attribute:
    """``lazy`` with ``ref`` (one reference) or ``refs`` (a list); a composite ``ref`` maps
    manager_ref attributes to expressions or to any attribute form (an inner lazy)."""
    spec_ref = raw.get("refs", raw.get("ref"))
    parts: tuple[tuple[str, Expression | Attribute], ...]
    if isinstance(spec_ref, dict):
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
        default=raw.get("default"),
        has_default="default" in raw,
    )


def _expr_attribute(name: str, raw: Mapping[str, Any], loc: Location, cx: Compile) -> Attribute:
    return Attribute(
        name,
        "expr",
        loc,
        expression=cx(raw["expr"]),
        value_map=raw.get("map"),
        match=match_rules(raw.get("match")),
        default=raw.get("default"),
        has_default="default" in raw,
    )
