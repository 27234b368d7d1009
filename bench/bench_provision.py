"""Provisioning N VMs with one request (``--count N --wait``) on the simulator (bench/README.md).

Starts the bundled simulator in this process with ``--delay`` seconds of asynchronous
creation per VM (``operation_delay``: each new instance is ``creating`` that long, then
``running``), adds an Awesome Cloud provider on a fresh database (SQLite file, or PostgreSQL
with ``--pg``), refreshes it, then runs ``miqspec.api.provision(count=N, wait=True)``:
every create request, every wait (polled until the instance runs), the targeted refresh of
the new VMs, the tasks linked to their rows. Checks that the request finished Ok with N VMs in
the inventory, and prints the wall time, the simulator's own delay (``--delay``: the VMs are
made side by side, so it counts once) and the time beyond it, split into creates, waits
(what the polling adds past the delay: its interval rounds the delay up) and the refresh.

Usage: python bench/bench_provision.py [--count 100] [--delay 2] [--pg] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from miqspec import api
from miqspec.simulator import Simulator

REPO = Path(__file__).resolve().parents[1]
AWESOME = REPO / "provider_specs" / "awesome_cloud.yaml"
PG_ADMIN = os.environ.get("MIQSPEC_BENCH_PG", "postgresql+psycopg2://postgres@127.0.0.1:5432/test")


def database(pg: bool, tmp: Path) -> tuple[str, Any]:
    """A fresh database URL and its clean-up."""
    if not pg:
        return f"sqlite:///{tmp / 'bench.db'}", lambda: None
    name = f"miqspec_bench_prov_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()

    return PG_ADMIN.rsplit("/", 1)[0] + "/" + name, drop


def one_run(count: int, delay: float, pg: bool) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        os.environ["MIQSPEC_KEY_FILE"] = str(tmp / "v2_key")
        url, drop = database(pg, tmp)
        try:
            with (
                Simulator(instances=20, flavors=4, images=4, operation_delay=delay) as sim,
                api.open_database(url) as db,
            ):
                args = {
                    "provider_region": "us-east-1",
                    "endpoints": {"default": {"url": sim.url}},
                    "authentications": {
                        "default": {
                            "userid": sim.options.access_key,
                            "password": sim.options.secret_key,
                        }
                    },
                }
                api.add_provider(db, api.load_spec(str(AWESOME)), "bench", args)
                assert api.refresh(db, "bench").ok
                values = {
                    "vm_name": "bench",
                    "template": sim.data.images[0]["id"],
                    "flavor": sim.data.flavors[0]["id"],
                }
                started = time.perf_counter()
                out = api.provision(db, "bench", values, count=count, wait=True)
                wall = time.perf_counter() - started
                vms = [
                    r
                    for r in api.object_list(db, "bench").rows
                    if str(r["name"]).startswith("bench_")
                ]
                stats = sim.stats()
        finally:
            drop()
    assert out.request["status"] == "Ok", out.request
    assert len(vms) == count and all(t.row_id for t in out.tasks), (len(vms), out.failed[:3])
    polls = sum(n for path, n in stats.items() if path.startswith("/v1/instances/"))
    seconds = out.seconds
    return {
        "count": count,
        "backend": "postgresql" if pg else "sqlite",
        "delay_s": delay,
        "wall_s": round(wall, 3),
        "beyond_delay_s": round(wall - delay, 3),
        "create_s": round(seconds.get("create", 0.0), 3),
        "wait_s": round(seconds.get("tasks", 0.0) - seconds.get("create", 0.0), 3),
        "refresh_s": round(seconds.get("refresh", 0.0), 3),
        "polls": polls,
        "vms_in_inventory": len(vms),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--delay", type=float, default=2.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--pg", action="store_true", help="PostgreSQL at MIQSPEC_BENCH_PG")
    opts = parser.parse_args()
    runs = [one_run(opts.count, opts.delay, opts.pg) for _ in range(opts.repeat)]
    for run in runs:
        print(json.dumps(run))
    beyond = [r["beyond_delay_s"] for r in runs]
    print(
        f"provisioned {opts.count} VMs ({runs[0]['backend']}), simulator delay {opts.delay:g} s: "
        f"wall median {statistics.median(r['wall_s'] for r in runs):.2f} s, beyond the delay "
        f"median {statistics.median(beyond):.2f} s (min {min(beyond):.2f}, max {max(beyond):.2f})"
    )


if __name__ == "__main__":
    main()
