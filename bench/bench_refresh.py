"""Refresh at scale, against the floor, in one run (see bench/README.md).

Starts the bundled simulator (N instances, 1,000 instance types, 10,000 images, page size
1,000) and measures, alternating A/B for --repeat rounds, median wall time and peak RSS of:
the floor (bench/floor.py), a full miqspec refresh into a fresh database, a no-op refresh, and
a refresh after 1% of instances changed, 0.5% were removed and 0.5% added. Each measurement is
its own process (peak RSS from wait4). Prints ratios miqspec / floor and rows written, and
writes bench/results-<backend>-<n>.json.

Usage: python bench/bench_refresh.py [--sizes 10000,100000] [--repeat 3] [--postgres]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
PG_ADMIN = os.environ.get("MIQSPEC_BENCH_PG", "postgresql+psycopg2://postgres@127.0.0.1:5432/test")


def measure(cmd: list[str]) -> tuple[dict, float]:
    """Run ``cmd``; its JSON output and its peak RSS in MB."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    out = proc.stdout.read().decode() if proc.stdout else ""
    err = proc.stderr.read().decode() if proc.stderr else ""
    proc.wait()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{err[-2000:]}")
    return json.loads(out.strip().splitlines()[-1]), usage.ru_maxrss / 1024


class Databases:
    """Fresh databases per measurement (SQLite files or PostgreSQL databases)."""

    def __init__(self, postgres: bool, workdir: Path) -> None:
        self.postgres, self.workdir = postgres, workdir
        self.created: list[str] = []
        if postgres:
            import sqlalchemy as sa

            self.admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")

    def fresh(self, label: str) -> str:
        if not self.postgres:
            path = self.workdir / f"{label}-{uuid.uuid4().hex[:6]}.db"
            return f"sqlite:///{path}"
        import sqlalchemy as sa

        name = f"miqspec_bench_{uuid.uuid4().hex[:10]}"
        with self.admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        self.created.append(name)
        return PG_ADMIN.rsplit("/", 1)[0] + "/" + name

    def copy(self, url: str, label: str) -> str:
        if not self.postgres:
            src = Path(url.removeprefix("sqlite:///"))
            dst = self.workdir / f"{label}-{uuid.uuid4().hex[:6]}.db"
            shutil.copy(src, dst)
            return f"sqlite:///{dst}"
        import sqlalchemy as sa

        name = f"miqspec_bench_{uuid.uuid4().hex[:10]}"
        with self.admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}" TEMPLATE "{url.rsplit("/", 1)[1]}"'))
        self.created.append(name)
        return PG_ADMIN.rsplit("/", 1)[0] + "/" + name

    def close(self) -> None:
        if self.postgres:
            import sqlalchemy as sa

            with self.admin.connect() as conn:
                for name in self.created:
                    conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def run_size(n: int, repeat: int, postgres: bool) -> dict:
    from miqspec.simulator import Simulator

    py = sys.executable
    work = Path(tempfile.mkdtemp(prefix="miqspec-bench-"))
    dbs = Databases(postgres, work)
    key = str(work / "v2_key")
    samples: dict[str, list[tuple[float, float, dict]]] = {
        "floor": [],
        "full": [],
        "noop": [],
        "churn": [],
    }
    try:
        with Simulator(instances=n, flavors=1000, images=10_000, page_size=1000) as sim:
            for _ in range(repeat):
                out, rss = measure([py, str(HERE / "floor.py"), sim.url, dbs.fresh("floor")])
                samples["floor"].append((out["total"], rss, out))
                full_db = dbs.fresh("full")
                out, rss = measure(
                    [py, str(HERE / "run_refresh.py"), "full", full_db, sim.url, key]
                )
                samples["full"].append((out["total"], rss, out))
                noop_db = dbs.copy(full_db, "noop")
                out, rss = measure(
                    [py, str(HERE / "run_refresh.py"), "again", noop_db, sim.url, key]
                )
                samples["noop"].append((out["total"], rss, out))
                churn_db = dbs.copy(full_db, "churn")
                sim.mutate(change=n // 100, remove=n // 200, add=n // 200)
                out, rss = measure(
                    [py, str(HERE / "run_refresh.py"), "again", churn_db, sim.url, key]
                )
                samples["churn"].append((out["total"], rss, out))
                sim.reset()
    finally:
        dbs.close()
        shutil.rmtree(work, ignore_errors=True)
    summary: dict = {
        "instances": n,
        "backend": "postgresql" if postgres else "sqlite",
        "repeat": repeat,
    }
    for label, runs in samples.items():
        summary[label] = {
            "median_s": statistics.median(r[0] for r in runs),
            "median_rss_mb": statistics.median(r[1] for r in runs),
            "rows_written": runs[-1][2].get("rows_written", runs[-1][2].get("rows")),
            "last": runs[-1][2],
        }
    floor = summary["floor"]
    for label in ("full", "noop", "churn"):
        summary[label]["time_ratio"] = summary[label]["median_s"] / floor["median_s"]
        summary[label]["rss_ratio"] = summary[label]["median_rss_mb"] / floor["median_rss_mb"]
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    results = []
    for n in (int(s) for s in args.sizes.split(",")):
        s = run_size(n, args.repeat, args.postgres)
        results.append(s)
        print(f"\n{s['backend']}, {n} instances, {args.repeat} rounds (medians)")
        print(
            f"  floor  {s['floor']['median_s']:7.2f} s  {s['floor']['median_rss_mb']:6.0f} MB"
            f"  rows {s['floor']['rows_written']}"
        )
        for label in ("full", "noop", "churn"):
            r = s[label]
            print(
                f"  {label:5}  {r['median_s']:7.2f} s  {r['median_rss_mb']:6.0f} MB  "
                f"x{r['time_ratio']:.2f} time  x{r['rss_ratio']:.2f} RSS  "
                f"rows written {r['rows_written']}"
            )
        out = HERE / f"results-{s['backend']}-{n}.json"
        out.write_text(json.dumps(s, indent=2, default=str))
    if len(results) > 1:
        a, b = results[0], results[-1]
        scale = b["instances"] / a["instances"]
        print(
            f"\n{b['instances']}/{a['instances']} full-refresh time ratio: "
            f"{b['full']['median_s'] / a['full']['median_s']:.1f} (linear would be "
            f"{scale:.0f}; the floor's own: "
            f"{b['floor']['median_s'] / a['floor']['median_s']:.1f})"
        )


if __name__ == "__main__":
    main()
