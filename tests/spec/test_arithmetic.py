"""Tests for arithmetic, numbers, ``let`` and strict commas in spec expressions."""

from __future__ import annotations

import contextlib
import random
from typing import Any

import pytest

from miqspec.spec.expression_syntax import ExpressionSyntaxError
from miqspec.spec.expressions import ExpressionEvaluationError, compile_expression

RECORD: dict[str, Any] = {
    "memory": 4,
    "maxdisk": 100,
    "disk": 30,
    "cores": 2,
    "sockets": 4,
    "mhz": 2399.5,
    "read": 61440,
    "write": 61440,
    "neg": -7,
    "zero": 0,
    "none": None,
    "name": "web",
    "flag": True,
    "list": [1, 2, 3],
    "nested": {"size": 3},
    "disks": [{"size": 10}, {"size": 20}],
}


def run(text: str, record: Any = None, scope: Any = None) -> Any:
    return compile_expression(text).search(RECORD if record is None else record, scope)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("memory * 1024", 4096),
        ("memory * `1024`", 4096),
        ("maxdisk - disk", 70),
        ("maxdisk-disk", 70),
        ("cores * sockets", 8),
        ("disk + 1", 31),
        ("1 + 2 * 3", 7),
        ("(1 + 2) * 3", 9),
        ("10 - 4 - 3", 3),  # left to right
        ("100 / 10 / 5", 2),
        ("2 * 3 % 4", 2),
        ("-memory", -4),
        ("-nested.size", -3),  # '-' binds looser than '.'
        ("- memory * 2", -8),
        ("-(memory + 1)", -5),
        ("memory + -1", 3),
        ("-1", -1),
        ("2.5 * 2", 5.0),
        ("0.5 + memory", 4.5),
        ("(read + write) / 1024 / 60", 2),
        ("2048 / 1024", 2),  # integers that divide evenly: an integer
        ("3 / 2", 1.5),
        ("mhz / 1", 2399.5),
        ("neg // 2", -4),  # floor
        ("7.5 // 2", 3),  # always an integer
        ("neg % 3", 2),  # the divisor's sign, as Ruby
        ("7 % -3", -2),
        ("memory / zero", None),  # division by zero: null
        ("memory // zero", None),
        ("memory % zero", None),
        ("none + 1", None),  # null gives null
        ("1 - none", None),
        ("-none", None),
        ("missing * 2", None),
        ("memory + 1 > disk", False),  # arithmetic binds tighter than comparisons
        ("disk > memory * 2 && 'big' || 'small'", "big"),
        ("[memory * 2, disk]", [8, 30]),
        ("[1, memory]", [1, 4]),
        ("list[0]", 1),
        ("list[-1]", 3),
        ("list[:-1]", [1, 2]),
        ("[0]", None),  # still an index of the current value
        ("{a: memory * 2, b: -1}", {"a": 8, "b": -1}),
        ("sum(disks[].size) / 10", 3),
        ("map(&(size * 2), disks)", [20, 40]),
        ("disks[?size > 5 * 3].size", [20]),
        ("length(list) * 2", 6),
        ("round(mhz)", 2400),  # halves away from zero, as Ruby
        ("round(`2.5`)", 3),
        ("round(`-2.5`)", -3),
        ("round(`2.675`, `2`)", 2.68),
        ("round(`1234`, `-2`)", 1200),
        ("round(none)", None),
        ("floor(mhz)", 2399),
        ("ceil(mhz)", 2400),
        ("abs(neg)", 7),
        ("floor(none)", None),
        ("abs(none)", None),
        ("to_int(memory * 1024)", 4096),
    ],
)
def test_arithmetic(text: str, expected: Any) -> None:
    result = run(text)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("let $x = memory * 2 in $x * $x", 64),
        ("let $x = memory, $y = disk in [$x, $y]", [4, 30]),
        ("let $d = disks in $d[?size > `10`].size", [20]),
        ("let $m = memory in disks[?size > $m].size", [10, 20]),
        ("let $m = memory in map(&(size * $m), disks)", [40, 80]),
        ("let $x = memory in let $y = $x + 1 in $x * $y", 20),
        ("let $x = memory in $x | [@, @]", [4, 4]),  # the body reaches to the right
        ("let $p = $parent in $p.id", "p1"),
        ("let $n = 'x' in let $n = 2 in $n * 3", 6),  # the inner name counts
        ("let = 1", None),  # no variable: a field named let
    ],
)
def test_let_binds_names_once(text: str, expected: Any) -> None:
    if text == "let = 1":
        with pytest.raises(ExpressionSyntaxError, match="Unknown token '='"):
            compile_expression(text)
        return
    assert run(text, scope={"parent": {"id": "p1"}}) == expected


def test_a_field_named_let_or_in_still_reads() -> None:
    assert run("let", {"let": 1}) == 1
    assert run("let $in = in in $in + 1", {"in": 1}) == 2


def test_the_untaken_branch_of_if_is_not_evaluated() -> None:
    assert run("if(zero == `0`, 'zero', name * 2)") == "zero"
    with pytest.raises(ExpressionEvaluationError):
        run("if(zero == `1`, 'zero', name * 2)")


@pytest.mark.parametrize(
    ("text", "column", "reason"),
    [
        ("if(a == b c, d)", 10, "expected ',' or ')', got 'c'"),
        ("join(',' a)", 9, "expected ',' or ')', got 'a'"),
        ("f(a,)", 4, "expected an argument"),
        ("{a: b c: d}", 6, "expected ',' or '}', got 'c'"),
        ("'x' * 2", 0, "'*' needs numbers; this operand is a string"),
        ("memory + 'x'", 9, "'+' needs numbers; this operand is a string"),
        ("lower(name) + 1", 0, "'+' needs numbers; this operand is a string"),
        ("memory * (a > b)", 9, "this operand is a boolean"),
        ("memory - [1, 2]", 9, "this operand is an array"),
        ("round(a, `0.5`)", 9, "the digit count must be a whole number"),
        ("-'a'", 1, "'-' needs numbers"),
        ("let $s = lower(name) in $s * 2", 24, "'*' needs numbers; this operand is a string"),
        ("let $n = 1 in let $n = 'x' in -$n", 31, "'-' needs numbers"),
        ("$index + `true`", 9, "this operand is a boolean"),
        ("memory +", 8, "incomplete expression"),
        ("a ^ 2", 2, "Unknown token ^"),
        ("$x + 1", 0, "unknown root $x"),
        ("let $x = 1 in $y", 14, "unknown root $y"),
        ("let $x = $x in 1", 9, "unknown root $x"),  # a value does not see its own name
        ("let $item = 1 in 2", 4, "let cannot bind $item, a root"),
        ("let $x = 1 $x", 11, "expected ',' or 'in'"),
        ("let $x = 1, in 2", 12, "expected a $name, got 'in'"),
        ("let $x = 1 in", 13, "incomplete expression"),
        ("a = 1", 2, "Unknown token '='"),
    ],
)
def test_bad_arithmetic_is_a_syntax_error_at_its_column(
    text: str, column: int, reason: str
) -> None:
    with pytest.raises(ExpressionSyntaxError) as caught:
        compile_expression(text)
    assert reason in caught.value.reason
    assert caught.value.column == column


@pytest.mark.parametrize(
    ("text", "record", "reason"),
    [
        ("a + 1", {"a": "5"}, "'+' needs numbers, got string + number"),
        ("a * b", {"a": 2, "b": True}, "'*' needs numbers, got number * boolean"),
        ("-a", {"a": [1]}, "'-' needs a number, got array"),
        ("a / b", {"a": {}, "b": 1}, "got object / number"),
        ("round(a)", {"a": "1.5"}, "round() expected number or null, got string"),
        ("round(a, n)", {"a": 1.5, "n": 0.5}, "round() takes a whole number of digits"),
        ("a * a", {"a": 1e308}, "not a finite number"),
        ("a * a * a * a * a", {"a": 2**1000}, "more than 4096 bits"),
    ],
)
def test_bad_operands_at_run_time_are_evaluation_errors(
    text: str, record: Any, reason: str
) -> None:
    with pytest.raises(ExpressionEvaluationError) as caught:
        compile_expression(text).search(record)
    assert reason in str(caught.value)
    assert text in str(caught.value)


@pytest.mark.parametrize("operator", [" + ", " || ", " | ", " && "])
def test_long_chains_are_refused_before_they_exhaust_the_stack(operator: str) -> None:
    with pytest.raises(ExpressionSyntaxError, match="nested too deeply"):
        compile_expression(operator.join(["a"] * 3000))
    assert compile_expression(" + ".join(["a"] * 50)).search({"a": 1}) == 50


def test_round_takes_one_or_two_arguments() -> None:
    with pytest.raises(ExpressionSyntaxError, match=r"round\(\) takes 1 to 2 arguments, got 3"):
        compile_expression("round(a, `1`, `2`)")


def test_operators_over_fields_skip_the_interpreter_and_agree_with_it() -> None:
    assert compile_expression("(read + write) / 1024 / 60").kind == "arithmetic"
    assert compile_expression("-$parent.size * 2").kind == "arithmetic"
    assert compile_expression("length(list) * 2").kind == "jmespath"
    cases = test_arithmetic.pytestmark[0].args[1]
    for text, expected in cases:
        interpreted = compile_expression(f"[@, {text}][1]")  # a list first: the interpreter
        assert interpreted.kind == "jmespath"
        assert interpreted.search(RECORD) == expected == run(text), text
    with pytest.raises(ExpressionEvaluationError, match="'-' needs a number, got string"):
        compile_expression("-name").search(RECORD)


def test_ordering_a_string_against_a_number_is_null() -> None:
    assert run("name < 2.5") is None
    assert run("[name > `1`, memory > 2.5]") == [None, True]


TOKENS = ["a", "b", "1", "2.5", "-", "+", "*", "/", "//", "%", "(", ")", "[", "]", "{", "}",
          ",", ":", "let", "$x", "=", "in", "@", ".", "|", "||", "&&", "!", "==", "<", "`3`",
          "'s'", "f(", "round(", "if(", "$parent", "[?", "[]", "&", "-1"]  # fmt: skip


def test_random_token_soup_compiles_or_fails_cleanly() -> None:
    """Any text is an ExpressionSyntaxError or compiles; a compiled one answers or raises an
    ExpressionEvaluationError on any record, never another exception."""
    chooser = random.Random(16)
    for _ in range(3000):
        text = " ".join(chooser.choice(TOKENS) for _ in range(chooser.randint(1, 8)))
        try:
            expression = compile_expression(text)
        except ExpressionSyntaxError:
            continue
        for record in ({"a": 1, "b": 2.5}, {"a": "s", "b": None}, [1, 2], None):
            with contextlib.suppress(ExpressionEvaluationError):
                expression.search(record, {"parent": {"x": 1}})
