"""Metrics capture at scale, against the floor, in one run (see bench/README.md).

Starts the bundled simulator in its own process with enough instances for about N running
VMs (the simulator keeps ~70 % running), adds an Awesome Cloud provider, refreshes it, then
alternates for --repeat rounds, each measurement its own process (peak RSS from wait4):

- capture: ``miqspec.api.capture_metrics`` (4 hours of 1-minute samples per VM, one request
  per VM, spread onto the 20-second grid: 720 realtime rows per VM, upserted; then the hourly
  and daily rollups and the purge), into emptied metrics tables;
- floor: the very rows that capture wrote, inserted again with SQLAlchemy Core ``executemany``
  in batches of 20,000 (a plain INSERT, no conversion, no HTTP), into the emptied table; only
  the inserts are timed (the rows are streamed from a copy table in between).

Prints wall time, rows/s and peak RSS of both, the ratio, the capture's phases, and the
database size per VM-day (realtime: bytes per row x 4,320 rows a day; rollups: 24 hourly and
one daily row); writes bench/results-metrics-<backend>-<n>.json.

Usage: python bench/bench_metrics.py [--vms 10000] [--repeat 2] [--sqlite]
(default PostgreSQL at MIQSPEC_BENCH_PG, postgresql+psycopg2://postgres@127.0.0.1:5432/test)
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PG_ADMIN = os.environ.get("MIQSPEC_BENCH_PG", "postgresql+psycopg2://postgres@127.0.0.1:5432/test")
NAME = "bench"
BATCH = 20_000
KEY = "bench-secret"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def measure(args: list[str]) -> tuple[dict[str, Any], float]:
    """Run this script with ``args`` in a child process: its JSON line and peak RSS in MB."""
    cmd = [sys.executable, str(Path(__file__).resolve()), *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    out = proc.stdout.read().decode() if proc.stdout else ""
    err = proc.stderr.read().decode() if proc.stderr else ""
    proc.wait()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{err[-3000:]}")
    return json.loads(out.strip().splitlines()[-1]), usage.ru_maxrss / 1024


# -- child phases -------------------------------------------------------------------------


def phase_capture(url: str, key_file: str) -> dict[str, Any]:
    from miqspec import api

    with api.open_database(url, key_file=key_file) as db:
        started = time.perf_counter()
        result = api.capture_metrics(db, NAME)
        took = time.perf_counter() - started
    return {
        "seconds": took,
        "rows": result.rows,
        "targets": result.targets,
        "captured": result.captured,
        "samples": result.samples,
        "hourly": result.hourly,
        "daily": result.daily,
        "failed": len(result.failed),
        "phases": result.phases,
    }


def phase_floor(url: str) -> dict[str, Any]:
    import sqlalchemy as sa

    from miqspec.metrics.tables import METRICS, ROW_COLUMNS

    engine = sa.create_engine(url)
    # the copy read with the metrics table's column types (SQLite's CREATE TABLE AS has none)
    copy = sa.table("bench_metrics_copy", *(sa.column(c, METRICS.c[c].type) for c in ROW_COLUMNS))
    columns = [copy.c[c] for c in ROW_COLUMNS]
    insert = METRICS.insert()
    seconds, rows = 0.0, 0
    with engine.connect() as reader:
        result = reader.execution_options(stream_results=True, yield_per=BATCH).execute(
            sa.select(*columns)
        )
        for part in result.mappings().partitions(BATCH):
            batch = [dict(r) for r in part]
            started = time.perf_counter()
            with engine.begin() as conn:
                conn.execute(insert, batch)
            seconds += time.perf_counter() - started
            rows += len(batch)
    engine.dispose()
    return {"seconds": seconds, "rows": rows}


# -- the run ------------------------------------------------------------------------------


class Run:
    def __init__(self, vms: int, sqlite: bool, workdir: Path) -> None:
        import sqlalchemy as sa

        self.sa = sa
        self.vms, self.sqlite, self.workdir = vms, sqlite, workdir
        self.key_file = str(workdir / "key")
        if sqlite:
            self.url = f"sqlite:///{workdir / 'metrics.db'}"
        else:
            self.db_name = f"miqspec_bench_{uuid.uuid4().hex[:10]}"
            self.admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
            with self.admin.connect() as conn:
                conn.execute(sa.text(f'CREATE DATABASE "{self.db_name}"'))
            self.url = PG_ADMIN.rsplit("/", 1)[0] + "/" + self.db_name
        self.engine = sa.create_engine(self.url)

    def start_simulator(self) -> subprocess.Popen[bytes]:
        instances = int(self.vms * 256 / 180) + 1  # ~180 of 256 instances run
        self.port = free_port()
        exe = Path(sys.executable).with_name("miqspec")
        proc = subprocess.Popen(
            [str(exe), "simulate", "awesome_cloud", "--instances", str(instances),
             "--flavors", "8", "--images", "4", "--page-size", "1000", "--port", str(self.port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/_sim/stats", timeout=2)
                return proc
            except OSError:
                time.sleep(0.2)
        proc.kill()
        raise SystemExit("the simulator did not start")

    def setup(self) -> float:
        from miqspec import api

        with api.open_database(self.url, key_file=self.key_file) as db:
            args = {
                "provider_region": "us-east-1",
                "endpoints": {"default": {"url": f"http://127.0.0.1:{self.port}/v1"}},
                "authentications": {"default": {"userid": "AKIA-SIM", "password": "sim-secret"}},
            }
            api.add_provider(db, api.load_spec("awesome_cloud"), NAME, args)
            started = time.perf_counter()
            result = api.refresh(db, NAME)
            if not result.ok:
                raise SystemExit(f"refresh failed: {result.error}")
            return time.perf_counter() - started

    def reset(self) -> None:
        """Empty the metrics tables (PostgreSQL keeps its hour partitions) and forget the
        last captures."""
        sa = self.sa
        with self.engine.begin() as conn:
            if self.sqlite:
                conn.execute(sa.text("DELETE FROM metrics"))
                conn.execute(sa.text("DELETE FROM metric_rollups"))
            else:
                conn.execute(sa.text("TRUNCATE metrics, metric_rollups"))
            conn.execute(sa.text("UPDATE vms SET last_perf_capture_on = NULL"))
        if self.sqlite:
            with self.engine.connect() as conn:
                conn.exec_driver_sql("VACUUM")

    def keep_copy(self) -> None:
        sa = self.sa
        with self.engine.begin() as conn:
            conn.execute(sa.text("DROP TABLE IF EXISTS bench_metrics_copy"))
            conn.execute(sa.text("CREATE TABLE bench_metrics_copy AS SELECT * FROM metrics"))
            conn.execute(sa.text("DELETE FROM metrics"))

    def sizes(self, rows: int, vms: int) -> dict[str, float]:
        """Bytes per realtime row and rollup row, and per VM-day."""
        sa = self.sa
        with self.engine.connect() as conn:
            if self.sqlite:

                def size(names: tuple[str, ...]) -> int:
                    marks = ", ".join(f"'{n}'" for n in names)
                    return int(conn.execute(sa.text(
                        f"SELECT COALESCE(SUM(pgsize), 0) FROM dbstat WHERE name IN ({marks})"
                    )).scalar() or 0)  # fmt: skip

                realtime = size(("metrics", "ix_metrics_timestamp", "sqlite_autoindex_metrics_1"))
                rollups = size(("metric_rollups", "ix_metric_rollups_timestamp",
                                "sqlite_autoindex_metric_rollups_1"))  # fmt: skip
            else:
                realtime = int(conn.execute(sa.text(
                    "SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0) FROM pg_inherits i "
                    "JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent "
                    "WHERE p.relname = 'metrics'"
                )).scalar() or 0)  # fmt: skip
                rollups = int(conn.execute(sa.text(
                    "SELECT pg_total_relation_size('metric_rollups')")).scalar() or 0)  # fmt: skip
            rollup_rows = int(conn.execute(sa.text("SELECT COUNT(*) FROM metric_rollups")).scalar())
        per_row = realtime / max(rows, 1)
        per_rollup = rollups / max(rollup_rows, 1)
        return {
            "realtime_bytes_per_row": round(per_row, 1),
            "realtime_bytes_per_vm_day": round(per_row * 4320),
            "rollup_bytes_per_row": round(per_rollup, 1),
            "rollup_bytes_per_vm_day": round(per_rollup * 25),
            "realtime_mb": round(realtime / 2**20, 1),
            "rollups_mb": round(rollups / 2**20, 1),
            "vms": vms,
        }

    def close(self) -> None:
        self.engine.dispose()
        if not self.sqlite:
            with self.admin.connect() as conn:
                conn.execute(self.sa.text(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)'))
            self.admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--vms", type=int, default=10_000, help="running VMs (about)")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--sqlite", action="store_true", help="SQLite instead of PostgreSQL")
    parser.add_argument("--phase", choices=["capture", "floor"], help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--key-file", help=argparse.SUPPRESS)
    opts = parser.parse_args()
    if opts.phase == "capture":
        print(json.dumps(phase_capture(opts.url, opts.key_file)))
        return
    if opts.phase == "floor":
        print(json.dumps(phase_floor(opts.url)))
        return
    os.environ.setdefault("MIQSPEC_METRICS_RETENTION", "4h")
    with tempfile.TemporaryDirectory(prefix="miqspec-bench-metrics-") as tmp:
        run = Run(opts.vms, opts.sqlite, Path(tmp))
        sim = run.start_simulator()
        try:
            refresh_s = run.setup()
            captures: list[tuple[dict[str, Any], float]] = []
            floors: list[tuple[dict[str, Any], float]] = []
            sizes: dict[str, float] = {}
            for _ in range(opts.repeat):
                run.reset()
                captures.append(measure(["--phase", "capture", "--url", run.url,
                                         "--key-file", run.key_file]))  # fmt: skip
                got = captures[-1][0]
                if not sizes:
                    sizes = run.sizes(got["rows"], got["captured"])
                run.keep_copy()
                floors.append(measure(["--phase", "floor", "--url", run.url]))
        finally:
            sim.terminate()
            sim.wait(30)
            run.close()
    report(opts, refresh_s, captures, floors, sizes)


def report(
    opts: argparse.Namespace,
    refresh_s: float,
    captures: list[tuple[dict[str, Any], float]],
    floors: list[tuple[dict[str, Any], float]],
    sizes: dict[str, float],
) -> None:
    cap_s = statistics.median(c["seconds"] for c, _ in captures)
    floor_s = statistics.median(f["seconds"] for f, _ in floors)
    rows = captures[-1][0]["rows"]
    cap_rss = statistics.median(r for _, r in captures)
    floor_rss = statistics.median(r for _, r in floors)
    backend = "sqlite" if opts.sqlite else "postgresql"
    out = {
        "backend": backend,
        "vms": captures[-1][0]["captured"],
        "realtime_rows": rows,
        "refresh_seconds": round(refresh_s, 2),
        "capture": {"seconds": [round(c["seconds"], 2) for c, _ in captures],
                    "rss_mb": [round(r) for _, r in captures],
                    "phases": {k: round(v, 2) for k, v in captures[-1][0]["phases"].items()},
                    "hourly_rows": captures[-1][0]["hourly"],
                    "daily_rows": captures[-1][0]["daily"]},
        "floor": {"seconds": [round(f["seconds"], 2) for f, _ in floors],
                  "rss_mb": [round(r) for _, r in floors]},
        "ratio_time": round(cap_s / floor_s, 2) if floor_s else None,
        "ratio_rss": round(cap_rss / floor_rss, 2) if floor_rss else None,
        "rows_per_s": {"capture": round(rows / cap_s), "floor": round(rows / floor_s)},
        "size": sizes,
    }  # fmt: skip
    path = HERE / f"results-metrics-{backend}-{opts.vms}.json"
    path.write_text(json.dumps(out, indent=2) + "\n")
    print(f"{backend}: {out['vms']} VMs, {rows:,} realtime rows (4 h of 1-min samples)")
    print(f"  capture  {cap_s:8.1f} s  {rows / cap_s:10,.0f} rows/s  peak RSS {cap_rss:6.0f} MB"
          f"  phases {out['capture']['phases']}")  # fmt: skip
    print(
        f"  floor    {floor_s:8.1f} s  {rows / floor_s:10,.0f} rows/s  peak RSS {floor_rss:6.0f} MB"
    )
    print(f"  ratio    {out['ratio_time']}x time, {out['ratio_rss']}x RSS (target <= 2x time)")
    print(f"  size     {sizes}")
    print(f"  -> {path.relative_to(HERE.parent)}")


if __name__ == "__main__":
    main()
