"""Tests for miqspec.store.credentials: real key files in a temporary directory, no mocks."""

from __future__ import annotations

import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote

import pytest

from miqspec.errors import MASK, MiqspecError, UsageError
from miqspec.store.credentials import (
    KeyRing,
    KeyRingError,
    decrypt_values,
    default_key_path,
    is_encrypted,
    read_secret,
)
from miqspec.store.credentials import sanitize as sanitize_text

SECRET = "s3cr3t-pässword"


@pytest.fixture
def key_path(tmp_path: Path) -> Path:
    return tmp_path / "home" / "v2_key"


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_round_trip_and_shape(key_path: Path) -> None:
    ring = KeyRing.load(key_path)
    text = ring.encrypt(SECRET)
    assert text.startswith("v2:{") and text.endswith("}") and SECRET not in text
    assert is_encrypted(text) and KeyRing.is_encrypted(text)
    assert not is_encrypted(SECRET)
    assert ring.decrypt(text) == SECRET
    assert KeyRing.load(key_path, create=False).decrypt(text) == SECRET
    assert ring.try_decrypt(SECRET) == SECRET
    assert ring.try_decrypt(text) == SECRET
    assert ring.try_encrypt(text) == text and ring.try_encrypt("") == ""
    assert ring.decrypt(ring.try_encrypt(SECRET)) == SECRET
    with pytest.raises(KeyRingError, match="not an encrypted"):
        ring.decrypt(SECRET)


def test_created_file_is_private(key_path: Path) -> None:
    ring = KeyRing.load(key_path)
    assert mode_of(key_path) == 0o600
    assert mode_of(key_path.parent) == 0o700
    assert len(ring.keys) == 1 and str(ring.keys[0].decode()) not in repr(ring)
    assert not [p for p in key_path.parent.iterdir() if p.name.endswith(".tmp")]


def test_concurrent_first_use_agrees_on_one_key(key_path: Path) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        rings = list(pool.map(lambda _: KeyRing.load(key_path), range(16)))
    assert {ring.keys for ring in rings} == {KeyRing.load(key_path).keys}
    assert [p.name for p in key_path.parent.iterdir()] == ["v2_key"]


def test_missing_file_without_create(key_path: Path) -> None:
    with pytest.raises(KeyRingError, match="does not exist"):
        KeyRing.load(key_path, create=False)
    assert not key_path.exists()


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604])
def test_refuses_file_readable_by_others(key_path: Path, mode: int) -> None:
    KeyRing.load(key_path)
    key_path.chmod(mode)
    with pytest.raises(KeyRingError, match=f"mode {mode:04o}.*chmod 600") as info:
        KeyRing.load(key_path)
    assert info.value.exit_code == 11 and isinstance(info.value, MiqspecError)


def test_invalid_key_line_is_reported_without_content(key_path: Path) -> None:
    KeyRing.load(key_path)
    key_path.write_bytes(b"# comment\n\nnot-a-key-at-all\n")
    with pytest.raises(KeyRingError, match="not a Fernet key") as info:
        KeyRing.load(key_path)
    assert "not-a-key-at-all" not in str(info.value)


def test_rotation_keeps_old_ciphertext_and_recrypt_moves_it(key_path: Path) -> None:
    old = KeyRing.load(key_path)
    old_text = old.encrypt(SECRET)
    new = old.rotate()
    assert mode_of(key_path) == 0o600
    assert new.keys[1:] == old.keys and new.keys[0] != old.keys[0]
    reloaded = KeyRing.load(key_path, create=False)
    assert reloaded.keys == new.keys
    assert reloaded.decrypt(old_text) == SECRET
    moved = reloaded.recrypt(old_text)
    assert moved != old_text and reloaded.decrypt(moved) == SECRET
    with pytest.raises(KeyRingError, match="wrong key"):
        old.decrypt(moved)  # only the newest key can read it
    assert KeyRing(new.keys[:1]).decrypt(moved) == SECRET
    assert not [p for p in key_path.parent.iterdir() if p.name.endswith(".tmp")]


def test_wrong_key_and_tampering_are_one_line_errors(tmp_path: Path) -> None:
    ring = KeyRing.load(tmp_path / "a")
    other = KeyRing.load(tmp_path / "b")
    text = ring.encrypt(SECRET)
    token = text[4:-1]
    flipped = token[:20] + ("A" if token[20] != "A" else "B") + token[21:]
    for bad, wrong in ((text, other), ("v2:{" + flipped + "}", ring), ("v2:{garbage}", ring)):
        with pytest.raises(KeyRingError) as info:
            wrong.decrypt(bad)
        message = str(info.value)
        assert "\n" not in message and bad not in message and "wrong key" in message


def test_sanitize_masks_plain_and_url_encoded_forms(key_path: Path) -> None:
    ring = KeyRing.load(key_path)
    one, two = ring.encrypt("a"), ring.encrypt("b")
    line = f"password={one} other={two} url=https://x/?p={quote(one, safe='')}&q=1"
    masked = sanitize_text(line)
    assert masked == f"password={MASK} other={MASK} url=https://x/?p={MASK}&q=1"
    assert KeyRing.sanitize("nothing here") == "nothing here"


def test_default_key_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("MIQSPEC_KEY_FILE", "MIQSPEC_HOME", "XDG_DATA_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_key_path() == tmp_path / ".local" / "share" / "miqspec" / "v2_key"
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_key_path() == tmp_path / "xdg" / "miqspec" / "v2_key"
    monkeypatch.setenv("MIQSPEC_HOME", str(tmp_path / "mh"))
    assert default_key_path() == tmp_path / "mh" / "v2_key"
    monkeypatch.setenv("MIQSPEC_KEY_FILE", str(tmp_path / "k"))
    assert KeyRing.load().path == tmp_path / "k"
    assert mode_of(tmp_path / "k") == 0o600


def test_read_secret_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MIQSPEC_TEST_SECRET", SECRET + "\n")
    assert read_secret("MIQSPEC_TEST_SECRET", None, None) == SECRET + "\n"
    monkeypatch.delenv("MIQSPEC_TEST_SECRET")
    with pytest.raises(UsageError, match="MIQSPEC_TEST_SECRET is not set"):
        read_secret("MIQSPEC_TEST_SECRET", None, lambda: "unused")


def test_read_secret_from_file(tmp_path: Path) -> None:
    path = tmp_path / "pw"
    for content in (SECRET, SECRET + "\n", SECRET + "\r\n"):
        path.write_bytes(content.encode())
        assert read_secret(None, str(path), None) == SECRET
    path.write_text(SECRET + "\n\n", encoding="utf-8")
    assert read_secret(None, str(path), None) == SECRET + "\n"  # only one newline goes
    path.write_text("\n", encoding="utf-8")
    with pytest.raises(UsageError, match="is empty"):
        read_secret(None, str(path), None)
    with pytest.raises(UsageError, match="cannot read secret file"):
        read_secret(None, str(tmp_path / "missing"), None)


def test_read_secret_prompt_and_usage_errors(tmp_path: Path) -> None:
    assert read_secret(None, None, lambda: SECRET) == SECRET
    with pytest.raises(UsageError, match="no secret given") as info:
        read_secret(None, None, None)
    assert info.value.exit_code == 2
    with pytest.raises(UsageError, match="not both"):
        read_secret("X", str(tmp_path / "pw"), None)


def test_unreadable_key_file(tmp_path: Path) -> None:
    with pytest.raises(KeyRingError, match=r"cannot read key file .*: Is a directory"):
        KeyRing.load(tmp_path)
    (tmp_path / "empty").touch(mode=0o600)
    with pytest.raises(KeyRingError, match="holds no keys"):
        KeyRing.load(tmp_path / "empty")


def test_decrypt_values_decrypts_encrypted_strings_of_nested_mappings(key_path: Path) -> None:
    ring = KeyRing.load(key_path)
    encrypted = ring.encrypt(SECRET)
    args = {"authentications": {"default": {"password": encrypted, "userid": "u"}}, "zone_id": 1}
    args["list"] = [encrypted]  # only mappings are walked, as ManageIQ's hash nests them
    assert decrypt_values(args, lambda: ring) == {
        "authentications": {"default": {"password": SECRET, "userid": "u"}},
        "zone_id": 1,
        "list": [encrypted],
    }
    assert encrypted in str(args)  # the input is left as it was

    def no_ring() -> KeyRing:
        raise AssertionError("the key ring is loaded only for an encrypted value")

    assert decrypt_values({"a": {"b": "plain"}}, no_ring) == {"a": {"b": "plain"}}
