"""Spec functions that call themselves (bounded) and read ``$calls`` and other global roots."""

from __future__ import annotations

from typing import Any

import pytest

from miqspec.spec.expressions import ExpressionEvaluationError, compile_expression
from miqspec.spec.spec_functions import (
    MAX_DEPTH,
    FunctionDefinitionError,
    define_spec_functions,
)

CHAIN = {
    # names from the root down to id, walking parent links through a list passed in
    "chain": {
        "params": ["folders", "id"],
        "expr": "let $f = find_by(folders, 'id', id) in "
        "if($f, concat(chain(folders, $f.parent), [$f.name]), `[]`)",
    },
    # the same over another call's records, read as $calls
    "path_of": {
        "params": ["id"],
        "expr": "let $f = find_by($calls.get_folders, 'id', id) in "
        "if($f, concat(path_of($f.parent), [$f.name]), `[]`)",
    },
    "full_path": {"params": ["id"], "expr": "join('/', path_of(id))"},
    "page_size": {"params": [], "expr": "$settings.page_size"},
}
FOLDERS = [
    {"id": "f1", "name": "root", "parent": None},
    {"id": "f2", "name": "dc", "parent": "f1"},
    {"id": "f3", "name": "vms", "parent": "f2"},
    {"id": "loop", "name": "loop", "parent": "loop"},
]


def _deep(depth: int) -> list[dict[str, Any]]:
    return [
        {"id": f"n{i}", "name": str(i), "parent": f"n{i - 1}" if i else None} for i in range(depth)
    ]


def test_a_function_may_call_itself() -> None:
    registry = define_spec_functions(CHAIN)
    expression = compile_expression("join('/', chain(folders, folder))", registry)
    assert expression.search({"folders": FOLDERS, "folder": "f3"}) == "root/dc/vms"
    assert expression.search({"folders": FOLDERS, "folder": "nothing"}) == ""
    deep = _deep(MAX_DEPTH - 1)  # 31 calls down the chain, one more finds no parent
    assert expression.search({"folders": deep, "folder": f"n{MAX_DEPTH - 2}"}) == "/".join(
        str(i) for i in range(MAX_DEPTH - 1)
    )


def test_a_recursion_without_end_is_a_clear_error() -> None:
    registry = define_spec_functions(CHAIN)
    expression = compile_expression("chain(folders, folder)", registry)
    with pytest.raises(ExpressionEvaluationError, match=r"chain\(\): more than 32 spec function"):
        expression.search({"folders": FOLDERS, "folder": "loop"})
    deep = _deep(MAX_DEPTH)
    with pytest.raises(ExpressionEvaluationError, match="a recursion that does not end"):
        expression.search({"folders": deep, "folder": f"n{MAX_DEPTH - 1}"})


def test_a_body_reads_calls_settings_through_its_caller() -> None:
    registry = define_spec_functions(CHAIN)
    expression = compile_expression("full_path(folder)", registry)
    # a call of the function counts as reading what its body (and its callees) read
    assert expression.roots == {"calls"} and expression.calls == {"get_folders"}
    scope = {"calls": {"get_folders": FOLDERS}}
    assert expression.search({"folder": "f2"}, scope) == "root/dc"
    assert expression.search({"folder": "f2"}) == ""  # no scope: no records
    settings = compile_expression("[page_size(), name]", registry)
    assert settings.roots == {"settings"}
    assert settings.search({"name": "x"}, {"settings": {"page_size": 50}}) == [50, "x"]
    plain = compile_expression("chain(folders, folder)", registry)
    assert plain.roots == frozenset() and plain.calls == frozenset()


@pytest.mark.parametrize(
    ("expr", "reason"),
    [
        ("$item.x", "cannot use $item"),
        ("$parent.x", "cannot use $parent"),
        ("[$ancestors, $index]", "cannot use $ancestors, $index"),
    ],
)
def test_a_body_cannot_read_the_record_roots(expr: str, reason: str) -> None:
    with pytest.raises(FunctionDefinitionError) as caught:
        define_spec_functions({"f": {"params": [], "expr": expr}})
    assert reason in caught.value.reason


def test_functions_calling_each_other_in_a_cycle_are_refused() -> None:
    with pytest.raises(FunctionDefinitionError, match="recursion: a -> b -> a"):
        define_spec_functions(
            {"a": {"params": ["x"], "expr": "b(x)"}, "b": {"params": ["x"], "expr": "a(x)"}}
        )


def test_deep_bodies_recursing_fail_cleanly_when_the_stack_runs_out() -> None:
    body = "if(n > `0`, " + "[" * 90 + "f(n - 1)" + "]" * 90 + ", n)"
    registry = define_spec_functions({"f": {"params": ["n"], "expr": body}})
    with pytest.raises(ExpressionEvaluationError, match="nested too deeply to evaluate"):
        compile_expression("f(`31`)", registry).search({})
    assert compile_expression("f(`2`)", registry).search({}) is not None
