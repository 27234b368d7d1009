"""Shipped and generated specs validate clean; mutated specs never crash the validator.

A spec in provider_specs/ whose first line contains ``# draft:`` is skipped with that reason.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from miqspec.cli.app import main
from miqspec.errors import SpecError
from miqspec.spec.catalogue import load_catalogue
from miqspec.spec.checks import check_document
from miqspec.spec.document import load_text
from miqspec.spec.load import check_file, load_spec
from miqspec.spec.scaffold import FIRST_COLLECTION

REPO = Path(__file__).resolve().parents[2]
PROVIDER_SPECS = sorted((REPO / "provider_specs").glob("*.yaml"))
VALID_CASES = [
    p
    for p in sorted((Path(__file__).parent / "spec_errors").glob("*.yaml"))
    if "\n# valid:" in "\n" + p.read_text(encoding="utf-8").split("\n\n")[0]
]


def _draft_reason(path: Path) -> str | None:
    first = path.read_text(encoding="utf-8").split("\n", 1)[0]
    return first.split("# draft:", 1)[1].strip() or "draft" if "# draft:" in first else None


@pytest.mark.parametrize("path", PROVIDER_SPECS, ids=lambda p: p.name)
def test_provider_specs_validate_clean(path: Path) -> None:
    reason = _draft_reason(path)
    if reason:
        pytest.skip(f"{path.name} is a draft: {reason}")
    assert [str(f) for f in check_file(str(path))] == []
    load_spec(str(path))  # a clean spec also builds


def test_the_reference_spec_is_not_a_draft() -> None:
    assert _draft_reason(REPO / "provider_specs" / "awesome_cloud.yaml") is None


@pytest.mark.parametrize("manager_type", sorted(FIRST_COLLECTION))
def test_new_writes_a_spec_that_validates_clean(manager_type: str, tmp_path: Path) -> None:
    out = tmp_path / f"my_{manager_type}.yaml"
    result = CliRunner().invoke(
        main, ["new", f"my_{manager_type}", "--manager-type", manager_type, "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert [str(f) for f in check_file(str(out))] == []
    spec = load_spec(str(out))
    assert spec.provider.manager_type == manager_type


def test_new_refuses_a_bad_name() -> None:
    result = CliRunner().invoke(main, ["new", "My-Cloud", "--manager-type", "cloud"])
    assert result.exit_code == 2
    assert "snake_case" in result.output


# -- property: mutations of valid specs -----------------------------------------------------

CATALOGUE = load_catalogue()
SEEDS: list[Any] = [
    yaml.safe_load(p.read_text(encoding="utf-8"))
    for p in [REPO / "provider_specs" / "awesome_cloud.yaml", *VALID_CASES]
]
JUNK = ["{{", "}}", "{%", "{{ parent.x }}", "{{ login.nope }}", "[?", "$", "$parent",
        "$nope.x", "|", "`", "'", '"', "(", ")", "@", "&&", "\\", "${", "[", "]", "ü", "\t",
        "\n", " x("]  # fmt: skip
SCALARS = [None, 0, -1, 2.5, True, "", "text", [], {}, [1, "a"], {"k": "v"}, {"lazy": 1}]


def _paths(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [path] if path else []
    if isinstance(node, dict):
        for key, value in node.items():
            out += _paths(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            out += _paths(value, (*path, index))
    return out


def _mutate(doc: Any, data: st.DataObject) -> None:
    paths = _paths(doc)
    if not paths:
        return
    path = data.draw(st.sampled_from(paths))
    parent = doc
    for part in path[:-1]:
        parent = parent[part]
    key = path[-1]
    value = parent[key]
    op = data.draw(st.sampled_from(["delete", "retype", "rename", "junk", "wrap"]))
    if op == "delete":
        del parent[key]
    elif op == "retype":
        parent[key] = copy.deepcopy(data.draw(st.sampled_from(SCALARS)))
    elif op == "rename" and isinstance(parent, dict):
        parent[f"{key}{data.draw(st.sampled_from(['s', '_', 'x', '']))}z"] = parent.pop(key)
    elif op == "junk" and isinstance(value, str):
        at = data.draw(st.integers(0, len(value)))
        parent[key] = value[:at] + data.draw(st.sampled_from(JUNK)) + value[at:]
    elif op == "wrap":
        parent[key] = [value]


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_mutated_specs_never_crash_the_validator(data: st.DataObject) -> None:
    doc = copy.deepcopy(data.draw(st.sampled_from(SEEDS)))
    for _ in range(data.draw(st.integers(1, 4))):
        _mutate(doc, data)
    text = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)
    try:
        loaded = load_text(text, "mutated.yaml")
    except SpecError as exc:  # e.g. the whole document deleted
        assert exc.findings and all(f.location.line >= 1 for f in exc.findings)
        return
    findings = check_document(loaded, CATALOGUE)
    for finding in findings:
        assert finding.location.line >= 1 and finding.location.col >= 1, finding
        assert "\n" not in finding.message, finding
