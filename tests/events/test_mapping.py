"""Raw events -> event rows and targets, the cursor, and the merging queue (no I/O)."""

from __future__ import annotations

import json
from datetime import datetime

from miqspec.events import (
    Target,
    TargetQueue,
    advance,
    cursor_vars,
    map_events,
    parse_timestamp,
)
from miqspec.spec.load import load_spec

from ..conftest import AWESOME

SCOPE = {"region": {}, "provider": {}, "settings": {}}


def _events():  # type: ignore[no-untyped-def]
    spec = load_spec(str(AWESOME)).events
    assert spec is not None
    return spec


def test_parse_timestamp_truncates_to_microseconds() -> None:
    assert parse_timestamp("2018-03-09T15:54:15.3583443Z") == datetime(
        2018, 3, 9, 15, 54, 15, 358344
    )
    assert parse_timestamp("2018-03-09T15:54:15Z") == datetime(2018, 3, 9, 15, 54, 15)
    assert parse_timestamp("2018-03-09T17:54:15.5+02:00") == datetime(
        2018, 3, 9, 15, 54, 15, 500000
    )
    assert parse_timestamp(1_520_610_855) == datetime(2018, 3, 9, 15, 54, 15)
    assert parse_timestamp(1_520_610_855_250) == datetime(2018, 3, 9, 15, 54, 15, 250000)
    assert parse_timestamp("yesterday") is None
    assert parse_timestamp(True) is None


def test_map_events_rows_targets_and_malformed_ones() -> None:
    good = {
        "id": 7,
        "type": "instance.updated",
        "resource_type": "instance",
        "resource_id": "i-1",
        "timestamp": "2026-01-01T10:00:00.1234567Z",
        "message": "instance i-1 updated",
    }
    flavor = {**good, "id": 8, "type": "flavor.updated", "resource_type": "flavor"}
    no_type = {**good, "id": 9, "type": None}
    bad_time = {**good, "id": 10, "timestamp": "soon"}
    batch = map_events(_events(), [good, "junk", flavor, no_type, bad_time], SCOPE)
    assert len(batch.rows) == 2
    row = batch.rows[0]
    assert row["event_type"] == "instance.updated"
    assert row["source"] == "AWESOME_CLOUD"
    assert row["ems_ref"] == "7"
    assert row["vm_ems_ref"] == "i-1"
    assert row["timestamp"] == datetime(2026, 1, 1, 10, 0, 0, 123456)
    assert json.loads(row["full_data"]) == good
    assert batch.rows[1]["vm_ems_ref"] is None
    assert batch.targets == [[Target("vms", "i-1")], [Target("flavors", "i-1")]]
    assert len(batch.errors) == 3
    assert "not a JSON object" in batch.errors[0]
    assert "event id='9'" in batch.errors[1] and "no event_type" in batch.errors[1]
    assert "timestamp 'soon' is not a time" in batch.errors[2]


def test_sequence_cursor_moves_to_the_highest_id_only() -> None:
    spec = _events()
    assert cursor_vars(spec, None, datetime(2026, 1, 1)) == {"cursor": None, "since": None}
    first = advance(spec, None, [{"id": 3}, {"id": 5}, {"id": 4}, {"x": 1}], SCOPE)
    assert first == {"value": 5}
    assert advance(spec, first, [], SCOPE) == {"value": 5}  # an empty poll keeps it
    assert advance(spec, first, [{"id": 2}], SCOPE) == {"value": 5}
    assert cursor_vars(spec, first, datetime(2026, 1, 1))["cursor"] == 5


def test_queue_merges_a_burst_into_one_batch_and_turns_big_ones_full() -> None:
    queue = TargetQueue(window=1.0, threshold=100)
    for i in range(1000):
        queue.add("p", [Target("vms", f"vm-{i % 50}")], at=0.001 * i, targetable={"vms"})
    assert queue.due(0.5) == []  # the first target has not waited the window yet
    (batch,) = queue.due(1.5)
    assert not batch.full and len(batch.targets) == 50 and batch.events == 1000
    assert queue.due(5.0) == []
    for i in range(150):
        queue.add("p", [Target("vms", f"vm-{i}")], at=10.0, targetable={"vms"})
    (big,) = queue.due(11.0)
    assert big.full and not big.targets
    queue.add("p", [Target("vms", "a"), Target("flavors", "f")], at=20.0, targetable={"vms"})
    (untargetable,) = queue.due(21.0)
    assert untargetable.full
