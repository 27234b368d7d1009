"""Find-or-build merging (``merge: true`` on a source): the second source's attributes are
merged into the object the first built with the same manager_ref (a non-null value wins, a
null never erases), or the object is built when absent; without ``merge`` the first build
wins and the other is counted a duplicate. Tags (``tags.from``): labels kept per object."""

from __future__ import annotations

from pathlib import Path

import pytest

from miqspec.errors import MappingError
from miqspec.parse.parser import parse
from miqspec.parse.source import label_pairs

from .test_parse import collected, spec_of

MERGED = """
calls: {get_vms: {path: /vms}, get_details: {path: /details}}
collections:
  vms:
    attributes: {type: {value: Vm}}
    sources:
      - from: get_vms
        attributes: {ems_ref: id, name: name, raw_power_state: state}
      - from: get_details
        merge: {merge}
        attributes: {ems_ref: vm, name: label, raw_power_state: power, description: notes}
"""

VMS = [{"id": "v1", "name": "one", "state": "on"}, {"id": "v2", "name": "two", "state": "off"}]
DETAILS = [
    {"vm": "v1", "power": "off", "notes": "first"},  # name null: kept from the first source
    {"vm": "v3", "label": "three", "power": "on"},  # absent: built
]


def test_a_merge_source_fills_and_overrides_the_object_built_first(tmp_path: Path) -> None:
    spec = spec_of(tmp_path, MERGED.replace("{merge}", "true"))
    assert [s.merge for s in spec.collections["vms"].all_sources] == [False, True]
    inv = parse(spec, collected(get_vms=VMS, get_details=DETAILS))
    objs = inv.objects["vms"]
    assert objs[("v1",)].data == {
        "type": "ManageIQ::Providers::TestCloud::CloudManager::Vm",
        "ems_ref": "v1",
        "name": "one",
        "raw_power_state": "off",
        "description": "first",
    }
    assert "description" not in objs[("v2",)].data
    assert objs[("v3",)].data["name"] == "three"
    assert list(objs) == [("v1",), ("v2",), ("v3",)]
    assert "vms" not in inv.dropped


def test_without_merge_the_first_build_wins_and_the_other_is_a_duplicate(
    tmp_path: Path,
) -> None:
    spec = spec_of(tmp_path, MERGED.replace("{merge}", "false"))
    inv = parse(spec, collected(get_vms=VMS, get_details=DETAILS))
    assert inv.objects["vms"][("v1",)].data["raw_power_state"] == "on"
    assert inv.dropped["vms"] == {"manager_ref built before with other values (duplicate)": 1}


TAGGED = """
calls: {get_vms: {path: /vms}, get_details: {path: /details}}
collections:
  vms:
    tags: {from: labels}
    sources:
      - from: get_vms
        attributes: {ems_ref: id, name: name}
      - from: get_details
        merge: true
        attributes: {ems_ref: vm}
"""


def test_labels_are_kept_per_object_and_add_up_over_merged_sources(tmp_path: Path) -> None:
    spec = spec_of(tmp_path, TAGGED)
    vms = [{"id": "v1", "name": "a", "labels": {"env": "prod", "tier": None}}, {"id": "v2"}]
    details = [{"vm": "v1", "labels": [{"name": "app", "value": "db"}]}]
    inv = parse(spec, collected(get_vms=vms, get_details=details))
    assert inv.labels["vms"] == {("v1",): (("app", "db"), ("env", "prod")), ("v2",): ()}


def test_a_failing_tags_expression_names_its_location(tmp_path: Path) -> None:
    spec = spec_of(tmp_path, TAGGED.replace("from: labels", "from: abs(id)"))
    with pytest.raises(MappingError, match=r"collections\.vms\.tags\.from"):
        parse(spec, collected(get_vms=[{"id": "v1"}], get_details=[]))


def test_label_pairs_take_objects_and_lists() -> None:
    assert label_pairs({"a": 1, "b": True, "c": None}) == [("a", "1"), ("b", "true")]
    assert label_pairs([{"key": "k", "value": "v"}, {"name": None}, "x"]) == [("k", "v")]
    assert label_pairs(None) == []
