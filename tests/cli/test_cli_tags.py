"""``miqspec tags map|list|unmap``: provider tag mappings added, listed (text and JSON) and
deleted, and one-line errors with their exit codes (2 usage, 10 no such mapping)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from miqspec.cli.app import main


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("MIQSPEC_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    runner = CliRunner()

    def run(*args: str, code: int = 0) -> str:
        result = runner.invoke(main, list(args), catch_exceptions=False)
        output = result.output + (result.stderr if result.stderr_bytes is not None else "")
        assert result.exit_code == code, output
        assert "Traceback" not in output
        return output

    return run


def test_map_list_and_unmap(cli) -> None:  # type: ignore[no-untyped-def]
    out = cli("tags", "map", "env", "environment", "--type", "ContainerNode")
    want = "mapping 1: label 'env' (any value) of ContainerNode -> /managed/environment\n"
    assert want in out
    out = cli("tags", "map", "tier", "tier", "--value", "Front-End")
    assert (
        "mapping 2: label 'tier' (value 'Front-End') of every type -> /managed/tier/front_end"
        in out
    )
    table = cli("tags", "list")
    assert "ContainerNode" in table and "(all)" in table and "(any)" in table
    rows = json.loads(cli("tags", "list", "--format", "json"))
    assert rows[1] == {
        "id": 2,
        "resource_type": None,
        "label_name": "tier",
        "label_value": "Front-End",
        "tag": "/managed/tier/front_end",
    }
    assert "deleted mapping 1:" in cli("tags", "unmap", "1")
    assert [r["id"] for r in json.loads(cli("tags", "list", "--format", "json"))] == [2]
    cli("tags", "unmap", "2")
    assert "no tag mappings" in cli("tags", "list")


def test_errors_are_one_line_with_their_exit_codes(cli) -> None:  # type: ignore[no-untyped-def]
    cli("tags", "map", "env", "environment")
    out = cli("tags", "map", "env", "environment", code=2)
    assert "label 'env' of every type is mapped already (mapping 1)" in out
    out = cli("tags", "map", "env", "Environment", "--type", "Vm", code=2)
    assert "category name 'Environment': use lower case letters" in out
    out = cli("tags", "map", "env", "environment", "--entry", "x", "--type", "Vm", code=2)
    assert "give the value too" in out
    assert "no tag mapping 7" in cli("tags", "unmap", "7", code=10)
