"""The spec schema: cerberus findings, the JSON Schema for editors, and the registries.

Needs the ``jsonschema`` package (test extra).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cerberus
import jsonschema
import pytest
import yaml
from click.testing import CliRunner

from miqspec.cli.app import main
from miqspec.connect.auth import AUTH_KINDS
from miqspec.connect.pagination import PAGINATORS
from miqspec.spec import schema as schema_mod
from miqspec.spec.document import load_text
from miqspec.spec.schema_json import json_schema

REPO = Path(__file__).resolve().parents[2]
AWESOME = REPO / "provider_specs" / "awesome_cloud.yaml"
VALID_CASES = [
    p
    for p in sorted((Path(__file__).parent / "spec_errors").glob("*.yaml"))
    if "\n# valid:" in "\n" + p.read_text(encoding="utf-8").split("\n\n")[0]
]


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def _errors(validator: jsonschema.Draft202012Validator, data: Any) -> list[str]:
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(data)]


def test_json_schema_is_draft_2020_12(validator: jsonschema.Draft202012Validator) -> None:
    assert validator.schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_schema_command_prints_the_same_schema() -> None:
    result = CliRunner().invoke(main, ["schema"])
    assert result.exit_code == 0
    assert json.loads(result.output) == json_schema()


@pytest.mark.parametrize("path", [AWESOME, *VALID_CASES], ids=lambda p: p.name)
def test_json_schema_accepts_valid_specs(
    validator: jsonschema.Draft202012Validator, path: Path
) -> None:
    assert _errors(validator, yaml.safe_load(path.read_text(encoding="utf-8"))) == []


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (lambda d: d.update(colections={}), []),
        (lambda d: d["provider"].update(manager_type="clod"), ["provider", "manager_type"]),
        (lambda d: d["auth"].update(type="basik"), ["auth"]),
        (lambda d: d["calls"]["get_images"]["paginate"].pop("param"),
         ["calls", "get_images", "paginate"]),
        (lambda d: d["collections"]["vms"]["attributes"].update(flavor={"lazy": 1}),
         ["collections", "vms", "attributes", "flavor"]),
    ],
)  # fmt: skip
def test_json_schema_rejects_invalid_specs(
    validator: jsonschema.Draft202012Validator, change: Any, where: list[str]
) -> None:
    data = yaml.safe_load(AWESOME.read_text(encoding="utf-8"))
    change(data)
    errors = list(validator.iter_errors(data))
    assert errors
    assert any(list(e.absolute_path) == where for e in errors)


def test_committed_json_schema_is_up_to_date() -> None:
    committed = json.loads((REPO / "schemas" / "spec.schema.json").read_text(encoding="utf-8"))
    assert committed == json_schema(), "run: miqspec schema -o schemas/spec.schema.json"


def test_cerberus_accepts_every_schema_definition() -> None:
    """The engine's validators skip cerberus's check of the shipped schema: it is here."""
    data, registry = schema_mod.schema_data(), schema_mod._registry()
    for name in data["definitions"]:
        rules = schema_mod.merged_definitions((name,))  # a definition is a mapping of rules
        cerberus.Validator(schema_mod._strip_meta(rules), schema_registry=registry)
        assert isinstance(schema_mod.is_well_formed({}, (name,)), bool)
    cerberus.Validator(schema_mod._strip_meta(data["spec"]), schema_registry=registry)
    with pytest.raises(cerberus.SchemaError):
        cerberus.Validator({"x": {"type": "no-such-type"}})


def test_unchecked_validators_find_what_checked_ones_find() -> None:
    spec = AWESOME.read_text(encoding="utf-8")
    bad = spec.replace("manager_type: cloud", "manager_type: 7\n  titel: x", 1)
    registry = schema_mod._registry()
    checked = cerberus.Validator(
        schema_mod._strip_meta(schema_mod.schema_data()["spec"]), schema_registry=registry
    )
    for text in (spec, bad):
        data = yaml.safe_load(text)
        unchecked = schema_mod._root_validator()
        assert unchecked.validate(data) is checked.validate(data)
        assert unchecked.errors == checked.errors
    assert checked.errors  # the bad spec has findings


def test_auth_kinds_agree_with_the_schema() -> None:
    assert set(AUTH_KINDS) == set(schema_mod.variants("auth"))


def test_paginators_agree_with_the_schema() -> None:
    assert set(PAGINATORS) == set(schema_mod.variants("paginate"))


def test_cerberus_findings_are_positioned_and_worded() -> None:
    text = "version: '1'\nprovider:\n  name: X\n  titel: t\n  manager_type: cloud\ncalls: {}\n"
    doc = load_text(text, "s.yaml")
    found = [str(f) for f in sorted(schema_mod.validate_document(doc))]
    assert found == [
        "s.yaml:1:10: version: must be an integer, got string",
        "s.yaml:3:3: provider.title: missing required key 'title'",
        "s.yaml:3:9: provider.name: 'X' does not match the pattern ^[a-z][a-z0-9_]*$",
        "s.yaml:4:3: provider.titel: unknown key 'titel' (did you mean 'title'?)",
    ]


def test_validate_definitions_reuses_one_validator() -> None:
    doc = load_text("a: {type: cursor, cursor: x}\n", "s.yaml")
    names = ("paginate_common", "paginate_cursor")
    first = schema_mod.validate_definitions(doc, doc.data["a"], names, ("a",))
    again = schema_mod.validate_definitions(doc, doc.data["a"], names, ("a",))
    assert [str(f) for f in first] == [str(f) for f in again]
    assert [f.message for f in first] == ["missing required key 'param'"]
    assert schema_mod._named_validator(names) is schema_mod._named_validator(names)
