"""tables_cache: the shipped tables from a trusted pickle in the cache dir, else built."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.schema import CreateIndex, CreateTable

from miqspec.spec.catalogue import load_catalogue
from miqspec.store.tables import build_metadata
from miqspec.store.tables_cache import shipped_metadata


def ddl(md) -> list[str]:
    out = []
    for dialect in (sqlite.dialect(), postgresql.dialect()):
        for table in md.sorted_tables:
            out.append(str(CreateTable(table).compile(dialect=dialect)))
            out += sorted(str(CreateIndex(i).compile(dialect=dialect)) for i in table.indexes)
    return out


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MIQSPEC_CACHE_DIR", str(tmp_path))
    return tmp_path


def pickles(root: Path) -> list[Path]:
    return sorted((root / "tables").glob("*.pickle"))


def test_the_second_read_comes_from_the_pickle_and_gives_the_same_tables(cache: Path) -> None:
    built = shipped_metadata()
    [path] = pickles(cache)
    assert path.stat().st_mode & 0o777 == 0o600
    again = shipped_metadata()
    assert again is not built and ddl(again) == ddl(built) == ddl(build_metadata(load_catalogue()))
    path.write_bytes(b"not a pickle")  # read it: a damaged file is built again and rewritten
    assert ddl(shipped_metadata()) == ddl(built)
    assert path.read_bytes() != b"not a pickle"


def test_a_file_others_may_write_is_never_loaded(cache: Path) -> None:
    shipped_metadata()
    [path] = pickles(cache)
    planted = b"cos\nsystem\n(S'echo planted > " + str(cache / "ran").encode() + b"'\ntR."
    path.write_bytes(planted)
    path.chmod(0o666)
    assert ddl(shipped_metadata()) == ddl(build_metadata(load_catalogue()))
    assert not (cache / "ran").exists()
    assert path.read_bytes() != planted and path.stat().st_mode & 0o777 == 0o600


def test_a_pickle_of_something_else_is_not_taken(cache: Path) -> None:
    import pickle

    shipped_metadata()
    [path] = pickles(cache)
    path.write_bytes(pickle.dumps({"tables": []}))
    assert len(shipped_metadata().tables) == len(build_metadata(load_catalogue()).tables)


def test_cache_off_builds_every_time_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MIQSPEC_CACHE_DIR", "off")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setenv("HOME", str(tmp_path))
    assert len(shipped_metadata().tables) == len(build_metadata(load_catalogue()).tables)
    assert not list(tmp_path.rglob("*.pickle"))


def test_an_unwritable_cache_dir_still_gives_the_tables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache dir should be")
    monkeypatch.setenv("MIQSPEC_CACHE_DIR", str(blocker))
    assert len(shipped_metadata().tables) == len(build_metadata(load_catalogue()).tables)
    assert not list(tmp_path.rglob("*.tmp"))


def test_a_symlink_in_place_of_the_file_is_not_followed(cache: Path) -> None:
    shipped_metadata()
    [path] = pickles(cache)
    elsewhere = cache / "elsewhere.pickle"
    path.rename(elsewhere)
    path.symlink_to(elsewhere)
    assert ddl(shipped_metadata()) == ddl(build_metadata(load_catalogue()))
    assert not path.is_symlink()  # written again as a file of its own


def test_writing_one_keeps_only_the_newest_few(cache: Path) -> None:
    import os

    from miqspec.store.tables_cache import KEEP

    folder = cache / "tables"
    folder.mkdir()
    for i in range(KEEP + 3):  # pickles of earlier engines, oldest first
        old = folder / f"old{i:02d}.pickle"
        old.write_bytes(b"x")
        os.utime(old, (1_000_000 + i, 1_000_000 + i))
    shipped_metadata()
    left = sorted(p.name for p in pickles(cache))
    assert len(left) == KEEP
    assert "old00.pickle" not in left and f"old{KEEP + 2:02d}.pickle" in left
    assert ddl(shipped_metadata()) == ddl(build_metadata(load_catalogue()))  # ours is kept


def test_a_planted_link_at_the_temporary_name_is_not_written_through(cache: Path) -> None:
    import os

    shipped_metadata()
    [path] = pickles(cache)
    path.unlink()
    target = cache / "target"
    target.write_bytes(b"keep me")
    path.with_name(f"{path.name}.{os.getpid()}.tmp").symlink_to(target)
    assert ddl(shipped_metadata()) == ddl(build_metadata(load_catalogue()))
    assert target.read_bytes() == b"keep me" and not path.exists()
