"""Specs found valid before (spec_cache): remembered by their exact bytes under this engine;
invalid specs never are; the cache can be off or unwritable without changing any result."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from miqspec.errors import SpecError
from miqspec.spec.load import load_spec
from miqspec.spec.valid_cache import cache_dir, known_valid

from ..conftest import AWESOME


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    copy = tmp_path / "awesome_cloud.yaml"
    shutil.copy(AWESOME, copy)
    return copy


def test_a_valid_spec_is_remembered_by_its_bytes(
    spec: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MIQSPEC_CACHE_DIR", str(tmp_path / "cache"))
    assert not known_valid(spec.read_bytes())
    first = load_spec(str(spec))
    assert known_valid(spec.read_bytes())
    assert len(list((tmp_path / "cache" / "valid-specs").iterdir())) == 1
    again = load_spec(str(spec))  # the checks skipped: the same model all the same
    assert again.collections.keys() == first.collections.keys()
    assert again.calls.keys() == first.calls.keys()
    spec.write_text(spec.read_text() + "\n")
    assert not known_valid(spec.read_bytes())  # any edit is checked again


def test_an_invalid_spec_is_never_remembered(
    spec: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MIQSPEC_CACHE_DIR", str(tmp_path / "cache"))
    spec.write_text(spec.read_text().replace("      memory: ram\n", "      memroy: ram\n"))
    for _ in range(2):
        with pytest.raises(SpecError, match="memroy"):
            load_spec(str(spec))
    assert not known_valid(spec.read_bytes())


def test_the_cache_off_or_unwritable_changes_nothing(
    spec: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MIQSPEC_CACHE_DIR", "off")
    assert cache_dir() is None
    load_spec(str(spec))
    assert not known_valid(spec.read_bytes())
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("MIQSPEC_CACHE_DIR", str(blocker))  # a file: no directory under it
    load_spec(str(spec))
    assert not known_valid(spec.read_bytes())


def test_the_default_place_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("MIQSPEC_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache_dir() == tmp_path / "miqspec" / "valid-specs"
