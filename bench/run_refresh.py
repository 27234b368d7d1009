"""One measured miqspec refresh in its own process (driven by bench_refresh.py).

Usage: python bench/run_refresh.py (full|again) DATABASE_URL SIMULATOR_URL KEYFILE
``full`` adds the provider to an empty database first (not timed); ``again`` refreshes the
provider already there. Prints one JSON line: wall time of the refresh, rows written, phases.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from miqspec.pipeline import refresh_provider
from miqspec.spec.load import load_spec
from miqspec.store.credentials import KeyRing
from miqspec.store.database import open_database, upgrade
from miqspec.store.providers import ProviderStore

SPEC = Path(__file__).resolve().parents[1] / "provider_specs" / "awesome_cloud.yaml"


def main(mode: str, db_url: str, sim_url: str, keyfile: str) -> dict:
    engine = open_database(db_url)
    upgrade(engine)
    ring = KeyRing.load(keyfile)
    if mode == "full":
        args = {
            "provider_region": "us-east-1",
            "endpoints": {"default": {"url": sim_url}},
            "authentications": {"default": {"userid": "AKIA-SIM", "password": "sim-secret"}},
        }
        ProviderStore(engine).add(load_spec(str(SPEC)), "bench", args, ring)
    started = time.perf_counter()
    result = refresh_provider(engine, "bench", ring)
    wall = time.perf_counter() - started
    if not result.ok:
        raise SystemExit(f"refresh failed: {result.error}")
    report = result.report
    assert report is not None
    per = {
        name: {
            k: getattr(c, k) for k in ("created", "updated", "deleted", "disconnected", "unchanged")
        }
        for name, c in report.collections.items()
    }
    return {
        "total": wall,
        "rows_written": report.rows_written,
        "digests_written": report.digests_written,
        "phases": result.phases,
        "persist_timings": report.timings,
        "collections": per,
    }


if __name__ == "__main__":
    print(json.dumps(main(*sys.argv[1:5])))
