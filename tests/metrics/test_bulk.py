"""A bulk metrics call (one paginated answer for every target, each point naming its target)
stores exactly what the per-target call stores, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from miqspec import metrics
from miqspec.pipeline import make_session, metrics_owner, refresh_provider
from miqspec.simulator import Simulator
from miqspec.spec.load import load_spec
from miqspec.store.providers import ProviderStore

from ..conftest import AWESOME, sim_args

PER_TARGET = """    path: "/instances/{{ target.ems_ref }}/metrics"
    query: {start: "{{ metrics.start }}", end: "{{ metrics.end }}"}
"""
BULK = """    path: /metrics
    query: {start: "{{ metrics.start }}", end: "{{ metrics.end }}", limit: 3}
    paginate: {type: cursor, cursor: next_token, param: next_token}
"""


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(instances=10, flavors=2, images=2) as s:
        yield s


def bulk_spec(tmp_path: Path) -> Path:
    text = AWESOME.read_text()
    assert PER_TARGET in text
    text = text.replace(PER_TARGET, BULK, 1)
    text = text.replace(
        "  call: get_instance_metrics", "  call: get_instance_metrics\n  bulk: true"
    )
    text = text.replace("    timestamp: timestamp\n", "    timestamp: timestamp\n"
                        "    target: instance_id\n", 1)  # fmt: skip
    path = tmp_path / "bulk.yaml"
    path.write_text(text)
    return path


def capture(engine: sa.Engine, keyring: Any, name: str, at: datetime) -> metrics.CaptureResult:
    store = ProviderStore(engine)
    ems = store.row(name)
    spec, owner = metrics_owner(engine, name)
    session = make_session(spec, store.args(ems, keyring), provider=ems)
    try:
        return metrics.capture(engine, session, spec, ems, owner, at=at)
    finally:
        session.close()


def stored(engine: sa.Engine, ems: int) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return list(conn.execute(sa.text(
            "select v.ems_ref, m.timestamp, m.cpu_usage_rate_average, m.disk_usage_rate_average "
            "from metrics m join vms v on v.id = m.resource_id where v.ems_id = :e "
            "order by 1, 2"), {"e": ems}).all())  # fmt: skip


def test_bulk_equals_per_target(engine, keyring, sim, tmp_path) -> None:  # type: ignore[no-untyped-def]
    providers = ProviderStore(engine)
    one = providers.add(load_spec(str(AWESOME)), "one", sim_args(sim), keyring)
    bulk = providers.add(load_spec(str(bulk_spec(tmp_path))), "bulk", sim_args(sim), keyring)
    assert refresh_provider(engine, "one", keyring).ok
    assert refresh_provider(engine, "bulk", keyring).ok
    at = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    per_target = capture(engine, keyring, "one", at)
    sim.reset()
    in_bulk = capture(engine, keyring, "bulk", at)
    assert (in_bulk.targets, in_bulk.captured, in_bulk.rows) == (
        per_target.targets, per_target.captured, per_target.rows,
    )  # fmt: skip
    assert in_bulk.rows > 0 and not in_bulk.failed
    assert stored(engine, bulk) == stored(engine, one)
    pages = sum(n for path, n in sim.stats().items() if path.endswith("/v1/metrics"))
    assert pages == 4  # 10 instances, 3 a page: one request a page, not one per target
