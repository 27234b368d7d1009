"""The package's shape: what pyproject ships matches the tree, shipped files are resources.

The wheel itself is built, installed into a fresh venv and run from another folder by
``.ci/wheel-check`` (in ``.ci/run``); these tests hold the pieces that make that work.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

import miqspec
from miqspec import resources
from miqspec.errors import NotFoundError

REPO = Path(__file__).resolve().parents[1]
ENGINE = REPO / "engine"


def _pyproject() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())


def test_every_subpackage_on_disk_is_shipped_and_nothing_else():
    listed = set(_pyproject()["tool"]["setuptools"]["packages"])
    on_disk = {
        ".".join(p.parent.relative_to(ENGINE).parts)
        for p in (ENGINE / "miqspec").rglob("__init__.py")
    }
    on_disk |= {"miqspec.provider_specs", "miqspec.schemas"}
    assert listed == on_disk


def test_shipped_folders_map_onto_package_resources():
    dirs = _pyproject()["tool"]["setuptools"]["package-dir"]
    assert dirs["miqspec.provider_specs"] == "provider_specs"
    assert dirs["miqspec.schemas"] == "schemas"
    assert (
        resources.schema_file("inventory.yaml").read_bytes()
        == (REPO / "schemas" / "inventory.yaml").read_bytes()
    )


def test_shipped_specs_are_found_by_name():
    names = resources.shipped_spec_names()
    on_disk = sorted(p.stem for p in (REPO / "provider_specs").glob("*.yaml"))
    assert names == on_disk
    assert "awesome_cloud" in names
    assert (
        resources.shipped_spec("awesome_cloud").read_bytes()
        == (REPO / "provider_specs" / "awesome_cloud.yaml").read_bytes()
    )
    assert resources.is_shipped_name("awesome_cloud")
    assert not resources.is_shipped_name("../provider_specs/awesome_cloud")
    assert not resources.is_shipped_name("awesome_cloud.yaml")


@pytest.mark.parametrize("name", ["nope", "../etc/passwd", "", "Awesome_Cloud"])
def test_an_unknown_shipped_name_is_a_not_found_error(name):
    with pytest.raises(NotFoundError, match="no shipped spec named"):
        resources.shipped_spec(name)


def test_the_engine_reads_no_file_through_the_source_tree():
    offenders = [
        str(p.relative_to(ENGINE))
        for p in (ENGINE / "miqspec").rglob("*.py")
        if re.search(r"__file__\)(\.resolve\(\))?\.parents\[", p.read_text())
    ]
    assert offenders == []


def test_the_engine_hash_covers_every_subpackage():
    root = resources.package_root()
    sources = {p.relative_to(root).parts[0] for p in resources.package_sources()}
    assert {"spec", "connect", "collect", "parse", "persist", "store", "cli"} <= sources


def test_version_is_the_project_version():
    assert miqspec.__version__ == _pyproject()["project"]["version"]
