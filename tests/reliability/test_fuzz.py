"""A short fuzzing run (the long ones are bench/fuzz_specs.py and bench/fuzz_bodies.py).

Generated specs (shipped specs mutated, specs generated from the schema) go through
``check_file`` and ``load_spec``; generated API bodies for every call of awesome_cloud.yaml are
served from a real server on 127.0.0.1 through ``collect`` and ``parse``. Every case ends in
findings, a spec, inventory or a ``MiqspecError`` (one line); never anything else. Hypothesis
shrinks a failure to the smallest spec or body that shows it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from bench.fuzz_bodies import SPEC_PATH, BodyServer, cases, try_case
from bench.fuzz_specs import specs, try_spec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from miqspec.spec import load_spec

SHORT = settings(
    max_examples=100, database=None, deadline=None, suppress_health_check=list(HealthCheck)
)


@pytest.fixture(scope="module")
def server() -> Iterator[BodyServer]:
    body_server = BodyServer()
    yield body_server
    body_server.close()


def _no_bug(bugs: list[Any]) -> None:
    if bugs:
        bug = bugs[0]
        raise AssertionError(f"{bug['where']}: {bug['error']}\n{bug['trace']}")


def test_generated_specs_end_in_findings_or_a_spec(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MIQSPEC_CACHE_DIR", "off")
    path = Path(tmp_path_factory.mktemp("fuzz")) / "spec.yaml"
    tally: Counter[str] = Counter()

    @SHORT
    @given(st.data())
    def each(data: st.DataObject) -> None:
        bugs: list[Any] = []
        try_spec(data.draw(specs), path, tally, bugs)
        _no_bug(bugs)

    each()
    assert tally["specs"] >= 100
    assert tally["valid"] and tally["invalid"]  # both sides of the validator were reached


def test_generated_api_bodies_end_in_inventory_or_a_clear_error(server: BodyServer) -> None:
    spec = load_spec(str(SPEC_PATH))
    tally: Counter[str] = Counter()

    @SHORT
    @given(cases())
    def each(case: dict[str, Any]) -> None:
        bugs: list[Any] = []
        try_case(spec, server, case, tally, bugs)
        _no_bug(bugs)

    each()
    assert tally["cases"] >= 100
    assert tally["parsed"]  # some cases made it through to inventory
