"""Sandboxed Jinja2 templates for URLs, queries, headers and bodies.

Takes: template text from a spec. Gives: ``Template`` objects compiled once, rendering against
a context mapping with undefined names as errors; ``template_references`` lists the dotted
variable chains a template reads (for the validator). Strings without ``{{``/``{%`` are
constants and skip Jinja entirely. Raises ``TemplateSyntaxError`` (with a column) at compile
time and ``MappingError`` when rendering reads an undefined name. No I/O.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

from miqspec.errors import MappingError, MiqspecError


class TemplateSyntaxError(MiqspecError):
    """A template that does not compile; ``line`` is 1-based within the template text."""

    exit_code = 1

    def __init__(self, reason: str, line: int = 1, column: int = 0) -> None:
        super().__init__(reason)
        self.reason = reason
        self.line = line
        self.column = column


def _b64(value: str) -> str:
    import base64

    return base64.b64encode(str(value).encode()).decode()


def _urlencode(value: Any) -> str:
    from urllib.parse import quote

    return quote(str(value), safe="")


@functools.cache
def environment() -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(
        undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True
    )
    env.filters["b64encode"] = _b64
    env.filters["urlencode"] = _urlencode
    env.filters["tojson"] = lambda v: json.dumps(v)
    return env


def is_template(text: str) -> bool:
    return "{{" in text or "{%" in text


class Template:
    """A compiled template; ``render(context)`` gives a string."""

    __slots__ = ("_compiled", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self._compiled: jinja2.Template | None = None
        if is_template(text):
            try:
                self._compiled = environment().from_string(text)
            except jinja2.TemplateSyntaxError as exc:
                raise TemplateSyntaxError(
                    exc.message or "syntax error", exc.lineno or 1, _column_of(text, exc)
                ) from None

    def render(self, context: Mapping[str, Any]) -> str:
        if self._compiled is None:
            return self.text
        try:
            return self._compiled.render(context)
        except jinja2.UndefinedError as exc:
            raise MappingError(f"template {self.text!r}: {exc.message}") from None
        except jinja2.TemplateError as exc:
            raise MappingError(f"template {self.text!r}: {exc}") from None


def _column_of(text: str, exc: jinja2.TemplateSyntaxError) -> int:
    line = text.splitlines()[(exc.lineno or 1) - 1] if text else ""
    start = line.find("{{")
    return max(start, 0)


@functools.cache
def compile_template(text: str) -> Template:
    return Template(text)


def render_value(value: Any, context: Mapping[str, Any]) -> Any:
    """Render every string inside a nested structure (bodies, queries)."""
    if isinstance(value, str):
        return compile_template(value).render(context)
    if isinstance(value, dict):
        return {k: render_value(v, context) for k, v in value.items()}
    if isinstance(value, list):
        return [render_value(v, context) for v in value]
    return value


def template_references(text: str) -> set[str]:
    """Dotted chains of the free variables a template reads, e.g. ``endpoints.default.url``.

    Returns an empty set for non-templates; raises ``TemplateSyntaxError``.
    """
    if not is_template(text):
        return set()
    try:
        ast = environment().parse(text)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateSyntaxError(
            exc.message or "syntax error", exc.lineno or 1, _column_of(text, exc)
        ) from None
    assigned = {n.name for n in ast.find_all(nodes.Name) if n.ctx in ("store", "param")}
    chains: set[str] = set()

    def chain(node: nodes.Node) -> str | None:
        if isinstance(node, nodes.Name):
            return None if node.name in assigned else node.name
        if isinstance(node, nodes.Getattr):
            base = chain(node.node)
            return f"{base}.{node.attr}" if base else None
        if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
            base = chain(node.node)
            return f"{base}.{node.arg.value}" if base else None
        return None

    def visit(node: nodes.Node, parent_is_access: bool) -> None:
        if isinstance(node, nodes.Getattr | nodes.Getitem | nodes.Name) and not parent_is_access:
            c = chain(node)
            if c:
                chains.add(c)
        for child in node.iter_child_nodes():
            is_access = isinstance(node, nodes.Getattr | nodes.Getitem) and child is node.node
            visit(child, is_access)

    visit(ast, False)
    return chains
