"""Checks of a spec's JMESPath expressions and Jinja2 templates where they stand.

Takes: the ``Findings`` sink, the spec's data (its regions and ``provider.settings``), the
``Names`` the form and login steps declare, and the spec's function registry (``None``: the
shared one).
Gives: ``TextChecker``: ``expression`` (syntax with a caret, ``$`` roots not available where
the expression stands, ``$provider.<field>``, ``$login.<var>`` no login step extracts),
``template`` (syntax with a caret at the block, constructs a spec template may not use
(``templating.unsupported_constructs``), variables that do not exist there, form fields the
form does not declare (others are marked used), ``login.<var>`` no login step extracts, region
attributes no region defines, settings ``provider.settings`` does not declare,
``provider.<field>``), ``templates_in`` (every string of a value) and ``base_roots``.
Raises nothing; no I/O.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

from miqspec.spec import schema as schema_mod
from miqspec.spec.checks.findings import Findings
from miqspec.spec.checks.names import Names
from miqspec.spec.document import Path
from miqspec.spec.expression_syntax import ExpressionSyntaxError
from miqspec.spec.expressions import compile_expression
from miqspec.spec.functions.registry import CustomFunctions
from miqspec.spec.model import PROVIDER_FACTS
from miqspec.spec.templating import (
    TemplateSyntaxError,
    template_references,
    unsupported_constructs,
)

_PROVIDER_FIELD = re.compile(r"\$provider\s*\.\s*([A-Za-z_][A-Za-z0-9_]*)")
_LOGIN_VAR = re.compile(r"\$login\s*\.\s*([A-Za-z_][A-Za-z0-9_]*)")


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


def provider_fields_in_expression(text: str) -> list[str]:
    """Field names read as ``$provider.<name>`` (outside string literals, roughly)."""
    stripped = re.sub(r"'(?:[^'\\]|\\.)*'|`(?:[^`\\]|\\.)*`", "''", text)
    return _PROVIDER_FIELD.findall(stripped)


def login_vars_in_expression(text: str) -> list[tuple[int, str]]:
    """(offset, name) of each ``$login.<name>`` outside string literals."""
    blanked = re.sub(r"'(?:[^'\\]|\\.)*'|`(?:[^`\\]|\\.)*`", lambda m: " " * len(m.group(0)), text)
    return [(m.start(), m.group(1)) for m in _LOGIN_VAR.finditer(blanked)]


class TextChecker:
    """Checks expressions and templates against the roots available where they stand."""

    def __init__(
        self,
        findings: Findings,
        data: Mapping[str, Any],
        names: Names,
        functions: CustomFunctions | None,
    ) -> None:
        self.findings = findings
        self.data = data
        self.names = names
        self.functions = functions

    def base_roots(self) -> set[str]:
        """The roots of auth, connection and call templates."""
        return self.names.base_roots()

    def expression(self, path: Path, text: Any, roots: set[str]) -> None:
        if not isinstance(text, str):
            return
        try:
            expr = compile_expression(text, self.functions)
        except ExpressionSyntaxError as exc:
            self.findings.syntax_error(path, exc.column, f"JMESPath syntax error: {exc.reason}")
            return
        for root in sorted(expr.roots - roots - {"item"}):
            where = "here" if root != "parent" else "here (no for_each call or each: above it)"
            at = re.search(rf"\${root}\b", text)
            if at is None:  # read by a spec function the expression calls
                reads = self.functions.function_reads if self.functions is not None else {}
                callers = sorted(f for f in expr.functions if root in reads.get(f, ((), ()))[0])
                if callers:
                    where += f" (read by the spec function {callers[0]}())"
                    at = re.search(rf"\b{callers[0]}\s*\(", text)
            self.findings.add(
                path,
                f"expression root '${root}' is not available {where}",
                at=at.start() if at else None,
            )
        if "provider" in expr.roots and "provider" in roots:
            for name in provider_fields_in_expression(text):
                self._check_provider_field(path, name, text)
        if "login" in expr.roots and "login" in roots:
            for offset, name in login_vars_in_expression(text):
                if name not in self.names.login:
                    self.findings.add(
                        path,
                        f"'$login.{name}': no login step extracts '{name}'"
                        + schema_mod.suggest(name, self.names.login),
                        at=offset,
                    )

    def template(self, path: Path, text: Any, roots: set[str]) -> None:
        if not isinstance(text, str):
            return
        try:
            refs = _template_refs(text)
        except TemplateSyntaxError as exc:
            reason = exc.reason[:1].lower() + exc.reason[1:]
            self.findings.syntax_error(
                path, _template_error_offset(text, exc), f"template syntax error: {reason}"
            )
            return
        for at, reason in unsupported_constructs(text):
            self.findings.syntax_error(path, at, reason)
        for ref in sorted(refs):
            self._check_reference(path, text, ref, roots)

    def templates_in(self, path: Path, value: Any, roots: set[str]) -> None:
        """``template`` for every string in ``value`` (mappings and lists walked)."""
        if isinstance(value, str):
            self.template(path, value, roots)
        elif isinstance(value, dict):
            for k, v in value.items():
                self.templates_in((*path, k), v, roots)
        elif isinstance(value, list):
            for i, v in enumerate(value):
                self.templates_in((*path, i), v, roots)

    def _check_reference(self, path: Path, text: str, ref: str, roots: set[str]) -> None:
        """One variable chain ``ref`` a template reads, by its head."""
        names, head = self.names, ref.split(".")[0]
        at = _ref_offset(text, ref)
        if head in ("endpoints", "authentications"):
            self._check_form_field(path, ref, at)
        elif head == "region":
            self._check_region_attr(path, ref, at)
        elif head == "settings":
            self._check_setting(path, ref, at)
        elif head == "login":
            self._check_login_var(path, ref, at)
        elif head in names.form:
            names.used.add(head)
        elif head == "provider" and head in roots and "." in ref:
            self._check_provider_field(path, ref.split(".")[1], text)
        elif head == "parent" and head not in roots:
            self.findings.add(
                path, "template variable 'parent' exists only in calls with for_each", at=at
            )
        elif head not in roots:
            self.findings.add(
                path,
                f"template variable '{head}' does not exist here; available: "
                + ", ".join(sorted(roots)),
                at=at,
            )

    def _check_form_field(self, path: Path, ref: str, at: int | None) -> None:
        declared = self.names.form
        self.names.used.add(ref)
        if not any(ref == n or n.startswith(ref + ".") for n in declared):
            self.findings.add(
                path,
                f"template reads '{ref}' but the form declares no such field"
                + schema_mod.suggest(ref, declared),
                at=at,
            )

    def _check_login_var(self, path: Path, ref: str, at: int | None) -> None:
        var = ref.split(".")[1] if "." in ref else ""
        if var and var not in self.names.login:
            self.findings.add(
                path,
                f"template reads 'login.{var}' but no login step extracts "
                f"it" + schema_mod.suggest(var, self.names.login),
                at=at,
            )

    def _check_region_attr(self, path: Path, ref: str, at: int | None) -> None:
        regions = [r for r in _list(self.data.get("regions")) if isinstance(r, dict)]
        if not regions:
            self.findings.add(
                path, "template reads 'region' but the spec defines no regions", at=at
            )
            return
        attr = ref.split(".")[1] if "." in ref else ""
        if attr and not any(attr in r for r in regions):
            self.findings.add(
                path,
                f"no region defines '{attr}'"
                + schema_mod.suggest(attr, {k for r in regions for k in r}),
                at=at,
            )

    def _check_setting(self, path: Path, ref: str, at: int | None) -> None:
        settings = _dict(_dict(self.data.get("provider")).get("settings"))
        name = ref.split(".")[1] if "." in ref else ""
        if name and name not in settings:
            self.findings.add(
                path,
                f"setting '{name}' is not declared in provider.settings"
                + schema_mod.suggest(name, settings),
                at=at,
            )

    def _check_provider_field(self, path: Path, name: str, text: str) -> None:
        """``$provider.<name>`` / ``provider.<name>`` in ``text``: mark a form field used, or
        report it (at its offset in ``text``)."""
        if name in self.names.form:
            self.names.used.add(name)
            return
        known = self.names.provider_fields()
        if name not in known:
            hint = schema_mod.suggest(name, known)
            at = re.search(rf"\$?\bprovider\s*\.\s*{name}\b", text)
            self.findings.syntax_error(
                path,
                at.start() if at else 0,
                f"provider has no field '{name}'; it "
                "holds " + ", ".join(PROVIDER_FACTS) + " and the top-level form fields" + hint,
            )
