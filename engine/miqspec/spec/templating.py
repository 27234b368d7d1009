"""Sandboxed Jinja2 templates for URLs, queries, headers and bodies.

Takes: template text from a spec. Gives: ``Template`` objects compiled once, rendering against
a context mapping with undefined names as errors, in the bounded sandbox of ``sandbox``;
``template_references`` lists the dotted variable chains a template reads and
``unsupported_constructs`` what a spec template may not use (both for the validator). Strings
without ``{{``/``{%`` are constants and skip Jinja entirely. Templates may not read other
templates (``include``, ``import``, ``extends``: there are none), define macros or call blocks,
capture blocks (``{% set x %}...{% endset %}``, ``{% filter %}``), loop recursively or nest a
loop in a loop (the work of one render stays in proportion to its data), call ``format_map``,
or nest deeper than ``MAX_DEPTH`` levels (Python could not compile it).
Raises ``TemplateSyntaxError`` (with a line and column) at compile time, also for those
constructs, and ``MappingError`` when rendering fails in any way: an undefined name, a bound
of the sandbox, an error of Python's (``KeyError`` of ``format``, ``ZeroDivisionError``, ...).
No I/O.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

import jinja2
from jinja2 import nodes

from miqspec.errors import MappingError, MiqspecError
from miqspec.spec.sandbox import environment, rendering


class TemplateSyntaxError(MiqspecError):
    """A template that does not compile; ``line`` is 1-based within the template text."""

    exit_code = 1

    def __init__(self, reason: str, line: int = 1, column: int = 0) -> None:
        super().__init__(reason)
        self.reason = reason
        self.line = line
        self.column = column


MAX_DEPTH = 60  # levels of a template's syntax tree (an if in an if ... or ((((x)))))

#: node type -> (the tag that makes it, why a spec template may not use it)
_REFUSED: dict[type[nodes.Node], tuple[str, str]] = {
    nodes.Include: ("include", "templates cannot include other templates"),
    nodes.Import: ("import", "templates cannot import other templates"),
    nodes.FromImport: ("from", "templates cannot import other templates"),
    nodes.Extends: ("extends", "templates cannot extend other templates"),
    nodes.Macro: ("macro", "templates cannot define macros"),
    nodes.CallBlock: ("call", "templates cannot use call blocks"),
    nodes.AssignBlock: ("set", "templates cannot capture blocks ({% set x %}...{% endset %})"),
    nodes.FilterBlock: ("filter", "templates cannot use filter blocks; use a filter (|)"),
}


def unsupported_constructs(text: str) -> list[tuple[int, str]]:
    """(offset in ``text``, reason) of each construct a spec template may not use; raises
    ``TemplateSyntaxError`` for a template that does not parse."""
    if not is_template(text):
        return []
    ast = _parse(text)
    found: list[tuple[int, str]] = []
    if _depth(ast) > MAX_DEPTH:
        found.append((0, f"the template is nested more than {MAX_DEPTH} levels deep"))
    kinds: tuple[type[nodes.Node], ...] = (*_REFUSED, nodes.For, nodes.Getattr)
    for node in ast.find_all(kinds):
        if isinstance(node, nodes.Getattr):
            if node.attr == "format_map":
                at = _offset(text, node.lineno, r"\.\s*format_map\b")
                found.append((at, "format_map is not available; use format() or the format filter"))
            continue
        if isinstance(node, nodes.For):
            outer = _tag(text, node.lineno, "for")
            if node.recursive:
                found.append((outer, "loops cannot be recursive"))
            inner = next(iter(node.find_all(nodes.For)), None)
            if inner is not None:
                at = _tag(text, inner.lineno, "for", after=outer)
                found.append((at, "a loop cannot be inside a loop"))
            continue
        tag, reason = _REFUSED[type(node)]
        found.append((_tag(text, node.lineno, tag), reason))
    return sorted(set(found))


def _depth(ast: nodes.Node) -> int:
    """How deep the template's syntax tree is (Python compiles at most 100 nested blocks)."""
    deepest = 0
    stack = [(ast, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in node.iter_child_nodes())
    return deepest


def _offset(text: str, line: int, pattern: str, after: int = -1) -> int:
    """Offset of the first match of ``pattern`` on ``line`` (1-based) of ``text`` past offset
    ``after``, else of the line's start."""
    start = sum(len(part) + 1 for part in text.split("\n")[: max(line, 1) - 1])
    start = max(start, after + 1)
    end = text.find("\n", start)
    found = re.compile(pattern).search(text, start, len(text) if end < 0 else end)
    return found.start() if found else start


def _tag(text: str, line: int, tag: str, after: int = -1) -> int:
    return _offset(text, line, r"\{%[-+]?\s*" + tag + r"\b", after)


@functools.lru_cache(maxsize=4096)
def _parse(text: str) -> nodes.Template:
    """The template's AST (cached: the validator reads it twice, specs repeat templates)."""
    try:
        return environment().parse(text)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateSyntaxError(
            exc.message or "syntax error", exc.lineno or 1, _column_of(text, exc)
        ) from None
    except RecursionError:
        raise TemplateSyntaxError("the template is nested too deeply") from None
    except ValueError:  # int() of a number of more than 4,300 digits, in the lexer
        raise TemplateSyntaxError("a number with too many digits") from None


def is_template(text: str) -> bool:
    return "{{" in text or "{%" in text


class Template:
    """A compiled template; ``render(context)`` gives a string."""

    __slots__ = ("_compiled", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self._compiled: jinja2.Template | None = None
        if is_template(text):
            refused = unsupported_constructs(text)
            if refused:
                at, reason = refused[0]
                raise TemplateSyntaxError(reason, text.count("\n", 0, at) + 1, at)
            try:
                self._compiled = environment().from_string(text)
            except jinja2.TemplateSyntaxError as exc:
                raise TemplateSyntaxError(
                    exc.message or "syntax error", exc.lineno or 1, _column_of(text, exc)
                ) from None
            except (RecursionError, SyntaxError, MemoryError):  # Python's own nesting limits
                raise TemplateSyntaxError("the template is nested too deeply") from None

    def render(self, context: Mapping[str, Any]) -> str:
        if self._compiled is None:
            return self.text
        try:
            with rendering():
                return self._compiled.render(context)
        except jinja2.UndefinedError as exc:
            raise MappingError(f"template {self.text!r}: {exc.message}") from None
        except jinja2.TemplateError as exc:
            raise MappingError(f"template {self.text!r}: {exc}") from None
        except RecursionError:
            raise MappingError(f"template {self.text!r}: nested too deeply") from None
        except Exception as exc:  # any failure of the template's own code is the spec's
            reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            raise MappingError(f"template {self.text!r}: {reason}") from None


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
    ast = _parse(text)
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
