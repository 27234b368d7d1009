"""Semantic checks of the ``collections`` section (mappings), for ``checks``.

Takes: the spec's data, the ``Findings`` sink, the ``TextChecker`` (and its function
registry) and the inventory ``Catalogue`` extended by the spec's ``models``.
Gives: findings for unknown collections, calls and attributes; sources without ``from`` or
``items``; ``each`` levels and the roots each may read (``$parent``/``$ancestors`` only where
something encloses the subject; ``items`` reads no record, so no ``$item``/``$parent``);
collection-level shared ``attributes``; computed ``secondary_refs`` (names that clash with the
catalogue's, bad expressions); attribute forms (``value``, ``expr``, ``template``, ``switch``,
``lazy``) and lazy references (target, ``key``, ``by`` against the catalogue's and the spec's
computed secondary refs, composite ``ref`` parts, nested lazies inside a ``ref``); fields
records of a known shape cannot have (``checks.shapes``).
Raises nothing; no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from miqspec.spec import schema as schema_mod
from miqspec.spec.catalogue import Catalogue, CollectionDef
from miqspec.spec.checks.call_flow import check_source_ancestors, check_source_embeds
from miqspec.spec.checks.findings import Findings
from miqspec.spec.checks.routes import check_alias_lazy
from miqspec.spec.checks.shapes import check_items_fields
from miqspec.spec.checks.texts import TextChecker
from miqspec.spec.document import Path
from miqspec.spec.expression_syntax import ExpressionSyntaxError
from miqspec.spec.expressions import compile_expression
from miqspec.spec.functions.patterns import pattern_problem
from miqspec.spec.routes import LAZY_ALIASES, lazy_target

BASE_ROOTS = {"region", "provider", "settings", "calls", "index", "login"}
ITEMS_ROOTS = {"region", "provider", "settings", "calls", "login"}
ENCLOSED = {"parent", "ancestors"}
TEMPLATE_ROOTS = {"item", "parent", "ancestors", "region", "provider", "settings", "index"}
FORMS = {
    "value": "attribute_value",
    "expr": "attribute_expr",
    "template": "attribute_template",
    "switch": "attribute_switch",
    "lazy": "attribute_lazy",
}


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def check_collections(
    data: Mapping[str, Any], findings: Findings, text: TextChecker, catalogue: Catalogue
) -> None:
    cols = data.get("collections")
    if not isinstance(cols, dict):
        return
    CollectionChecks(data, findings, text, catalogue, cols).run()


class CollectionChecks:
    """The checks of every collection mapping, with what they share (calls, computed refs)."""

    def __init__(
        self,
        data: Mapping[str, Any],
        findings: Findings,
        text: TextChecker,
        catalogue: Catalogue,
        cols: Mapping[str, Any],
    ) -> None:
        self.findings, self.text, self.catalogue, self.cols = findings, text, catalogue, cols
        self.calls: Mapping[str, Any] = _dict(data.get("calls"))
        self.computed: dict[str, set[str]] = {}  # collection -> computed secondary ref names
        for cname, craw in cols.items():
            craw = _dict(craw)
            names = set(_dict(craw.get("secondary_refs")))
            sources = craw.get("sources")
            for src in sources if isinstance(sources, list) else []:
                names |= set(_dict(_dict(src).get("secondary_refs")))
            self.computed[str(cname)] = {n for n in names if isinstance(n, str)}

    def run(self) -> None:
        for cname, craw in self.cols.items():
            self.collection(str(cname), craw)

    def collection(self, cname: str, craw: Any) -> None:
        path: Path = ("collections", cname)
        target = self.catalogue.get(cname)
        if target is None:
            self.findings.add(
                path,
                f"unknown collection '{cname}'"
                + schema_mod.suggest(cname, self.catalogue.collections),
                key=True,
            )
        if not isinstance(craw, dict):
            return
        sources = craw.get("sources")
        if not any(k in craw for k in ("from", "items", "sources")):
            self.findings.add(
                path,
                f"collection '{cname}' needs from: (a call), items: (an expression) or sources:",
                key=True,
            )
            return
        self.secondary_refs(path, craw, target)
        if not isinstance(sources, list):
            self.source(path, craw, target, {})
            return
        shared = _dict(craw.get("attributes"))
        roots: set[str] | None = None
        for i, src in enumerate(sources):
            if not isinstance(src, dict):
                continue
            spath: Path = (*path, "sources", i)
            self.secondary_refs(spath, src, target)
            inner = self.source(spath, src, target, shared)
            roots = inner if roots is None else roots & inner
        for attr, value in shared.items():  # shared attributes see what every source offers
            self.attribute(
                (*path, "attributes", attr),
                str(attr),
                value,
                target,
                BASE_ROOTS if roots is None else roots,
            )

    def expr(self, path: Path, text: Any, roots: set[str]) -> None:
        """``TextChecker.expression``, and ``$calls.<name>`` must name a call."""
        self.text.expression(path, text, roots)
        if not isinstance(text, str) or "$calls" not in text:
            return
        try:
            expr = compile_expression(text, self.text.functions)
        except ExpressionSyntaxError:
            return  # reported by TextChecker.expression
        for name in sorted(expr.calls - set(self.calls) - {"*"}):
            self.findings.add(
                path,
                f"unknown call '{name}' in $calls.{name}" + schema_mod.suggest(name, self.calls),
            )

    def secondary_refs(
        self, path: Path, raw: Mapping[str, Any], target: CollectionDef | None
    ) -> None:
        for name, text in _dict(raw.get("secondary_refs")).items():
            kpath: Path = (*path, "secondary_refs", name)
            if target is not None and name in target.secondary_refs:
                self.findings.add(
                    kpath,
                    f"secondary ref '{name}' of '{target.name}' is defined by "
                    "the catalogue; choose another name",
                    key=True,
                )
            self.expr(kpath, text, set())  # over the built object's attributes

    def source(
        self,
        path: Path,
        src: Mapping[str, Any],
        target: CollectionDef | None,
        shared: Mapping[str, Any],
    ) -> set[str]:
        """Check one source; return the roots its attributes may read."""
        call_name, items = src.get("from"), src.get("items")
        call = self.calls.get(call_name) if isinstance(call_name, str) else None
        check_source_ancestors(self.findings, path, src, self.calls)
        check_source_embeds(self.findings, path, src, self.calls)
        if isinstance(call_name, str) and call is None:
            self.findings.add(
                (*path, "from"),
                f"unknown call '{call_name}'" + schema_mod.suggest(call_name, self.calls),
            )
        if call_name is None and items is None:
            self.findings.add(path, "a source needs from: (a call) or items: (an expression)")
        if isinstance(items, str):
            self.items((*path, "items"), items)
        fan_out = isinstance(call, dict) and "for_each" in call
        outer = BASE_ROOTS | (ENCLOSED if fan_out else set())
        each = src.get("each")
        levels = [each] if isinstance(each, str) else each if isinstance(each, list) else []
        if isinstance(each, list) and not each:
            self.findings.add((*path, "each"), "each: needs at least one level")
        for depth, level in enumerate(levels):
            lpath: Path = (*path, "each") if isinstance(each, str) else (*path, "each", depth)
            if not isinstance(level, str):
                self.findings.add(
                    lpath,
                    "an each: level must be a JMESPath string, got " + schema_mod.type_name(level),
                )
            self.expr(lpath, level, outer if depth == 0 else BASE_ROOTS | ENCLOSED)
        inner = BASE_ROOTS | ENCLOSED if levels else outer
        if "where" in src:
            self.expr((*path, "where"), src["where"], inner)
        own = src.get("attributes")
        attrs = {**shared, **_dict(own)}
        if not attrs:
            if own is None:  # present but not a mapping is reported by the schema check
                self.findings.add(
                    path, "a source needs attributes: (here or at the collection level)"
                )
            return inner
        if target is not None:
            for ref_attr in target.manager_ref:
                if ref_attr not in attrs:
                    self.findings.add(
                        (*path, "attributes") if isinstance(own, dict) else path,
                        f"collection '{target.name}' is identified by "
                        f"{list(target.manager_ref)} but '{ref_attr}' is not mapped",
                    )
        for attr, value in _dict(own).items():
            self.attribute((*path, "attributes", attr), str(attr), value, target, inner)
        check_items_fields(self.findings, path, src, self.text.functions, self.calls)
        return inner

    def items(self, path: Path, text: str) -> None:
        self.expr(path, text, ITEMS_ROOTS)
        try:
            expr = compile_expression(text, self.text.functions)
        except ExpressionSyntaxError:
            return  # reported above
        if "item" in expr.roots:
            self.findings.add(
                path,
                "expression root '$item' is not available here (items: is "
                "evaluated once, on no record)",
            )

    def attribute(
        self, path: Path, attr: str, value: Any, target: CollectionDef | None, roots: set[str]
    ) -> None:
        if target is not None and attr not in target.attribute_names():
            self.findings.add(
                path,
                f"collection '{target.name}' has no attribute '{attr}'"
                + schema_mod.suggest(attr, target.attribute_names()),
                key=True,
            )
            return
        if isinstance(value, str):
            self.expr(path, value, roots)
            return
        if not isinstance(value, dict):
            return
        form = next((f for f in FORMS if f in value), None)
        if form is None:
            self.findings.add(path, "an attribute mapping needs one of: " + ", ".join(FORMS))
            return
        self.findings.extend(
            schema_mod.validate_definitions(self.findings.doc, value, (FORMS[form],), path)
        )
        if form == "expr":
            self.expr((*path, "expr"), value.get("expr"), roots)
            match = value.get("match")
            for i, rule in enumerate(match if isinstance(match, list) else []):
                pattern = _dict(rule).get("regex")
                problem = pattern_problem(pattern) if isinstance(pattern, str) else None
                if problem:
                    self.findings.add((*path, "match", i, "regex"), problem)
        elif form == "template":
            self.text.template((*path, "template"), value.get("template"), TEMPLATE_ROOTS)
        elif form == "switch":
            self.expr((*path, "switch"), value.get("switch"), roots)
            for case, text in _dict(value.get("cases")).items():
                self.expr((*path, "cases", case), text, roots)
            self.expr((*path, "default"), value.get("default"), roots)
        elif form == "lazy":
            self.lazy(path, attr, value, target, roots)

    def lazy(
        self,
        path: Path,
        attr: str,
        value: Mapping[str, Any],
        owner: CollectionDef | None,
        roots: set[str],
    ) -> None:
        name = value.get("lazy")
        ref = value.get("refs", value.get("ref"))
        target = self.catalogue.get(lazy_target(name)) if isinstance(name, str) else None
        check_alias_lazy(self.findings, path, value)
        if isinstance(ref, dict):
            self.ref_parts((*path, "ref"), ref, target, roots)
        else:
            self.expr((*path, "refs" if "refs" in value else "ref"), ref, roots)
        if target is None:
            if isinstance(name, str):
                self.findings.add(
                    (*path, "lazy"),
                    f"lazy reference to unknown collection '{name}'"
                    + schema_mod.suggest(name, [*self.catalogue.collections, *LAZY_ALIASES]),
                )
            return
        if owner is not None:
            self.owner_link(path, attr, value, owner, target, LAZY_ALIASES.get(str(name), ()))
        key = value.get("key")
        if isinstance(key, str) and key not in target.attribute_names() | {"id"}:
            self.findings.add(
                (*path, "key"),
                f"collection '{target.name}' has no attribute '{key}'"
                + schema_mod.suggest(key, target.attribute_names()),
            )
        by = value.get("by")
        computed = self.computed.get(target.name, set())
        if isinstance(by, str) and by not in target.secondary_refs and by not in computed:
            known = ", ".join(map(str, [*target.secondary_refs, *sorted(computed)])) or "none"
            self.findings.add(
                (*path, "by"),
                f"collection '{target.name}' has no secondary ref '{by}' (known: {known})",
            )
        if isinstance(by, str) and by in computed and isinstance(ref, dict):
            self.findings.add(
                (*path, "ref"),
                f"'{by}' is a computed secondary ref: give one ref: expression, not a mapping",
            )
        if isinstance(ref, dict) and by is None:
            for k in ref:
                if k not in target.manager_ref:
                    self.findings.add(
                        (*path, "ref", k),
                        f"'{k}' is not part of the manager_ref "
                        f"{list(target.manager_ref)} of '{target.name}'",
                        key=True,
                    )
            missing = [k for k in target.manager_ref if k not in ref]
            if missing:
                self.findings.add(
                    (*path, "ref"),
                    f"the manager_ref {list(target.manager_ref)} of "
                    f"'{target.name}' needs {', '.join(missing)} in ref:",
                )

    def owner_link(
        self,
        path: Path,
        attr: str,
        value: Mapping[str, Any],
        owner: CollectionDef,
        target: CollectionDef,
        members: tuple[str, ...] = (),
    ) -> None:
        """Whether ``attr`` of ``owner`` may refer to ``target`` (an alias: its ``members``)."""
        if "refs" in value:
            m2m = owner.many_to_many.get(attr)
            if m2m is None:
                self.findings.add(
                    path,
                    f"'{attr}' of '{owner.name}' is not a many-to-many link; "
                    "use ref: for a single reference",
                    key=True,
                )
            elif m2m.collection != target.name:
                self.findings.add(
                    (*path, "lazy"), f"'{attr}' links to '{m2m.collection}', not '{target.name}'"
                )
            return
        ref_def = owner.references.get(attr)
        if attr in owner.many_to_many and "key" not in value:
            self.findings.add(
                path,
                f"'{attr}' of '{owner.name}' is a many-to-many link; use "
                "refs: (an expression giving a list of references)",
                key=True,
            )
        elif ref_def is None and "key" not in value:
            self.findings.add(
                path,
                f"'{attr}' of '{owner.name}' is not a reference; add key: "
                "to copy one attribute of the target",
                key=True,
            )
        elif (
            ref_def is not None
            and "key" not in value
            and not {*ref_def.collections} & {*(members or (target.name,))}
        ):
            self.findings.add(
                (*path, "lazy"),
                f"'{attr}' refers to {' or '.join(map(str, ref_def.collections))}, "
                f"not '{target.name}'",
            )

    def ref_parts(
        self, path: Path, ref: Mapping[str, Any], target: CollectionDef | None, roots: set[str]
    ) -> None:
        """A composite ref: each part is an expression or any attribute form (inner lazy)."""
        for k, v in ref.items():
            ppath: Path = (*path, k)
            if isinstance(v, str):
                self.expr(ppath, v, roots)
            elif isinstance(v, dict):
                if "lazy" in v:
                    for extra in ("by", "key", "refs"):
                        if extra in v:
                            self.findings.add(
                                (*ppath, extra),
                                f"a lazy inside a composite ref finds "
                                f"its object by manager_ref; {extra}: is not allowed "
                                "here",
                                key=True,
                            )
                part_target = target if target is not None and k in target.manager_ref else None
                self.attribute(ppath, str(k), v, part_target, roots)
