"""YAML documents parsed before (yaml_cache): kept as JSON by their bytes' hash, read back
instead of parsing; documents JSON cannot carry exactly are parsed every time."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from miqspec.cache.files import cache_root, load_yaml
from miqspec.spec.catalogue import catalogue_path, parse_catalogue

DOC = b"a: 1\nb: [x, {c: true, d: null}]\n"


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MIQSPEC_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_a_document_is_parsed_once_then_read_as_json(root: Path) -> None:
    assert load_yaml(DOC) == yaml.safe_load(DOC)
    (kept,) = (root / "parsed").iterdir()
    assert json.loads(kept.read_text()) == yaml.safe_load(DOC)
    kept.write_text(json.dumps({"from": "the cache"}))  # what is read now is the JSON
    assert load_yaml(DOC) == {"from": "the cache"}
    assert load_yaml(DOC + b"e: 2\n") == {**yaml.safe_load(DOC), "e": 2}  # other bytes


@pytest.mark.parametrize("doc", [b"1: integer key\n", b"when: 2024-01-02\n", b"x: [1, .nan]\n"])
def test_what_json_cannot_carry_is_parsed_every_time(root: Path, doc: bytes) -> None:
    assert load_yaml(doc) == yaml.safe_load(doc)
    assert not (root / "parsed").exists() or not any((root / "parsed").iterdir())


def test_off_and_unusable_caches_parse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MIQSPEC_CACHE_DIR", "off")
    assert cache_root() is None and load_yaml(DOC) == yaml.safe_load(DOC)
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("MIQSPEC_CACHE_DIR", str(blocker))  # a file where a directory should be
    assert load_yaml(DOC) == yaml.safe_load(DOC)
    (tmp_path / "broken" / "parsed").mkdir(parents=True)
    monkeypatch.setenv("MIQSPEC_CACHE_DIR", str(tmp_path / "broken"))
    load_yaml(DOC)
    (kept,) = (tmp_path / "broken" / "parsed").iterdir()
    kept.write_text("{not json")  # a damaged entry: parsed again
    assert load_yaml(DOC) == yaml.safe_load(DOC)


def test_the_catalogue_through_the_cache_is_the_catalogue(root: Path) -> None:
    data = catalogue_path().read_bytes()
    want = parse_catalogue(yaml.safe_load(data))
    assert parse_catalogue(load_yaml(data)) == want  # parsed and remembered
    assert parse_catalogue(load_yaml(data)) == want  # read back
