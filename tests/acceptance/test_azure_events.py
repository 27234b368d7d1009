"""Azure events against ManageIQ's own event data (../shared/cassettes/azure-events/).

Every event file is mapped through ``provider_specs/azure.yaml``'s ``events`` section and
compared with EXPECTED.md: the event row (§2.1 fixtures, §2.2 event_data: event_type,
timestamp with 6 digits, message, vm_ems_ref, source, full_data) and the refresh target
ManageIQ's target parser derives (§3; upstream's ``__unused`` association refreshes nothing,
so those events name no target here). The catcher's filter (§4): the blacklisted types and
``Microsoft.Classic`` events are dropped. Then the rows are stored on SQLite and PostgreSQL
twice, as the catcher's overlapping polls do: each event is stored once.
Skips when the shared folder is absent.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from miqspec.events import Target, map_event, map_events
from miqspec.spec import EventsSpec
from miqspec.spec.load import load_spec
from miqspec.store import EventLog

from ..conftest import REPO
from .conftest import CASSETTES

FOLDER = CASSETTES / "azure-events"
SCOPE: dict[str, Any] = {"region": {"name": "eastus"}, "provider": {}, "settings": {}}


def _folder() -> Path:
    if not (FOLDER / "EXPECTED.md").is_file():
        pytest.skip(f"recorded events not available: {FOLDER} is absent (read-only shared data)")
    return FOLDER


def _events() -> EventsSpec:
    spec = load_spec(str(REPO / "provider_specs" / "azure.yaml"))
    assert spec.events is not None
    return spec.events


def _cells(line: str) -> list[str]:
    return [c.strip().strip("`") for c in line.strip().strip("|").split("|")]


def _expected() -> tuple[dict[str, tuple[str, ...]], dict[str, tuple[str | None, str | None]]]:
    """§2 rows (file -> event_type, timestamp, message, vm_ems_ref) and §3 targets."""
    rows: dict[str, tuple[str, ...]] = {}
    targets: dict[str, tuple[str | None, str | None]] = {}
    section = ""
    for line in (_folder() / "EXPECTED.md").read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            section = line[3:5]
        if not line.startswith("| `") or ".json" not in line.split("|")[1]:
            continue
        cells = _cells(line)
        if section == "2." and len(cells) in (5, 6):  # §2.1 has an ems_ref column too
            rows[cells[0]] = (cells[1], cells[2], cells[3], cells[-1])
        elif section == "3.":
            association = None if cells[1] == "(none)" else cells[1]
            targets[cells[0]] = (association, None if cells[2] == "—" else cells[2])
    return rows, targets


def _load(name: str) -> Any:
    sub = "fixtures" if (_folder() / "fixtures" / name).is_file() else "event_data"
    return json.loads((_folder() / sub / name).read_text(encoding="utf-8"))


def _stamp(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ")


def _nil(text: str) -> str | None:
    return None if text in ("nil", "—", "keys absent (asserted)") else text


def test_expected_tables_are_read() -> None:
    rows, targets = _expected()
    assert len(rows) == 41 + 3  # event_data + fixtures
    assert len(targets) == 41


def test_every_event_row_is_what_manageiq_stores() -> None:
    rows, _ = _expected()
    spec = _events()
    unfiltered = dataclasses.replace(spec, ignore_types=frozenset(), ignore_where=None)
    for name, (etype, stamp, message, vm_ref) in rows.items():
        raw = _load(name)
        row, _targets = map_event(unfiltered, raw, SCOPE)
        assert row is not None, name
        assert row["event_type"] == etype, name
        assert row["timestamp"] == _stamp(stamp), name
        assert row["message"] == _nil(message), name
        assert row["vm_ems_ref"] == _nil(vm_ref), name
        assert row["source"] == "AZURE", name
        assert row["ems_ref"] is None, name  # no eventDataId in these files
        assert json.loads(row["full_data"]) == raw, name


def test_every_event_names_the_target_manageiq_derives() -> None:
    _, expected = _expected()
    spec = _events()
    unfiltered = dataclasses.replace(spec, ignore_types=frozenset(), ignore_where=None)
    for name, (association, ref) in expected.items():
        _row, targets = map_event(unfiltered, _load(name), SCOPE)
        if association in (None, "__unused"):
            assert targets == [], name
        else:
            assert targets == [Target(association, str(ref))], name


def test_the_catcher_drops_blacklisted_and_classic_events() -> None:
    spec = _events()
    names = sorted(p.name for p in (_folder() / "event_data").glob("*.json"))
    raws = [_load(n) for n in names]
    classic = {**raws[0], "resourceProviderName": {"value": "Microsoft.ClassicCompute"}}
    batch = map_events(spec, [*raws, classic], SCOPE)
    assert batch.errors == []
    assert batch.ignored == 2  # deployments_exportTemplate_EndRequest and the classic one
    assert len(batch.rows) == 40
    assert "deployments_exportTemplate_EndRequest" not in {r["event_type"] for r in batch.rows}


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_overlapping_polls_store_each_event_once(
    backend: str, request: pytest.FixtureRequest
) -> None:
    from miqspec.store.database import open_database, upgrade

    if backend == "sqlite":
        url = f"sqlite:///{request.getfixturevalue('tmp_path') / 'events.db'}"
    else:
        url = request.getfixturevalue("pg_migrated_url")
    engine = open_database(url)
    upgrade(engine)
    spec = _events()
    raws = [_load(p.name) for p in sorted((_folder() / "event_data").glob("*.json"))]
    log = EventLog(engine)
    first = log.save(1, map_events(spec, raws[:30], SCOPE).rows, {"value": "a"})
    overlap = len(map_events(spec, raws[20:30], SCOPE).rows)
    second = log.save(1, map_events(spec, raws[20:], SCOPE).rows, {"value": "b"})
    assert len(first.stored) + len(second.stored) == 40  # 41 less the blacklisted one
    assert second.duplicates == overlap
    assert log.count(1) == 40
    assert log.cursor(1) == {"value": "b"}
    engine.dispose()
