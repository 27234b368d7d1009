"""Tests for miqspec.spec.expressions: fast paths equal JMESPath, roots, compile-time errors."""

from __future__ import annotations

import json
import re
import threading
from typing import Any

import jmespath
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jmespath.visitor import TreeInterpreter

from miqspec.errors import MappingError, MiqspecError
from miqspec.spec.expression_syntax import ROOTS, ExpressionSyntaxError
from miqspec.spec.expressions import ExpressionEvaluationError, compile_expression
from miqspec.spec.spec_functions import define_spec_functions

KEYS = ["a", "b", "c", "id", "a-b", "x y", "$oid"]
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(KEYS), inner),
    max_leaves=12,
)
records = json_values | st.dictionaries(st.sampled_from(KEYS), json_values, min_size=1)


def spell(key: str, quoted: bool) -> str:
    """A JMESPath identifier for ``key``: bare when allowed and wanted, else quoted."""
    return key if IDENTIFIER.match(key) and not quoted else json.dumps(key)


keys_chain = st.lists(st.tuples(st.sampled_from(KEYS), st.booleans()), min_size=1, max_size=4)


def chain_text(chain: list[tuple[str, bool]]) -> str:
    return ".".join(spell(key, quoted) for key, quoted in chain)


def same(left: Any, right: Any) -> bool:
    return json.dumps(left, sort_keys=True) == json.dumps(right, sort_keys=True)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("id", "field"),
        ('"a-b"', "field"),
        ("properties.hardwareProfile.vmSize", "path"),
        ('"a-b".c', "path"),
        ("@", "identity"),
        ('`"x"`', "literal"),
        ("'x'", "literal"),
        ("`[1, 2]`", "literal"),
        ("$parent.id", "root"),
        ("$index", "root"),
        ("$item", "identity"),
        ("$item.a.b", "path"),
        ("tags[?key=='Name'].value | [0]", "jmespath"),
        ("a.b[0]", "jmespath"),
        ("a.$parent", "jmespath"),
        ("join('/', [$parent.name, name])", "jmespath"),
    ],
)
def test_fast_path_is_chosen_from_the_ast(text: str, kind: str) -> None:
    assert compile_expression(text).kind == kind


@settings(max_examples=200, deadline=None)
@given(record=records, chain=keys_chain)
def test_field_and_path_fast_paths_return_what_jmespath_returns(
    record: Any, chain: list[tuple[str, bool]]
) -> None:
    text = chain_text(chain)
    expression = compile_expression(text)
    assert expression.kind in ("field", "path")
    expected = jmespath.search(text, record)
    assert expression.search(record) is expected
    assert compile_expression(f"{text} | @").search(record) is expected  # general path


@settings(max_examples=200, deadline=None)
@given(record=records, value=json_values, raw=st.text(alphabet="ab$'\"`\\ {}."))
def test_identity_and_literal_fast_paths_return_what_jmespath_returns(
    record: Any, value: Any, raw: str
) -> None:
    assert compile_expression("@").search(record) is jmespath.search("@", record)
    backtick = "`" + json.dumps(value).replace("`", "\\`") + "`"
    raw_string = "'" + raw.replace("\\", "").replace("'", "\\'") + "'"
    for text in (backtick, raw_string):
        expression = compile_expression(text)
        assert expression.kind == "literal"
        assert expression.roots == frozenset()
        assert same(expression.search(record), jmespath.search(text, record))


@settings(max_examples=200, deadline=None)
@given(
    parent=records,
    record=records,
    chain=st.lists(st.tuples(st.sampled_from(KEYS), st.booleans()), max_size=3),
)
def test_root_fast_path_equals_jmespath_on_the_scope_value(
    parent: Any, record: Any, chain: list[tuple[str, bool]]
) -> None:
    rest = chain_text(chain) if chain else "@"
    text = "$parent" + ("." + chain_text(chain) if chain else "")
    expression = compile_expression(text)
    assert expression.kind == "root"
    expected = jmespath.search(rest, parent)
    assert expression.search(record, {"parent": parent}) is expected
    assert compile_expression(f"{text} | @").search(record, {"parent": parent}) is expected


def test_jmespath_field_lookup_calls_get_on_the_value() -> None:
    """The fast paths and the root interpreter rely on visit_field being ``value.get(key)``."""

    class Answering(dict[str, Any]):
        def get(self, key: str, default: Any = None) -> Any:
            return f"got {key}"

    assert jmespath.search("anything", Answering()) == "got anything"
    assert jmespath.search("x", [1]) is None  # no .get -> null
    assert "visit_field" in vars(TreeInterpreter)
    assert compile_expression("anything").search(Answering()) == "got anything"
    assert compile_expression("a.anything").search({"a": Answering()}) == "got anything"


RECORD = {
    "id": "vm-1",
    "name": "web",
    "tags": [{"key": "Name", "value": "web-1"}, {"key": "env", "value": "prod"}],
    "disks": [{"size": 1}, {"size": 2}],
    "_id": {"$oid": "abc"},
}
SCOPE = {
    "parent": {"id": "host-1", "name": "h1"},
    "region": {"name": "us-east-1"},
    "settings": {"tag": "env", "page_size": 50},
    "provider": {"name": "awesome"},
    "calls": {"list_regions": [{"name": "r1"}, {"name": "r2"}]},
    "index": 4,
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("$parent.id", "host-1"),
        ("$region.name", "us-east-1"),
        ("$settings.page_size", 50),
        ("$provider.name", "awesome"),
        ("$index", 4),
        ("$calls.list_regions[1].name", "r2"),
        ("join('/', [$parent.name, name])", "h1/web"),
        ("tags[?key==$settings.tag].value | [0]", "prod"),
        ("disks[*].[size, $index]", [[1, 4], [2, 4]]),
        ("disks[?size > `1`].$item.id", ["vm-1"]),
        ("{host: $parent.id, n: length($calls.list_regions)}", {"host": "host-1", "n": 2}),
        ("$item.tags[0].key", "Name"),
        ('_id."$oid"', "abc"),
        ("'$parent.id'", "$parent.id"),
        ('`"$index"`', "$index"),
        ("$parent.missing.deeper", None),
    ],
)
def test_roots_resolve_anywhere_an_identifier_stands(text: str, expected: Any) -> None:
    assert compile_expression(text).search(RECORD, SCOPE) == expected


def test_roots_calls_and_functions_are_reported() -> None:
    expression = compile_expression("join('/', [$parent.name, $calls.a[0].x, lower($region.n)])")
    assert expression.roots == {"parent", "calls", "region"}
    assert expression.calls == {"a"}
    assert expression.functions == {"join", "lower"}
    assert compile_expression("keys($calls)").calls == {"*"}
    assert compile_expression("'$parent' || \"$oid\"").roots == frozenset()
    assert {"parent", "region", "settings", "provider", "calls", "index", "item"} <= ROOTS


def test_missing_scope_or_root_is_null() -> None:
    assert compile_expression("$parent.id").search(RECORD) is None
    assert compile_expression("$index").search(RECORD) is None
    assert compile_expression("[$parent.id, id]").search(RECORD) == [None, "vm-1"]
    assert compile_expression("tags[?key==$settings.tag]").search(RECORD) == []
    assert compile_expression("$region.name").search(RECORD, {"parent": {}}) is None
    assert compile_expression("$item.id").search(RECORD) == "vm-1"


def test_scope_of_one_search_does_not_leak_into_another() -> None:
    expression = compile_expression("[name, $parent.id]")
    results: dict[int, Any] = {}

    def run(number: int) -> None:
        for _ in range(200):
            results[number] = expression.search({"name": number}, {"parent": {"id": number}})
            assert results[number] == [number, number]

    threads = [threading.Thread(target=run, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == {n: [n, n] for n in range(4)}
    assert expression.search({"name": "x"}) == ["x", None]


@pytest.mark.parametrize(
    ("text", "column", "reason"),
    [
        ("a.[", 3, "incomplete expression"),
        ("foo(", 4, "incomplete expression"),
        ("unknown_fn(a)", 0, "unknown function unknown_fn()"),
        ("$nope.x", 0, "unknown root $nope"),
        ("name | $", 7, "'$' must start a root"),
        ("a..b", 2, "expected an identifier"),
        ("a.b.", 4, "got the end"),
        ("", 0, "empty expression"),
        ("`foo`", 0, "must be JSON"),
        ("`foo", 0, "Unclosed ` delimiter"),
        ("$parent.name | nope(x)", 15, "unknown function nope()"),
        ("[$parent.a, $region.b, lowr(c)]", 23, "did you mean lower()?"),
        ("'$x' && to_bytes(a)", 8, "to_bytes() takes 2 arguments, got 1"),
        ("concat()", 0, "takes at least 1 argument"),
        ("x || regex_match(a, '(')", 20, "bad regular expression"),
        ('from_bytes(size, `"XB"`)', 17, "unknown unit"),
        ("$parent.[", 9, "incomplete expression"),
        ("a b", 2, "unexpected token: b"),
    ],
)
def test_syntax_errors_point_at_the_original_column(text: str, column: int, reason: str) -> None:
    with pytest.raises(ExpressionSyntaxError) as caught:
        compile_expression(text)
    error = caught.value
    assert (error.column, error.text) == (column, text)
    assert reason in error.reason
    assert isinstance(error, MiqspecError)
    assert error.exit_code == 1
    assert "\n" not in str(error)


def test_unknown_functions_are_caught_at_compile_time_unlike_jmespath() -> None:
    jmespath.compile("nope(a)")  # plain jmespath accepts it until it runs
    with pytest.raises(ExpressionSyntaxError):
        compile_expression("nope(a)")


def test_evaluation_errors_are_mapping_errors_without_the_value() -> None:
    expression = compile_expression("lower(secret)")
    with pytest.raises(ExpressionEvaluationError) as caught:
        expression.search({"secret": 123456789})
    assert isinstance(caught.value, MappingError)
    assert "lower()" in str(caught.value)
    assert "123456789" not in str(caught.value)
    with pytest.raises(ExpressionEvaluationError, match="bad regular expression"):
        compile_expression("regex_match(a, p)").search({"a": "x", "p": "("})


def test_compiled_expressions_are_cached_per_registry() -> None:
    assert compile_expression("a.b") is compile_expression("a.b")
    registry = define_spec_functions({})
    assert compile_expression("a.b", registry) is not compile_expression("a.b")
    assert compile_expression("a.b", registry) is compile_expression("a.b", registry)
    assert "a.b" in repr(compile_expression("a.b"))
