"""Locks die with their holders: a real `miqspec refresh` killed at several points, on SQLite and
PostgreSQL, is followed at once by a refresh that succeeds with the inventory complete.

The refresh runs as a subprocess against the bundled simulator (served from this process,
slowed with its latency fault while it collects). It is killed with SIGKILL while it collects,
as soon as its inventory transaction has written (SQLite: it holds the write lock; PostgreSQL:
its transaction has an id) and a moment later, and with SIGTERM, which unwinds like Ctrl+C
(exit 143, lock released, nothing saved, `last_refresh_error` "interrupted"). Lock rows left by
dead processes, by other hosts and by this very process, advisory locks held by another
session, `provider unlock` and a refresh that loses its lock are tried too.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from miqspec import api
from miqspec.simulator import Simulator
from miqspec.store import now
from miqspec.store.lock_holder import this_host
from miqspec.store.lock_pg import APP_PREFIX, lock_key
from miqspec.store.lock_row import STALE_AFTER
from miqspec.store.refresh_lock import RefreshLock, lock_holder

from ..conftest import sim_args

MIQSPEC = str(Path(sys.executable).with_name("miqspec"))
NAME = "p"
INSTANCES = 20000  # enough for a persist that takes a while


def wait_until(check: Callable[[], Any], timeout: float = 60.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what or check}")


def cli_env(tmp_path: Path) -> dict[str, str]:
    """The environment of a `miqspec` subprocess: this test's home and key file."""
    return {**os.environ, "MIQSPEC_KEY_FILE": str(tmp_path / "key" / "v2_key")}


def run_cli(
    env: dict[str, str], *args: str, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [MIQSPEC, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr, done.stderr
    return done


def open_db(db_url: str, tmp_path: Path) -> api.Database:
    return api.open_database(db_url, key_file=tmp_path / "key" / "v2_key")


def add_provider(db: api.Database, sim: Simulator, name: str = NAME) -> int:
    return api.add_provider(db, api.load_spec("awesome_cloud"), name, sim_args(sim)).id


def expected_counts(sim: Simulator) -> dict[str, int]:
    data = sim.data
    return {
        "vms": len(data.instances),
        "flavors": len(data.flavors),
        "miq_templates": len(data.images),
        "availability_zones": len(data.availability_zones),
    }


def assert_complete(db: api.Database, sim: Simulator, name: str = NAME) -> None:
    counts = api.inventory_counts(db, name)
    assert {k: counts[k] for k in expected_counts(sim)} == expected_counts(sim)


class Refresh:
    """A `miqspec refresh` subprocess; the phases it reports on stderr are collected."""

    def __init__(self, env: dict[str, str], db_url: str, name: str = NAME) -> None:
        self.name = name
        self.proc = subprocess.Popen(
            [MIQSPEC, "refresh", name, "--database", db_url],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self.out = ""
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        _STARTED.append(self)

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line.rstrip("\n"))

    def phase(self, phase: str) -> bool:
        return f"{self.name}: {phase}" in self.lines

    def finish(self, timeout: float = 180) -> int:
        code = self.proc.wait(timeout)
        self._reader.join(10)
        assert self.proc.stdout is not None and self.proc.stderr is not None
        if not self.proc.stdout.closed:
            self.out = self.proc.stdout.read()
        self.proc.stdout.close()
        self.proc.stderr.close()
        return code

    def close(self) -> None:
        """Kill it if it still runs (a test that failed half-way) and close its pipes."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.finish()

    @property
    def err(self) -> str:
        return "\n".join(self.lines)


_STARTED: list[Refresh] = []


@pytest.fixture(autouse=True)
def no_refresh_left() -> Iterator[None]:
    """Every refresh process a test started is gone when it ends, however it ended."""
    yield
    while _STARTED:
        _STARTED.pop().close()


def sqlite_file(db_url: str) -> str | None:
    return db_url.removeprefix("sqlite:///") if db_url.startswith("sqlite") else None


def writing(db_url: str, engine: sa.Engine) -> bool:
    """True while another connection's transaction has written to the database."""
    path = sqlite_file(db_url)
    if path is not None:
        probe = sqlite3.connect(path, timeout=0)
        try:
            probe.execute("BEGIN IMMEDIATE")
            probe.rollback()
            return False
        except sqlite3.OperationalError:
            return True
        finally:
            probe.close()
    with engine.connect() as conn:
        found = conn.execute(
            sa.text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid() AND backend_xid IS NOT NULL"
            )
        ).scalar()
    return bool(found)


@pytest.fixture
def big_sim() -> Iterator[Simulator]:
    with Simulator(instances=INSTANCES, flavors=20, images=50, page_size=1000) as s:
        yield s


def kill_at(point: str, refresh: Refresh, sim: Simulator, db_url: str, db: api.Database) -> None:
    """Wait for ``point`` of the refresh, then return (the caller sends the signal)."""
    if point == "collect":
        wait_until(lambda: sim.stats().get("/v1/instances", 0) >= 2, what="collecting")
    else:
        wait_until(lambda: refresh.phase("persist"), what="the persist phase")
        wait_until(lambda: writing(db_url, db.engine), what="the inventory transaction")
        if point == "persist-late":
            time.sleep(0.2)


@pytest.mark.parametrize(
    ("sig", "point"),
    [
        (signal.SIGKILL, "collect"),
        (signal.SIGKILL, "persist"),
        (signal.SIGKILL, "persist-late"),
        (signal.SIGTERM, "collect"),
        (signal.SIGTERM, "persist"),
    ],
)
def test_killed_refresh_leaves_no_lock(
    db_url: str, tmp_path: Path, big_sim: Simulator, sig: int, point: str
) -> None:
    env = cli_env(tmp_path)
    with open_db(db_url, tmp_path) as db:
        ems_id = add_provider(db, big_sim)
        if point == "collect":
            big_sim.set_faults(latency_ms=300, path="/instances")
        refresh = Refresh(env, db_url)
        kill_at(point, refresh, big_sim, db_url, db)
        refresh.proc.send_signal(sig)
        code = refresh.finish()
        big_sim.set_faults()
        assert api.inventory_counts(db, NAME)["vms"] == 0  # killed before its commit
        if sig == signal.SIGTERM:
            assert code == 143, refresh.err
            assert "miqspec: terminated (SIGTERM)" in refresh.err
            assert lock_holder(db.engine, ems_id) is None  # released, not merely abandoned
            error = api.provider_info(db, NAME).last_refresh_error or ""
            # psycopg2 turns an exception raised inside its COPY into a database error that
            # names it; the command exits 143 all the same
            assert error == "interrupted (SIGTERM)" or "Terminated: SIGTERM" in error, error
        else:
            assert code == -signal.SIGKILL
        again = run_cli(env, "refresh", NAME, "--database", db_url, "--quiet")
        assert again.returncode == 0, again.stderr
        assert_complete(db, big_sim)
        assert lock_holder(db.engine, ems_id) is None
        assert api.provider_info(db, NAME).last_refresh_error is None


# -- lock rows and sessions left behind -------------------------------------------------------


def lock_row(engine: sa.Engine, ems_id: int, holder: str, age_s: float = 0.0) -> None:
    """A lock row as another process (or an earlier version) leaves it."""
    stamp = now() - timedelta(seconds=age_s)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO miqspec_refresh_locks (ems_id, holder, acquired_at, heartbeat_at) "
                "VALUES (:e, :h, :t, :t)"
            ),
            {"e": ems_id, "h": holder, "t": stamp},
        )


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(instances=30, flavors=3, images=4) as s:
        yield s


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_lock_rows_of_dead_processes_and_stale_heartbeats_are_taken_over(
    tmp_path: Path, sim: Simulator
) -> None:
    with open_db(f"sqlite:///{tmp_path / 'x.db'}", tmp_path) as db:
        ems_id = add_provider(db, sim)
        cases = [
            (f"{this_host()}:{dead_pid()}:0a0b", 0.0),  # its process is gone
            (f"{this_host()}:{dead_pid()}", 0.0),  # a row of an earlier version
            (f"{this_host()}:{os.getpid()}:beef", 0.0),  # this process, not a lock it holds
            ("elsewhere.example:4242:0c0d", STALE_AFTER.total_seconds() + 5),  # no heartbeat
        ]
        for holder, age in cases:
            lock_row(db.engine, ems_id, holder, age)
            result = api.refresh(db, NAME)
            assert result.ok, (holder, result.error)
            assert lock_holder(db.engine, ems_id) is None
        assert_complete(db, sim)


def test_live_holders_keep_their_lock_until_unlocked(tmp_path: Path, sim: Simulator) -> None:
    db_url = f"sqlite:///{tmp_path / 'x.db'}"
    env = cli_env(tmp_path)
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        with open_db(db_url, tmp_path) as db:
            ems_id = add_provider(db, sim)
            lock_row(db.engine, ems_id, f"{this_host()}:{sleeper.pid}:1234")
            busy = run_cli(env, "refresh", NAME, "--database", db_url)
            assert busy.returncode == 8
            assert f"process {sleeper.pid} on {this_host()}" in busy.stderr
            assert f"miqspec provider unlock {NAME}" in busy.stderr
            refused = run_cli(env, "provider", "unlock", NAME, "--database", db_url)
            assert refused.returncode == 8 and "--force" in refused.stderr
            forced = run_cli(env, "provider", "unlock", NAME, "--force", "--database", db_url)
            assert forced.returncode == 0 and str(sleeper.pid) in forced.stdout
            none = run_cli(env, "provider", "unlock", NAME, "--database", db_url)
            assert none.returncode == 0 and "was not locked" in none.stdout
            # a holder on another host with a fresh heartbeat: busy, and unlock removes it
            lock_row(db.engine, ems_id, "elsewhere.example:77:0e0f")
            busy = run_cli(env, "refresh", NAME, "--database", db_url)
            assert busy.returncode == 8 and "process 77 on elsewhere.example" in busy.stderr
            assert run_cli(env, "provider", "unlock", NAME, "--database", db_url).returncode == 0
            assert run_cli(env, "refresh", NAME, "--database", db_url).returncode == 0
            assert_complete(db, sim)
    finally:
        sleeper.kill()
        sleeper.wait()


def test_postgresql_lock_is_the_session_and_unlock_ends_it(
    pg_url: str, tmp_path: Path, sim: Simulator
) -> None:
    env = cli_env(tmp_path)
    with open_db(pg_url, tmp_path) as db:
        ems_id = add_provider(db, sim)
        lock_row(db.engine, ems_id, f"{this_host()}:{os.getpid()}:1111")  # ignored here
        other = sa.create_engine(pg_url)
        try:
            with other.connect() as conn:
                app = f"{APP_PREFIX} 4242 {int(time.time())} elsewhere.example"
                conn.execute(
                    sa.text("SELECT set_config('application_name', :a, false)"), {"a": app}
                )
                conn.execute(sa.text("SELECT pg_advisory_lock(:k)"), {"k": lock_key(ems_id)})
                conn.commit()
                busy = run_cli(env, "refresh", NAME, "--database", pg_url)
                assert busy.returncode == 8
                assert "process 4242 on elsewhere.example" in busy.stderr
                gone = run_cli(env, "provider", "unlock", NAME, "--database", pg_url)
                assert gone.returncode == 0 and "process 4242" in gone.stdout, gone.stderr
                with pytest.raises(sa.exc.DBAPIError):  # its session was ended
                    conn.execute(sa.text("SELECT 1"))
        finally:
            other.dispose()
        done = run_cli(env, "refresh", NAME, "--database", pg_url, "--quiet")
        assert done.returncode == 0, done.stderr
        assert_complete(db, sim)


def test_a_refresh_that_loses_its_lock_saves_nothing(
    db_url: str, tmp_path: Path, sim: Simulator
) -> None:
    with open_db(db_url, tmp_path) as db:
        ems_id = add_provider(db, sim)
        sim.set_faults(latency_ms=400, path="/instances")
        results: list[Any] = []
        worker = threading.Thread(target=lambda: results.append(api.refresh(db, NAME)))
        worker.start()
        wait_until(lambda: sim.stats().get("/v1/instances", 0) >= 1, what="collecting")
        assert lock_holder(db.engine, ems_id) is not None
        held_by = api.unlock_provider(db, NAME, force=True)  # this very process holds it
        assert held_by is not None and str(os.getpid()) in held_by
        worker.join(60)
        (result,) = results
        assert not result.ok and result.exit_code == 8
        assert "lost its lock" in result.error
        assert api.inventory_counts(db, NAME)["vms"] == 0
        assert api.provider_info(db, NAME).last_refresh_error == result.error
        sim.set_faults()
        assert api.refresh(db, NAME).ok
        assert_complete(db, sim)


def test_heartbeat_keeps_a_long_refresh_alive(tmp_path: Path, sim: Simulator) -> None:
    with open_db(f"sqlite:///{tmp_path / 'x.db'}", tmp_path) as db:
        ems_id = add_provider(db, sim)
        lock = RefreshLock(db.engine, ems_id, NAME)
        lock.impl.heartbeat_s = 0.05  # type: ignore[union-attr]
        with lock:
            first = lock_holder(db.engine, ems_id)
            assert first is not None and first.heartbeat is not None
            wait_until(
                lambda: (h := lock_holder(db.engine, ems_id)) and h.heartbeat > first.heartbeat,
                timeout=10,
                what="a heartbeat",
            )
            with pytest.raises(api.RefreshBusyError, match="being refreshed by process"):
                api.refresh(db, NAME)
        assert lock_holder(db.engine, ems_id) is None
