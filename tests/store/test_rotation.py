"""Key rotation: rotations in separate processes serialize on the key file lock, so no key is
lost and every stored secret decrypts with the final key file (real SQLite, real processes)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from miqspec.spec.load import load_spec
from miqspec.store.credentials import KeyFileBusyError, KeyRing, KeyRingError, key_file_lock
from miqspec.store.database import open_database, upgrade
from miqspec.store.provider_credentials import ENCRYPTED
from miqspec.store.providers import ProviderStore
from miqspec.store.rotation import rotate_credentials

from ..conftest import AWESOME

ROTATE = """
import sys, time
from pathlib import Path
from miqspec.store.database import open_database
from miqspec.store.rotation import rotate_credentials
url, go, times = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
engine = open_database(url)
while not go.exists():
    time.sleep(0.001)
for _ in range(times):
    rotate_credentials(engine)
"""


@pytest.fixture
def home() -> Path:
    """``MIQSPEC_HOME`` (a fresh directory per test, set by conftest)."""
    path = Path(os.environ["MIQSPEC_HOME"])
    path.mkdir(parents=True, exist_ok=True)
    return path


def add_providers(url: str, key_file: Path, count: int) -> dict[str, str]:
    """``count`` providers with an encrypted password each; their plain passwords by name."""
    engine = open_database(url)
    upgrade(engine)
    ring = KeyRing.load(key_file)
    spec = load_spec(str(AWESOME))
    plain = {}
    for i in range(count):
        name = f"p{i}"
        plain[name] = f"secret-{i}-{os.urandom(4).hex()}"
        args = {
            "provider_region": "us-east-1",
            "endpoints": {"default": {"url": "http://127.0.0.1:9"}},
            "authentications": {"default": {"userid": "u", "password": plain[name]}},
        }
        ProviderStore(engine).add(spec, name, args, ring)
    engine.dispose()
    return plain


def stored_secrets(url: str) -> list[tuple[int, str, str]]:
    """Every encrypted value in ``authentications``: (row id, column, value)."""
    engine = open_database(url)
    auths = ProviderStore(engine).auths
    with engine.connect() as conn:
        rows = conn.execute(sa.select(auths)).mappings().all()
    engine.dispose()
    return [(r["id"], c, r[c]) for r in rows for c in sorted(ENCRYPTED) if r[c]]


def test_concurrent_rotations_in_separate_processes_lose_no_key(home: Path) -> None:
    url = f"sqlite:///{home / 'miqspec.db'}"
    key_file = home / "v2_key"
    plain = add_providers(url, key_file, 3)
    before = stored_secrets(url)
    go = home / "go"
    times = 4
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", ROTATE, url, str(go), str(times)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    time.sleep(1.0)  # both have imported and opened the database
    go.touch()
    results = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], results

    final = KeyRing.load(key_file, create=False)
    assert len(final.keys) == 1 + 2 * times  # every rotation's key is in the file
    after = stored_secrets(url)
    assert [(i, c) for i, c, _ in after] == [(i, c) for i, c, _ in before]
    assert all(old != new for (_, _, old), (_, _, new) in zip(before, after, strict=True))
    engine = open_database(url)
    store = ProviderStore(engine)
    for name, password in plain.items():
        args = store.args(store.row(name), final)
        assert args["authentications"]["default"]["password"] == password
    engine.dispose()
    # the newest key alone decrypts them: the last rotation re-encrypted everything
    newest = KeyRing(final.keys[:1])
    assert sorted(newest.decrypt(v) for _, _, v in after) == sorted(plain.values())
    lock = home / "v2_key.lock"
    assert stat.S_IMODE(lock.stat().st_mode) == 0o600


def test_a_rotation_waiting_too_long_gives_up_with_one_line(home: Path) -> None:
    url = f"sqlite:///{home / 'miqspec.db'}"
    key_file = home / "v2_key"
    add_providers(url, key_file, 1)
    keys_before, secrets_before = KeyRing.load(key_file).keys, stored_secrets(url)
    engine = open_database(url)
    started = time.monotonic()
    with key_file_lock(key_file), pytest.raises(KeyFileBusyError) as info:
        rotate_credentials(engine, lock_timeout=0.3)
    waited = time.monotonic() - started
    engine.dispose()
    assert waited >= 0.3
    message = str(info.value)
    assert "\n" not in message and "v2_key.lock" in message and "0.3s" in message
    assert isinstance(info.value, KeyRingError)
    assert info.value.exit_code == KeyRingError.exit_code
    assert KeyRing.load(key_file).keys == keys_before  # nothing was rotated
    assert stored_secrets(url) == secrets_before
    # the lock is free again once its holder is done
    engine = open_database(url)
    assert rotate_credentials(engine, lock_timeout=0.3) == len(secrets_before)
    engine.dispose()
