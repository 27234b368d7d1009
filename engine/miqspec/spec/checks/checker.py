"""Semantic checks of a loaded spec, on top of the cerberus schema.

Takes: a ``LoadedDocument`` and the inventory ``Catalogue``.
Gives: every ``Finding`` at once: schema errors, variant errors (auth kinds, paginators,
attribute forms), JMESPath and Jinja2 syntax errors with a caret, unknown collections,
attributes, lazy references and keys, unknown or cyclic calls, template variables that do not
exist where used, form fields used but not declared (and declared but unused), region
attributes no region defines. Raises nothing; no I/O.

This module holds the ``Checker`` (findings, carets, the expression and template checks every
section uses), the ``functions`` section and the order of the sections; the sections live in
``checks_form``, ``checks_auth`` (auth and connection), ``checks_calls`` and
``checks_collections``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

from miqspec.errors import Finding
from miqspec.spec import schema as schema_mod
from miqspec.spec.catalogue import Catalogue
from miqspec.spec.checks import auth as checks_auth
from miqspec.spec.checks import calls as checks_calls
from miqspec.spec.checks import form as checks_form
from miqspec.spec.checks import mappings as checks_collections
from miqspec.spec.document import LoadedDocument, Path, format_path
from miqspec.spec.expression_syntax import ExpressionSyntaxError
from miqspec.spec.expressions import compile_expression
from miqspec.spec.spec_functions import FunctionDefinitionError, define_spec_functions
from miqspec.spec.templating import TemplateSyntaxError, template_references

BASE_ROOTS = {"region", "endpoints", "authentications", "settings", "provider"}


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _ref_offset(text: str, ref: str) -> int | None:
    """Offset of the variable chain ``ref`` (``a.b.c``) in template ``text``, if found."""
    parts = [re.escape(p) for p in ref.split(".")]
    pattern = (
        r"(?<![\w.])"
        + parts[0]
        + "".join(rf"\s*(?:\.\s*{p}\b|\[\s*['\"]{p}['\"]\s*\])" for p in parts[1:])
    )
    found = re.search(pattern, text)
    return found.start() if found else None


@functools.lru_cache(maxsize=4096)
def _template_refs(text: str) -> frozenset[str]:
    """``template_references`` cached: specs repeat the same templates in many calls."""
    return frozenset(template_references(text))


def _template_error_offset(text: str, exc: TemplateSyntaxError) -> int:
    """Offset of the ``{{``/``{%`` block a Jinja syntax error is in (Jinja gives the line)."""
    lines = text.split("\n")
    number = min(max(exc.line, 1), len(lines))
    start = sum(len(line) + 1 for line in lines[: number - 1])
    line = lines[number - 1]
    blocks = [i for i in range(len(line) - 1) if line[i] == "{" and line[i + 1] in "{%#"]
    for block in blocks:
        close = line.find("}", block + 2)
        end = start + (close + 2 if close >= 0 else len(line))
        try:
            template_references(text[:end])
        except TemplateSyntaxError as inner:
            if inner.reason == exc.reason and inner.line == exc.line:
                return start + block
    return start + (blocks[0] if blocks else exc.column)


class Checker:
    def __init__(self, doc: LoadedDocument, catalogue: Catalogue) -> None:
        self.doc = doc
        self.data: Mapping[str, Any] = doc.data if isinstance(doc.data, dict) else {}
        self.catalogue = catalogue.with_models(self._models())
        self.findings: list[Finding] = []
        self.used_form: set[str] = set()
        self.form_names: set[str] = set()
        self.login_vars: set[str] = set()
        self.functions: Any = None

    def _models(self) -> Mapping[str, Any]:
        models = self.data.get("models")
        if not isinstance(models, dict):
            return {}
        return {  # the schema check reports bad models; only malformed ones are left out
            name: raw
            for name, raw in models.items()
            if isinstance(name, str) and schema_mod.is_well_formed(raw, ("model",))
        }

    # -- helpers -------------------------------------------------------------------------
    def add(self, path: Path, message: str, *, key: bool = False, at: int | None = None) -> None:
        """A finding at ``path`` (its key with ``key``; character ``at`` of its string value)."""
        loc = (
            self.doc.location(path, key=key) if at is None else (self.doc.offset_location(path, at))
        )
        self.findings.append(Finding(loc, format_path(path), message))

    def syntax_error(self, path: Path, offset: int, message: str) -> None:
        loc = self.doc.offset_location(path, offset)
        caret = self.doc.line_text(loc.line) + "\n" + " " * (loc.col - 1) + "^"
        self.findings.append(Finding(loc, format_path(path), message, caret))

    def expression(self, path: Path, text: Any, roots: set[str]) -> None:
        if not isinstance(text, str):
            return
        try:
            expr = compile_expression(text, self.functions)
        except ExpressionSyntaxError as exc:
            self.syntax_error(path, exc.column, f"JMESPath syntax error: {exc.reason}")
            return
        for root in sorted(expr.roots - roots - {"item"}):
            where = "here" if root != "parent" else "here (no for_each call or each: above it)"
            at = re.search(rf"\${root}\b", text)
            self.findings.append(
                Finding(
                    self.doc.offset_location(path, at.start()) if at else self.doc.location(path),
                    format_path(path),
                    f"expression root '${root}' is not available {where}",
                )
            )
        if "provider" in expr.roots and "provider" in roots:
            for name in checks_calls.provider_fields_in_expression(text):
                checks_calls.check_provider_field(self, path, name, text)

    def template(self, path: Path, text: Any, roots: set[str]) -> None:
        if not isinstance(text, str):
            return
        try:
            refs = _template_refs(text)
        except TemplateSyntaxError as exc:
            reason = exc.reason[:1].lower() + exc.reason[1:]
            self.syntax_error(
                path, _template_error_offset(text, exc), f"template syntax error: {reason}"
            )
            return
        for ref in sorted(refs):
            head = ref.split(".")[0]
            at = _ref_offset(text, ref)
            if head in ("endpoints", "authentications"):
                self.used_form.add(ref)
                if not any(ref == n or n.startswith(ref + ".") for n in self.form_names):
                    self.add(
                        path,
                        f"template reads '{ref}' but the form declares no such field"
                        + schema_mod.suggest(ref, self.form_names),
                        at=at,
                    )
            elif head == "region":
                self._check_region_attr(path, ref, at)
            elif head == "settings":
                self._check_setting(path, ref, at)
            elif head == "login":
                var = ref.split(".")[1] if "." in ref else ""
                if var and var not in self.login_vars:
                    self.add(
                        path,
                        f"template reads 'login.{var}' but no login step extracts "
                        f"it" + schema_mod.suggest(var, self.login_vars),
                        at=at,
                    )
            elif head in self.form_names:
                self.used_form.add(head)
            elif head == "provider" and head in roots and "." in ref:
                checks_calls.check_provider_field(self, path, ref.split(".")[1], text)
            elif head == "parent" and head not in roots:
                self.add(
                    path, "template variable 'parent' exists only in calls with for_each", at=at
                )
            elif head not in roots:
                self.add(
                    path,
                    f"template variable '{head}' does not exist here; available: "
                    + ", ".join(sorted(roots)),
                    at=at,
                )

    def _check_region_attr(self, path: Path, ref: str, at: int | None = None) -> None:
        regions = [r for r in _list(self.data.get("regions")) if isinstance(r, dict)]
        if not regions:
            self.add(path, "template reads 'region' but the spec defines no regions", at=at)
            return
        attr = ref.split(".")[1] if "." in ref else ""
        if attr and not any(attr in r for r in regions):
            self.add(
                path,
                f"no region defines '{attr}'"
                + schema_mod.suggest(attr, {k for r in regions for k in r}),
                at=at,
            )

    def _check_setting(self, path: Path, ref: str, at: int | None = None) -> None:
        settings = _dict(_dict(self.data.get("provider")).get("settings"))
        name = ref.split(".")[1] if "." in ref else ""
        if name and name not in settings:
            self.add(
                path,
                f"setting '{name}' is not declared in provider.settings"
                + schema_mod.suggest(name, settings),
                at=at,
            )

    def templates_in(self, path: Path, value: Any, roots: set[str]) -> None:
        if isinstance(value, str):
            self.template(path, value, roots)
        elif isinstance(value, dict):
            for k, v in value.items():
                self.templates_in((*path, k), v, roots)
        elif isinstance(value, list):
            for i, v in enumerate(value):
                self.templates_in((*path, i), v, roots)

    # -- sections ------------------------------------------------------------------------
    def run(self) -> list[Finding]:
        if not isinstance(self.doc.data, dict):
            self.add(
                (),
                "a spec must be a mapping at the top level, got "
                + schema_mod.type_name(self.doc.data),
            )
            return self.findings
        self.findings.extend(schema_mod.validate_document(self.doc))
        self.check_functions()
        checks_form.check_form(self)
        checks_auth.check_auth(self)
        checks_auth.check_connection(self)
        checks_calls.check_calls(self)
        # sources, each levels, shared attributes, secondary refs, attribute forms, lazies
        checks_collections.check_collections(self)
        checks_form.check_form_usage(self)
        return sorted(set(self.findings))

    def check_functions(self) -> None:
        funcs = self.data.get("functions")
        if not isinstance(funcs, dict):
            return
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
                self.functions = define_spec_functions(good)
                return
            except FunctionDefinitionError as exc:
                name = exc.function if exc.function in good else next(iter(good))
                path: Path = ("functions", name)
                if exc.column is not None:
                    self.syntax_error(
                        (*path, "expr"), exc.column, f"JMESPath syntax error: {exc.reason}"
                    )
                elif "'params'" in exc.reason:
                    self.add((*path, "params"), exc.reason)
                elif "body" in exc.reason:
                    self.add((*path, "expr"), exc.reason)
                else:
                    self.add(path, f"function '{name}': {exc.reason}", key=True)
                if "taken" in exc.reason or "'params'" in exc.reason or "stub" in good[name]:
                    del good[name]
                else:  # keep the name callable so that its uses are not reported again
                    good[name] = {"params": good[name]["params"], "expr": "`null`", "stub": 1}

    def base_roots(self) -> set[str]:
        return set(BASE_ROOTS) | {n for n in self.form_names if "." not in n}

    def _services(self) -> dict[str, Any]:
        conn = self.data.get("connection")
        services = conn.get("services") if isinstance(conn, dict) else None
        return services if isinstance(services, dict) else {}

    def _check_service(self, path: Path, name: Any) -> None:
        if isinstance(name, str) and self._services() and name not in self._services():
            self.add(
                path,
                f"unknown service '{name}'; known: "
                + ", ".join(self._services())
                + schema_mod.suggest(name, self._services()),
            )


def check_document(doc: LoadedDocument, catalogue: Catalogue) -> list[Finding]:
    """All findings for ``doc``, sorted by position."""
    return Checker(doc, catalogue).run()
