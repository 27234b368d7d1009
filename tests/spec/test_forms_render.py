"""``miqspec form`` output as the data-driven-forms renderer (Carbon mapper) reads it.

A select with no ``initialValue`` shows its first option while its value stays unset, and the
Carbon renderer ignores ``includeEmpty``: the output gives such selects an explicit empty
first choice. Region choices show descriptions, sorted by them (ManageIQ's
``Regions.all.sort_by(description)``). The shipped specs follow the upstream forms.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from miqspec.spec.forms import EMPTY_CHOICE, params_for_create
from miqspec.spec.load import load_spec

REPO = Path(__file__).resolve().parents[2]
SHIPPED = ["awx", "nsxt", "azure", "awesome_cloud"]
CASE = Path(__file__).parent / "spec_errors" / "121_valid_form_values.yaml"


def _walk(fields: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for f in fields:
        yield f
        yield from _walk(f.get("fields") or [])


def _form(name: str) -> dict[str, dict[str, Any]]:
    spec = load_spec(str(REPO / "provider_specs" / f"{name}.yaml"))
    return {f["name"]: f for f in _walk(params_for_create(spec)["fields"])}


def test_include_empty_becomes_an_empty_first_choice_and_regions_show_descriptions() -> None:
    fields = {f["name"]: f for f in _walk(params_for_create(load_spec(str(CASE)))["fields"])}
    region = fields["provider_region"]
    assert "includeEmpty" not in region
    assert region["options"] == [
        EMPTY_CHOICE,
        {"label": "Region One", "value": "r1"},
        {"label": "r2", "value": "r2"},  # no description: the name
    ]
    ssl = fields["endpoints.default.verify_ssl"]  # an initial value: no empty choice
    assert ssl["options"][0] == {"label": "Do not verify", "value": 0}
    assert ssl["dataType"] == "integer" and ssl["initialValue"] == 1
    protocol = fields["endpoints.default.security_protocol"]  # its own empty choice is kept
    assert [o["value"] for o in protocol["options"]] == ["", "ssl"]
    assert fields["endpoints.default.url"]["helperText"] == "e.g. https://api.example.com"


@pytest.mark.parametrize("name", SHIPPED)
def test_no_shipped_select_shows_a_value_it_does_not_hold(name: str) -> None:
    """What the user sees is what is submitted: a select starts on its initialValue or on an
    empty choice; labels carry no hints; URL fields are validated as URLs."""
    for field in _form(name).values():
        if field["component"] == "select":
            values = [o["value"] for o in field["options"]]
            if "initialValue" in field:
                assert field["initialValue"] in values, field
            else:
                assert values[0] == "", field
        assert "(e.g." not in field.get("label", "") and "(leave" not in field.get("label", "")
        if field["name"].endswith(".url"):
            assert {"type": "url"} in field["validate"], field


def test_shipped_forms_match_upstream() -> None:
    awx = _form("awx")
    ssl = awx["endpoints.default.verify_ssl"]
    assert ssl["dataType"] == "integer" and ssl["initialValue"] == 1
    assert [o["value"] for o in ssl["options"]] == [0, 1]
    assert awx["endpoints.default.url"]["label"] == "URL"
    assert awx["endpoints.default.url"]["validate"] == [{"type": "required"}, {"type": "url"}]
    nsxt = _form("nsxt")
    assert "isRequired" not in nsxt["endpoints.default.valid"]
    protocol = nsxt["endpoints.default.security_protocol"]
    assert protocol["options"][0] == EMPTY_CHOICE and "initialValue" not in protocol
    azure = _form("azure")
    labels = [o["label"] for o in azure["provider_region"]["options"][1:]]
    assert labels == sorted(labels) and "East US" in labels and "eastus" not in labels
    assert azure["endpoints.default.url"]["helperText"].startswith("Leave empty")
