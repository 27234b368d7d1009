"""Fuzz the spec front door: generated specs through ``check_file`` and ``load_spec``.

Takes: ``--examples N`` (default 10,000), ``--seed S``, ``--workers W`` (processes, each with
its own seed and share). Gives: counts printed as JSON (specs tried, valid, invalid, findings
by kind of message, internal errors with the spec that made them) and exit 1 when any spec
made an internal error. Writes each spec to a temporary directory; the valid-spec cache is off.

Specs come from hypothesis in two ways: a shipped spec with 1 to 4 mutations (a value replaced
by a hostile one, a key dropped or added, a subtree copied elsewhere, a string edited with
template/JMESPath/YAML syntax), dumped as YAML, now and then with the YAML text itself edited;
and specs generated from ``schemas/spec-schema.yaml`` (every key its rule allows, the
variants of auth, pagination and attribute forms, and values off the schema now and then).
Each must end in findings or a spec: ``check_file`` never raises, ``load_spec`` gives a spec
or a ``MiqspecError``, and the two agree (no findings <=> it loads), since a spec that
validates and then fails to load is a bug too.

Run: .venv/bin/python bench/fuzz_specs.py --examples 10000 --workers 2
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
import tempfile
import time
import traceback
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from miqspec.errors import MiqspecError
from miqspec.spec.load import check_file, load_spec

REPO = Path(__file__).resolve().parents[1]
SHIPPED = {
    p.stem: yaml.safe_load(p.read_text()) for p in sorted(REPO.glob("provider_specs/*.yaml"))
}
SCHEMA = yaml.safe_load((REPO / "schemas" / "spec-schema.yaml").read_text())
DEFS: dict[str, Any] = SCHEMA["definitions"]

HOSTILE = [
    "", " ", "~", "null", "yes", "0x1F", "1e999", ".nan", "-.inf", "<<", "*", "&a", "!!python/none",
    "{{", "}}", "{%", "{{ x }}", "{{ endpoints.default.url }}", "{{ region.hostname }}",
    "{{ settings.page_size }}", "{{ login.token }}", "{{ parent.id }}", "{{ ancestors[3].id }}",
    "{{ 9 ** 99999999 }}", "{{ 'A' * 3000000000 }}", "{% include 'x' %}", "{% extends 'x' %}",
    "{{ ''.format_map({}) }}", "{% for a in b %}{% for c in d %}{% endfor %}{% endfor %}",
    "{{ 1/0 }}", "{{ x.__class__.__mro__ }}", "{{ lipsum(99999999) }}", "{% set x %}{% endset %}",
    "id", "name", "items", "regions", "@", "[*]", "[?x]", "$parent.id", "$calls.list_regions",
    "$provider.hostname", "$settings.x", "$item", "$index", "$ancestors[0]", "$nope",
    "to_int(x)", "regex_replace(name, '(a|aa)+$', 'x')", "regex_match(name, '[')",
    "yaml_parse(name)", "find_by($calls.x, 'id', y)", "to_bytes(x, 'parsecs')", "nope(x)",
    "join('/', [a, b])", "a.\"b-c\".d", "`1`", "'x'", "&&", "||", "!", "|", "[", "]",
    "(a|aa)+$", "^(a+)+$", "(?P<x>", "\\", "http://[::1", "https://[::1]:99999/", "//x",
    "ems_ref", "vms", "flavors", "hosts", "get_instances", "compute", "default", "cloud",
    "\u202e", "\x00", "\x85", "\ufeff", "é" * 3, "a" * 300, "9" * 5000,
]  # fmt: skip
SYNTAX = ["{{", "}}", "{%", "%}", "'", '"', "[", "]", "(", ")", "|", "$", ".", "*", "?", "\\", ":",
          "\n", "\t", "#", "&", "!", "{", "}", ",", "`", "@", "-", " "]  # fmt: skip
KEYS = sorted(
    {k for d in DEFS.values() if isinstance(d, dict) for k in d}
    | set(SCHEMA["spec"])
    | {"type", "from", "attributes", "path", "records", "ems_ref", "name", "x-extra"}
)

scalars = st.one_of(
    st.sampled_from(HOSTILE),
    st.text(max_size=30),
    st.integers(-(2**70), 2**70),
    st.integers(0, 100),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)


# -- mutations of shipped specs ------------------------------------------------------------------


def _paths(node: Any, here: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [here]
    if isinstance(node, dict):
        for key, value in node.items():
            out.extend(_paths(value, (*here, key)))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            out.extend(_paths(value, (*here, index)))
    return out


def _get(node: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        node = node[part]
    return node


def _mutate(draw: Any, doc: Any) -> Any:
    paths = _paths(doc)
    path = draw(st.sampled_from(paths))
    op = draw(st.sampled_from(["set", "delete", "add", "copy", "edit", "wrap"]))
    if not path:
        return draw(values) if op == "set" else doc
    parent, last = _get(doc, path[:-1]), path[-1]
    current = parent[last]
    if op == "set":
        parent[last] = draw(values)
    elif op == "delete":
        del parent[last]
    elif op == "add" and isinstance(current, dict):
        current[draw(st.sampled_from(KEYS) | st.text(max_size=8))] = draw(values)
    elif op == "copy":
        parent[last] = copy.deepcopy(_get(doc, draw(st.sampled_from(paths))))
    elif op == "edit" and isinstance(current, str):
        at = draw(st.integers(0, len(current)))
        parent[last] = current[:at] + draw(st.sampled_from(SYNTAX + HOSTILE)) + current[at:]
    elif op == "wrap":
        parent[last] = draw(st.sampled_from([[current], {"value": current}, str(current)]))
    return doc


@st.composite
def mutated_specs(draw: Any) -> str:
    doc = copy.deepcopy(SHIPPED[draw(st.sampled_from(sorted(SHIPPED)))])
    for _ in range(draw(st.integers(1, 4))):
        doc = _mutate(draw, doc)
    text = yaml.safe_dump(doc, sort_keys=False, allow_unicode=draw(st.booleans()), width=10**6)
    if draw(st.integers(0, 9)) == 0:  # edit the YAML text itself
        at = draw(st.integers(0, len(text)))
        cut = draw(st.integers(0, 20))
        text = (
            text[:at] + draw(st.sampled_from([*SYNTAX, "&a ", "*a", "<<: *a\n"])) + text[at + cut :]
        )
    return text


# -- specs generated from the schema ---------------------------------------------------------------

VARIANTS = {"auth": "auth", "paginate": "paginate"}
ATTRIBUTE_FORMS = ["attribute_value", "attribute_expr", "attribute_template", "attribute_switch",
                   "attribute_lazy"]  # fmt: skip
STRINGS = st.one_of(
    st.sampled_from(HOSTILE), st.sampled_from(KEYS), st.text(max_size=12), st.just("id")
)


def _variant(draw: Any, family: str, depth: int) -> dict[str, Any]:
    kinds = [
        n[len(family) + 1 :] for n in DEFS if n.startswith(family + "_") and n != f"{family}_common"
    ]
    kind = draw(st.sampled_from(kinds))
    out = _mapping(draw, {**DEFS[f"{family}_common"], **(DEFS[f"{family}_{kind}"] or {})}, depth)
    out["type"] = kind if draw(st.integers(0, 9)) else draw(STRINGS)
    return out


def _rules(draw: Any, rules: dict[str, Any], depth: int, key: str = "") -> Any:
    if depth > 7 or draw(st.integers(0, 24)) == 0:
        return draw(values)  # off the schema now and then
    if key in VARIANTS:
        return _variant(draw, VARIANTS[key], depth)
    if key == "attributes":
        names = st.sampled_from(["ems_ref", "name", "uid_ems", "vendor", "flavor", "x"])
        forms = st.sampled_from(ATTRIBUTE_FORMS)
        return {
            draw(names): draw(STRINGS)
            if draw(st.booleans())
            else _mapping(draw, DEFS[draw(forms)], depth)
            for _ in range(draw(st.integers(0, 4)))
        }
    if "allowed" in rules and draw(st.integers(0, 9)):
        allowed = rules["allowed"]
        return (
            draw(st.lists(st.sampled_from(allowed), max_size=2))
            if rules.get("type") == "list"
            else draw(st.sampled_from(allowed))
        )
    kinds = rules.get("type", ["string", "integer", "dict", "list", "boolean"])
    kind = draw(st.sampled_from(kinds)) if isinstance(kinds, list) else kinds
    schema = rules.get("schema")
    if kind == "dict":
        if isinstance(schema, str):
            return _mapping(draw, DEFS[schema], depth)
        if isinstance(schema, dict):
            return _mapping(draw, schema, depth)
        inner = rules.get("valuesrules")
        if inner is None:
            return draw(st.dictionaries(STRINGS, values, max_size=3))
        keys = (
            st.from_regex(rules["keysrules"]["regex"], fullmatch=True)
            if "keysrules" in rules and "regex" in rules["keysrules"]
            else STRINGS
        )
        return {draw(keys): _rules(draw, inner, depth + 1) for _ in range(draw(st.integers(0, 3)))}
    if kind == "list":
        item = schema if isinstance(schema, dict) else {}
        return [_rules(draw, item, depth + 1) for _ in range(draw(st.integers(0, 3)))]
    if kind == "integer":
        low, high = rules.get("min", -(10**6)), rules.get("max", 10**6)
        return draw(
            st.integers(low, high) if draw(st.integers(0, 4)) else st.integers(-(2**70), 2**70)
        )
    if kind == "number":
        return draw(st.floats(rules.get("min", -1e6), rules.get("max", 1e6)) | st.floats())
    if kind == "boolean":
        return draw(st.booleans())
    if "regex" in rules and draw(st.booleans()):
        return draw(st.from_regex(rules["regex"], fullmatch=True))
    return draw(STRINGS)


def _mapping(draw: Any, schema: dict[str, Any], depth: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, rules in schema.items():
        if (rules or {}).get("required") or draw(st.integers(0, 2)) == 0:
            out[key] = _rules(draw, rules or {}, depth + 1, key)
    if draw(st.integers(0, 9)) == 0:
        out[draw(st.sampled_from(KEYS))] = draw(values)
    return out


@st.composite
def schema_specs(draw: Any) -> str:
    doc = _mapping(draw, SCHEMA["spec"], 0)
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=10**6)


specs = st.one_of(mutated_specs(), mutated_specs(), mutated_specs(), schema_specs())


# -- one spec -------------------------------------------------------------------------------------


def try_spec(text: str, path: Path, tally: Counter[str], bugs: list[dict[str, Any]]) -> None:
    """Run one spec through check_file and load_spec; count the outcome, keep any bug."""
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    tally["specs"] += 1
    try:
        findings = check_file(str(path))
    except Exception as exc:
        bugs.append(_bug("check_file", exc, text))
        return
    try:
        load_spec(str(path))
        loaded = None
    except MiqspecError as exc:
        loaded = exc
    except Exception as exc:
        bugs.append(_bug("load_spec", exc, text))
        return
    if not findings and loaded is not None:
        bugs.append(_bug("valid but load_spec failed", loaded, text))
    elif findings and loaded is None:
        bugs.append(_bug(f"load_spec loaded a spec with findings: {findings[0]}", None, text))
    tally["valid" if not findings else "invalid"] += 1
    for finding in findings[:1]:
        tally["first finding: " + _kind(finding.message)] += 1


def _kind(message: str) -> str:
    words = message.split(":")[0].split()
    return " ".join(w for w in words[:4] if not any(c in w for c in "'\"{[0123456789"))[:40]


def _bug(where: str, exc: BaseException | None, text: str) -> dict[str, Any]:
    trace = traceback.format_exception(exc)[-3:] if exc is not None else []
    return {
        "where": where,
        "error": repr(exc)[:300],
        "trace": "".join(trace)[-800:],
        "spec": text[:4000],
    }


def run(examples: int, run_seed: int) -> dict[str, Any]:
    """``examples`` generated specs with ``run_seed``; the counts and the bugs found."""
    tally: Counter[str] = Counter()
    bugs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "spec.yaml"

        @seed(run_seed)
        @settings(
            max_examples=examples, database=None, deadline=None, derandomize=False,
            suppress_health_check=list(HealthCheck),
        )  # fmt: skip
        @given(specs)
        def each(text: str) -> None:
            try_spec(text, path, tally, bugs)

        each()
    return {"counts": dict(tally), "bugs": bugs}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--examples", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    os.environ["MIQSPEC_CACHE_DIR"] = "off"  # every spec goes through every check
    started = time.monotonic()
    share = -(-args.examples // args.workers)
    with ProcessPoolExecutor(args.workers) as pool:
        parts = list(
            pool.map(run, [share] * args.workers, [args.seed + i for i in range(args.workers)])
        )
    counts: Counter[str] = Counter()
    bugs = [bug for part in parts for bug in part["bugs"]]
    for part in parts:
        counts.update(part["counts"])
    report = {
        "specs": counts.pop("specs", 0),
        "valid": counts.pop("valid", 0),
        "invalid": counts.pop("invalid", 0),
        "internal_errors": len(bugs),
        "seconds": round(time.monotonic() - started, 1),
        "first_findings": dict(counts.most_common(25)),
        "bugs": bugs[:20],
    }
    json.dump(report, sys.stdout, indent=1, ensure_ascii=False)
    print()
    return 1 if bugs else 0


if __name__ == "__main__":
    sys.exit(main())
