"""Tests for spec.functions: every custom function, the docs table, spec-declared functions."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import jmespath.functions
import pytest

from miqspec.spec.expression_syntax import ExpressionSyntaxError
from miqspec.spec.expressions import ExpressionEvaluationError, compile_expression
from miqspec.spec.functions.data import find_by_indexes
from miqspec.spec.functions.registry import (
    BUILTIN_FUNCTIONS,
    DEFAULT_FUNCTIONS,
    FUNCTION_DOCS,
    REPLACED_BUILTINS,
    CustomFunctions,
    function_names,
)
from miqspec.spec.spec_functions import FunctionDefinitionError, define_spec_functions

GIB = 1024**3
EPOCH = 1_700_000_000
EPOCH_ISO = datetime.fromtimestamp(EPOCH, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
RECORD: dict[str, Any] = {
    "name": "Web-01",
    "id": "/subscriptions/s1/resourceGroups/rg/providers/vm/web-01",
    "size": 4,
    "size_text": "4",
    "nothing": None,
    "tags": [{"key": "env", "value": "prod"}, {"Key": "Name", "Value": "web"}],
    "labels": {"env": "prod", "tier": "web"},
    "nested": [1, [2, [3, [4]]], 5],
    "dupes": [1, "1", True, 1, {"a": 1}, {"a": 1}, None, None],
    "raw_json": '{"a": [1, 2]}',
}


def run(text: str, record: Any = None) -> Any:
    return compile_expression(text).search(RECORD if record is None else record)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("lower(name)", "web-01"),
        ("upper(name)", "WEB-01"),
        ("lower(nothing)", None),
        ("split('a,b,,c', ',')", ["a", "b", "", "c"]),
        ("split(nothing, ',')", None),
        ("replace(name, '-', '_')", "Web_01"),
        ("regex_replace(name, '([A-Za-z]+)-(\\d+)', '\\2-\\1')", "01-Web"),
        ("regex_match(name, '^web')", False),
        ("regex_match(name, '^Web')", True),
        ("regex_match(nothing, 'x')", False),
        ("regex_extract(name, '-(\\d+)$')", "01"),
        ("regex_extract(name, '\\d+')", "01"),
        ("regex_extract(name, 'zzz')", None),
        ("concat('vm-', size, nothing, '-', `true`)", "vm-4-true"),
        ("concat(`[1]`, nothing, `[2, 3]`)", [1, 2, 3]),
        ("coalesce(nothing, missing, name, id)", "Web-01"),
        ("coalesce(nothing)", None),
        ("to_bytes(size, 'GiB')", 4 * GIB),
        ("to_bytes(size_text, 'gb')", 4 * 10**9),
        ("to_bytes(`1.5`, 'KiB')", 1536),
        ("to_bytes(`2`, 'B')", 2),
        ("to_bytes(nothing, 'MB')", None),
        ("to_bytes('many', 'MB')", None),
        ("from_bytes(`4294967296`, 'GiB')", 4),
        ("from_bytes(`1536`, 'KiB')", 1.5),
        ("from_bytes(`3000000`, 'MB')", 3),
        ("from_bytes(nothing, 'MB')", None),
        ("to_int('42')", 42),
        ("to_int(' -7 ')", -7),
        ("to_int('4.9')", 4),
        ("to_int(`4.9`)", 4),
        ("to_int(`true`)", 1),
        ("to_int('x')", None),
        ("to_int(tags)", None),
        ("to_bool('Yes')", True),
        ("to_bool('off')", False),
        ("to_bool(`0`)", False),
        ("to_bool(`2`)", True),
        ("to_bool('maybe')", None),
        ("to_bool(nothing)", None),
        (f"to_iso8601(`{EPOCH}`)", EPOCH_ISO),
        (f"to_iso8601(`{EPOCH}123`)", EPOCH_ISO.replace("Z", ".123Z")),
        (f"to_iso8601('{EPOCH}')", EPOCH_ISO),
        ("to_iso8601('2024-01-02T03:04:05+02:00')", "2024-01-02T01:04:05Z"),
        ("to_iso8601('2024-01-02T03:04:05Z')", "2024-01-02T03:04:05Z"),
        ("to_iso8601('2024-01-02 03:04:05')", "2024-01-02T03:04:05Z"),
        ("to_iso8601('Tue, 02 Jan 2024 03:04:05 GMT')", "2024-01-02T03:04:05Z"),
        ("to_iso8601('not a date')", None),
        ("to_iso8601(nothing)", None),
        ("basename(id)", "web-01"),
        ("basename('a/b/')", "b"),
        ("dirname(id)", "/subscriptions/s1/resourceGroups/rg/providers/vm"),
        ("dirname('file')", ""),
        ("last_segment('a:b:c', ':')", "c"),
        ("last_segment(nothing, ':')", None),
        ("get(labels, 'tier')", "web"),
        ("get(labels, name)", None),
        ("get(tags, `-1`).Key", "Name"),
        ("get(tags, `5`)", None),
        ("get(name, 'x')", None),
        ("items(labels)", [{"key": "env", "value": "prod"}, {"key": "tier", "value": "web"}]),
        ("from_items(items(labels))", RECORD["labels"]),
        ("from_items(tags)", {"env": "prod", "Name": "web"}),
        ('from_items(`[["a", 1], [2, 3]]`)', {"a": 1, "2": 3}),
        ('index_of(`[1, true, "x"]`, `true`)', 1),
        ("index_of(`[true, 1]`, `1`)", 1),
        ("index_of(name, '-')", 3),
        ("index_of(name, 'zz')", None),
        ("uniq(dupes)", [1, "1", True, {"a": 1}, None]),
        ("flatten(nested)", [1, 2, 3, 4, 5]),
        ("json_parse(raw_json).a[1]", 2),
        ("json_parse('{bad')", None),
        ("json_dump(json_parse(raw_json))", json.dumps({"a": [1, 2]}, separators=(",", ":"))),
        ('json_dump(`{"b": 1, "a": 2}`)', '{"a":2,"b":1}'),
        ("if(tags, 'some', 'none')", "some"),
        ("if(`[]`, 'some', 'none')", "none"),
        ("if(`0`, 'zero is true', 'no')", "zero is true"),
        ("eq_ignore_case(name, 'WEB-01')", True),
        ("eq_ignore_case(name, 'web')", False),
        ("eq_ignore_case(nothing, missing)", True),
        ("eq_ignore_case(nothing, name)", False),
        ("find_by(tags, 'key', 'env').value", "prod"),
        ("find_by(tags, 'key', 'ENV')", None),
        ("find_by(tags, 'key', nothing)", None),
        ("find_by(nothing, 'key', 'env')", None),
        ("find_by_ignore_case(tags, 'key', 'ENV').value", "prod"),
        ("find_by_ignore_case(tags, 'Key', 'name').Value", "web"),
        ("yaml_parse('number: 1')", {"number": 1}),
        ("yaml_parse(raw_json).a", [1, 2]),
        ("yaml_parse('  ')", None),
        ("yaml_parse('a: [')", None),
        ("yaml_parse(nothing)", None),
        ("truncate_bytes(name, `3`)", "Web"),
        ("truncate_bytes('h\u00e9llo', `2`)", "h"),
        ("truncate_bytes(name, `100`)", "Web-01"),
        ("truncate_bytes(nothing, `3`)", None),
        ("regex_extract(name, '(\\w)(\\w+)', `2`)", "eb"),
        ("regex_extract(name, '(?P<n>\\d+)', 'n')", "01"),
        ("regex_extract(name, '-\\d+', `0`)", "-01"),
        ("regex_groups(name, '(\\w+)-(\\d+)(x)?')", ["Web", "01", None]),
        ("regex_groups(name, 'zzz')", None),
        ("regex_named_groups(name, '(?P<kind>\\w+)-(?P<n>\\d+)')", {"kind": "Web", "n": "01"}),
        ("regex_named_groups(nothing, '(?P<n>x)')", None),
        ("round(`2.5`)", 3),
        ("round(`1.005`, `2`)", 1.01),
        ("sha256('abc')", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        ("md5('abc')", "900150983cd24fb0d6963f7d28e17f72"),
        ("md5(nothing)", None),
        ("base64_encode('h\u00e9')", "aMOp"),
        ("base64_decode('aMOp')", "h\u00e9"),
        ("base64_decode('aGk')", "hi"),  # padding may be left out
        ("base64_decode('/w==')", None),  # not UTF-8
        ("base64_decode('***')", None),
        ("sha256(nothing)", None),
    ],
)
def test_custom_functions(text: str, expected: Any) -> None:
    result = run(text)
    assert result == expected
    assert type(result) is type(expected)


def test_every_custom_function_is_documented_in_one_line_and_tested() -> None:
    custom = function_names() - BUILTIN_FUNCTIONS
    assert custom == set(FUNCTION_DOCS) - REPLACED_BUILTINS
    for name, doc in FUNCTION_DOCS.items():
        assert doc.startswith(f"{name}(") and "\n" not in doc
    tested = " ".join(text for text, _ in test_custom_functions.pytestmark[0].args[1])
    assert all(f"{name}(" in tested for name in custom)


def test_builtins_are_kept_and_not_redefined() -> None:
    assert set(jmespath.functions.Functions.FUNCTION_TABLE) == BUILTIN_FUNCTIONS
    assert function_names() >= BUILTIN_FUNCTIONS
    own = {name[6:] for name in vars(CustomFunctions) if name.startswith("_func_")}
    assert own == set(FUNCTION_DOCS)
    assert own & BUILTIN_FUNCTIONS == REPLACED_BUILTINS == {"abs", "floor", "ceil"}
    assert (run("abs(`-2`)"), run("floor(`2.5`)"), run("ceil(`2.5`)")) == (2, 2, 3)
    assert (run("abs(nothing)"), run("floor(nothing)"), run("ceil(nothing)")) == (None,) * 3
    assert run("starts_with(name, 'Web')") is True
    assert run("to_string(size)") == "4"


@pytest.mark.parametrize(
    ("text", "record", "reason"),
    [
        ("split(name, sep)", {"name": "a", "sep": ""}, "non-empty separator"),
        ("to_bytes(`1`, unit)", {"unit": "XB"}, "unknown unit"),
        ("from_items(`[1]`)", {}, "from_items() expects"),
        ("regex_replace('a', 'a', '\\9')", {}, "bad replacement"),
        ("lower(`5`)", {}, "lower() expected string or null, got number"),
    ],
)
def test_bad_input_at_search_time_is_an_evaluation_error(
    text: str, record: Any, reason: str
) -> None:
    with pytest.raises(ExpressionEvaluationError) as caught:
        compile_expression(text).search(record)
    assert reason in str(caught.value)


def test_literal_arguments_are_checked_at_compile_time() -> None:
    for text in ("split(a, '')", "to_bytes(a, 'parsecs')", "regex_extract(a, `5`)"):
        with pytest.raises(ExpressionSyntaxError):
            compile_expression(text)


SPEC_FUNCTIONS = {
    "slug": {"params": ["s"], "expr": "lower(replace(s, ' ', '-'))"},
    "ref": {"params": ["kind", "s"], "expr": "join('/', [kind, slug(s)])"},
    "zero": {"params": [], "expr": "`0`"},
}


def test_spec_functions_are_jmespath_over_their_parameters() -> None:
    registry = define_spec_functions(SPEC_FUNCTIONS)
    expression = compile_expression("ref('vm', name)", registry)
    assert expression.search({"name": "Big Box"}) == "vm/big-box"
    assert compile_expression("zero()", registry).search({}) == 0
    assert {"slug", "ref", "zero", "lower"} <= function_names(registry)
    assert "slug" not in function_names() and DEFAULT_FUNCTIONS is not registry
    with pytest.raises(ExpressionSyntaxError, match="unknown function slug"):
        compile_expression("slug(name)")
    with pytest.raises(ExpressionSyntaxError, match="takes 2 arguments, got 1"):
        compile_expression("ref(name)", registry)


@pytest.mark.parametrize(
    ("definitions", "name", "reason", "column"),
    [
        ({"lower": {"params": ["s"], "expr": "s"}}, "lower", "taken by an existing", None),
        ({"length": {"params": ["s"], "expr": "s"}}, "length", "taken by an existing", None),
        (
            {"f": {"params": ["n"], "expr": "g(n)"}, "g": {"params": ["n"], "expr": "f(n)"}},
            "f", "recursion: f -> g -> f (only a function calling itself may recurse)", None,
        ),
        (
            {"a": {"params": [], "expr": "b()"}, "b": {"params": [], "expr": "c()"},
             "c": {"params": [], "expr": "a()"}},
            "a", "recursion: a -> b -> c -> a", None,
        ),
        ({"f": {"params": ["s"], "expr": "s.["}}, "f", "incomplete expression", 3),
        ({"f": {"params": ["s"], "expr": "s | nope(s)"}}, "f", "unknown function nope()", 4),
        ({"f": {"params": ["s"], "expr": "$parent.x"}}, "f", "cannot use $parent (pass it", None),
        ({"f": {"params": [], "expr": "[$item, $index]"}}, "f", "use $index, $item", None),
        ({"f": {"params": ["s", "s"], "expr": "s"}}, "f", "repeated name", None),
        ({"f": {"params": ["a b"], "expr": "s"}}, "f", "list of identifiers", None),
        ({"f": {"params": []}}, "f", "needs 'expr'", None),
        ({"9f": {"params": [], "expr": "@"}}, "9f", "must be an identifier", None),
    ],
)  # fmt: skip
def test_bad_spec_functions_are_rejected(
    definitions: dict[str, Any], name: str, reason: str, column: int | None
) -> None:
    with pytest.raises(FunctionDefinitionError) as caught:
        define_spec_functions(definitions)
    error = caught.value
    assert (error.function, error.column) == (name, column)
    assert reason in error.reason
    assert error.exit_code == 1


def test_find_by_with_an_index_agrees_with_a_scan() -> None:
    """Inside ``find_by_indexes`` long lists are indexed once; answers do not change."""
    items: list[Any] = [
        {"k": v, "n": i}
        for i, v in enumerate(["a", "A", 1, 1.0, True, "1", None, {"x": 1}, "b", 2.5, False, 0] * 3)
    ]
    items.insert(5, "not an object")
    probes = ["a", "A", 1, 1.0, True, "1", 2.5, False, 0, "zz", {"x": 1}]
    scan = [(fold, p, _find_by(items, p, fold)) for fold in (False, True) for p in probes]
    with find_by_indexes():
        for _ in range(2):  # the second round reads the memoised index
            indexed = [(fold, p, _find_by(items, p, fold)) for fold, p, _ in scan]
            assert indexed == scan
        for i in range(200):  # more lists than the cache keeps: still right
            other = [{"k": j} for j in range(20)] + [{"k": "x", "n": i}]
            assert _find_by(other, "x", False) == {"k": "x", "n": i}
    found = {(fold, repr(p)): r for fold, p, r in scan}
    assert found[(False, "'A'")] == {"k": "A", "n": 1}
    assert found[(True, "'A'")] == {"k": "a", "n": 0}
    assert found[(False, "True")] == {"k": True, "n": 4}
    assert found[(False, "1.0")] == {"k": 1, "n": 2}
    assert found[(False, "0")] == {"k": 0, "n": 11}
    assert found[(False, "'zz'")] is None


def _find_by(items: list[Any], value: Any, fold: bool) -> Any:
    name = "find_by_ignore_case" if fold else "find_by"
    return compile_expression(f"{name}(items, 'k', value)").search({"items": items, "value": value})
