"""A pytest plugin (entry point ``pytest11``): golden tests of a spec against a recording.

Offers the fixture ``miqspec_replay``: a function ``(spec, cassette, args=None, expect=None)``
that replays the VCR ``cassette`` into a temporary SQLite database as a provider of ``spec``
(a file or a shipped name) and gives the ``TestResult`` (``counts`` and ``rows`` per
collection). ``expect``: an expectations file or mapping (docs/adding-a-provider.md, "Golden
test"); its mismatches fail the test, one line each; its ``args`` are used when ``args`` is
None. A refresh that fails fails the test with its one-line error.
Takes/gives nothing at import (``miqspec.api`` is loaded when the fixture is first used).
Reads the spec, the cassette and the expectations; writes a temporary database.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

Replay = Callable[..., Any]


@pytest.fixture
def miqspec_replay() -> Replay:
    """The replay function (see the module doc)."""

    def replay(
        spec: str | Path | Any,
        cassette: str | Path,
        args: Mapping[str, Any] | None = None,
        expect: str | Path | Mapping[str, Any] | None = None,
    ) -> Any:
        from miqspec import api

        loaded = spec if isinstance(spec, api.Spec) else api.load_spec(spec)
        if expect is None:
            wanted: Mapping[str, Any] = {}
        elif isinstance(expect, Mapping):
            wanted = expect
        else:
            wanted = api.load_expectations(expect)
        if args is None and not wanted.get("args"):
            raise api.UsageError("miqspec_replay: give args, or an expectations file with args")
        result = api.test_spec(loaded, cassette, wanted, args)
        if result.error is not None:
            pytest.fail(f"refresh from {cassette} failed: {result.error}", pytrace=False)
        if result.mismatches:
            pytest.fail("\n".join(result.mismatches), pytrace=False)
        return result

    return replay
