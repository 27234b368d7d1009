"""The refresh worker: providers refreshed when their interval has passed, 0 turns it off."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import sqlalchemy as sa

from miqspec.simulator import Simulator
from miqspec.spec.load import load_spec
from miqspec.store.providers import ProviderStore
from miqspec.workers.schedule import due, run_worker

from ..conftest import AWESOME, sim_args


def test_due():
    at = datetime(2026, 1, 1, 12, 0, 0)
    assert due(None, 900, at)
    assert not due(at - timedelta(minutes=10), 900, at)
    assert due(at - timedelta(minutes=15), 900, at)
    assert not due(None, 0, at)


def test_worker_refreshes_due_providers_once(engine, keyring, tmp_path):
    lines: list[str] = []
    with Simulator(instances=5, flavors=2, images=2) as sim:
        spec = load_spec(str(AWESOME))
        args = sim_args(sim)
        store = ProviderStore(engine)
        store.add(spec, "w1", args, keyring)
        off = AWESOME.read_text().replace("refresh_interval: 15m", "refresh_interval: 0")
        off_path = tmp_path / "awesome_off.yaml"
        off_path.write_text(off)
        store.add(load_spec(str(off_path)), "w2", args, keyring)
        run_worker(engine, keyring, stop=threading.Event(), log=lines.append, once=True)
        assert any(line.startswith("w1: refreshed") for line in lines), lines
        assert not any(line.startswith("w2") for line in lines), lines
        with engine.connect() as conn:
            counts = dict(
                conn.execute(
                    sa.text(
                        "select e.name, count(v.id) from ext_management_systems e "
                        "left join vms v on v.ems_id = e.id where e.parent_ems_id is null "
                        "group by e.name"
                    )
                ).all()
            )
        assert counts == {"w1": 5 + 2, "w2": 0}
        lines.clear()
        run_worker(engine, keyring, stop=threading.Event(), log=lines.append, once=True)
        assert not any("refreshed" in line for line in lines), lines  # not due yet
