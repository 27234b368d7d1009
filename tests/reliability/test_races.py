"""Delete and refresh of one provider, at the same time, leave no row of a deleted provider.

`provider delete` takes the provider's refresh lock: during a real `miqspec refresh` process it
waits (`--wait`) and then deletes everything the refresh saved, or gives up with exit 8 having
deleted nothing. A refresh whose provider disappears under it anyway (deleted by a tool that
takes no lock) saves nothing: it checks before its commit. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from miqspec import api
from miqspec.simulator import Simulator
from miqspec.store.refresh_lock import RefreshLock

from .test_locks import (
    NAME,
    Refresh,
    add_provider,
    assert_complete,
    cli_env,
    no_refresh_left,  # noqa: F401 - the autouse fixture, here too
    open_db,
    run_cli,
    wait_until,
)


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(instances=3000, flavors=10, images=20, page_size=500) as s:
        yield s


def rows_of(engine: sa.Engine, ids: list[int]) -> dict[str, int]:
    """Rows in any table that name one of the manager rows ``ids`` as their owner."""
    found = {}
    inspector = sa.inspect(engine)
    with engine.connect() as conn:
        for table in inspector.get_table_names():
            columns = {c["name"] for c in inspector.get_columns(table)}
            for column in ("ems_id", "manager_id", "parent_ems_id", "id"):
                if column not in columns:
                    continue
                if column == "id" and table != "ext_management_systems":
                    continue
                query = sa.text(
                    f'SELECT count(*) FROM "{table}" WHERE "{column}" IN '
                    f"({', '.join(str(i) for i in ids)})"
                )
                count = conn.execute(query).scalar()
                if count:
                    found[f"{table}.{column}"] = int(count)
    return found


def manager_ids(engine: sa.Engine, ems_id: int) -> list[int]:
    with engine.connect() as conn:
        kids = conn.execute(
            sa.text("SELECT id FROM ext_management_systems WHERE parent_ems_id = :i"), {"i": ems_id}
        ).scalars()
        return [ems_id, *kids]


def test_delete_waits_for_a_running_refresh_or_gives_up(
    db_url: str, tmp_path: Path, sim: Simulator
) -> None:
    env = cli_env(tmp_path)
    with open_db(db_url, tmp_path) as db:
        ems_id = add_provider(db, sim)
        ids = manager_ids(db.engine, ems_id)
        sim.set_faults(latency_ms=10000, path="/instances")  # held in collect while it tries
        refresh = Refresh(env, db_url)
        wait_until(lambda: sim.stats().get("/v1/instances", 0) >= 1, what="collecting")
        quick = run_cli(
            env, "provider", "delete", NAME, "--yes", "--wait", "0.5", "--database", db_url
        )
        assert quick.returncode == 8, quick.stderr
        assert quick.stderr.count("\n") == 1 and "waited 0.5s" in quick.stderr
        assert "deleted nothing" in quick.stderr
        assert api.provider_names(db) == [NAME] and refresh.proc.poll() is None
        sim.set_faults()  # the page in flight still takes its 10 s, the others none
        patient = run_cli(
            env, "provider", "delete", NAME, "--yes", "--wait", "120", "--database", db_url
        )
        assert patient.returncode == 0, patient.stderr
        assert refresh.finish() == 0, refresh.err  # it finished first: the delete waited
        assert "Refresh of p: ok" in refresh.out
        assert api.provider_names(db) == []
        assert rows_of(db.engine, ids) == {}


def test_a_refresh_whose_provider_is_deleted_under_it_saves_nothing(
    db_url: str, tmp_path: Path, sim: Simulator
) -> None:
    with open_db(db_url, tmp_path) as db:
        ems_id = add_provider(db, sim)
        ids = manager_ids(db.engine, ems_id)
        sim.set_faults(latency_ms=300, path="/instances")
        results: list[Any] = []
        worker = threading.Thread(target=lambda: results.append(api.refresh(db, NAME)))
        worker.start()
        wait_until(lambda: sim.stats().get("/v1/instances", 0) >= 1, what="collecting")
        with db.engine.begin() as conn:  # a tool that takes no lock: the rows go at once
            conn.execute(
                sa.text(
                    f"DELETE FROM ext_management_systems WHERE id IN ({', '.join(map(str, ids))})"
                )
            )
        worker.join(120)
        (result,) = results
        assert not result.ok and result.exit_code == 10, result.error
        assert "was deleted during the refresh; nothing was saved" in result.error
        assert rows_of(db.engine, ids) == {}


def test_a_refresh_cannot_start_while_a_delete_holds_the_lock(
    db_url: str, tmp_path: Path, sim: Simulator
) -> None:
    env = cli_env(tmp_path)
    with open_db(db_url, tmp_path) as db:
        ems_id = add_provider(db, sim)
        assert api.refresh(db, NAME).ok
        with RefreshLock(db.engine, ems_id, NAME, purpose="delete"):
            busy = run_cli(env, "refresh", NAME, "--database", db_url)
            assert busy.returncode == 8 and "being refreshed by process" in busy.stderr
        assert_complete(db, sim)
        ids = manager_ids(db.engine, ems_id)
        assert api.delete_provider(db, NAME, wait=5) == len(ids)
        assert rows_of(db.engine, ids) == {}


def test_concurrent_refreshes_and_deletes_of_many_providers(
    pg_url: str, tmp_path: Path, sim: Simulator
) -> None:
    """PostgreSQL, where nothing serialises writers: refresh processes and delete processes of
    four providers started together; every provider is either gone without a trace or
    complete."""
    env = cli_env(tmp_path)
    names = [f"race{i}" for i in range(4)]
    with open_db(pg_url, tmp_path) as db:
        ids = {n: manager_ids(db.engine, add_provider(db, sim, n)) for n in names}
        sim.set_faults(latency_ms=1000, path="/instances")
        refreshes = [Refresh(env, pg_url, n) for n in names]
        wait_until(lambda: all(r.phase("collect") for r in refreshes), what="all collecting")
        deletes = [
            run_cli(env, "provider", "delete", n, "--yes", "--wait", "120", "--database", pg_url)
            for n in names[:2]
        ]
        assert [d.returncode for d in deletes] == [0, 0], [d.stderr for d in deletes]
        assert [r.finish() for r in refreshes] == [0, 0, 0, 0], [r.err for r in refreshes]
        for name in names[:2]:
            assert rows_of(db.engine, ids[name]) == {}
        for name in names[2:]:
            assert_complete(db, sim, name)
