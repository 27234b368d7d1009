"""The interpreters that run spec expressions: JMESPath's, plus miqspec's nodes and roots.

Takes: ASTs from :mod:`miqspec.spec.expression_grammar` (through ``expression_syntax``) and a
function registry's ``Options``.
Gives: ``Interpreter`` (JMESPath's ``TreeInterpreter`` plus ``arithmetic``, ``negate``,
``let`` and ``variable`` nodes, an ``if(c, a, b)`` that evaluates only the branch it
takes, so a spec function may recurse through it, and ``<``/``>`` of a string and a number
giving null instead of failing), ``ScopedInterpreter`` (also reads the
root fields ``"$parent"``, ... from the scope of the search running), ``CURRENT`` (that
search's ``(record, scope)``), ``current_scope()`` and ``ROOT_FIELDS``.
Raises: ``ArithmeticProblem`` (a ValueError) from the operators; whatever a function raises.
No I/O.

Variables of ``let`` live in a context variable for the time of the body's evaluation
(functions called there, such as ``sort_by`` with an ``&expression``, see them); names are
resolved when the text is parsed, so a body never reads a name it did not bind.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar
from typing import Any

from jmespath.visitor import TreeInterpreter

from miqspec.spec.expression_syntax import ROOTS
from miqspec.spec.functions import arithmetic

Node = dict[str, Any]
Scope = Mapping[str, Any]

ROOT_FIELDS: dict[str, str] = {"$" + name: name for name in ROOTS}

#: (record, scope) of the search running in this thread/task, for roots inside projections
CURRENT: ContextVar[tuple[Any, Scope | None]] = ContextVar("miqspec_expression_scope")
_VARIABLES: ContextVar[Mapping[str, Any]] = ContextVar("miqspec_let_variables")
_NONE: Mapping[str, Any] = {}


def current_scope() -> Scope | None:
    """The scope of the search running in this thread/task (None outside a scoped search)."""
    return CURRENT.get((None, None))[1]


class Interpreter(TreeInterpreter):
    """JMESPath's interpreter with arithmetic, ``let`` variables and a lazy ``if``."""

    def visit_arithmetic(self, node: Node, value: Any) -> Any:
        left, right = node["children"]
        return arithmetic.apply(node["value"], self.visit(left, value), self.visit(right, value))

    def visit_negate(self, node: Node, value: Any) -> Any:
        return arithmetic.negate(self.visit(node["children"][0], value))

    def visit_let(self, node: Node, value: Any) -> Any:
        *values, body = node["children"]
        bound = dict(_VARIABLES.get(_NONE))
        bound.update(zip(node["value"], (self.visit(v, value) for v in values), strict=True))
        token = _VARIABLES.set(bound)
        try:
            return self.visit(body, value)
        finally:
            _VARIABLES.reset(token)

    def visit_variable(self, node: Node, value: Any) -> Any:
        return _VARIABLES.get(_NONE).get(node["value"])

    def visit_comparator(self, node: Node, value: Any) -> Any:
        """JMESPath's, except that ordering a string against a number gives null (the
        library raises TypeError there: ``a < `2.5``` on ``{"a": "s"}``)."""
        try:
            return super().visit_comparator(node, value)
        except TypeError:
            return None

    def visit_function_expression(self, node: Node, value: Any) -> Any:
        children = node["children"]
        if node["value"] == "if" and len(children) == 3:
            taken = children[1] if self._is_true(self.visit(children[0], value)) else children[2]
            return self.visit(taken, value)
        return super().visit_function_expression(node, value)


class ScopedInterpreter(Interpreter):
    """``Interpreter``, except that root fields (``"$parent"``) read the scope."""

    def visit_field(self, node: Node, value: Any) -> Any:
        name = node["value"]
        root = ROOT_FIELDS.get(name)
        if root is None:
            try:
                return value.get(name)
            except AttributeError:
                return None
        record, scope = CURRENT.get((None, None))
        if root == "item":
            return record
        return None if scope is None else scope.get(root)
