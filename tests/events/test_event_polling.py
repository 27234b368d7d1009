"""Event polling against the simulator over HTTP, on SQLite and PostgreSQL: events stored
once with their links, the cursor kept between polls, a failing stream (500, a truncated
page) recorded and nothing lost, a malformed event skipped while the others are stored."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from miqspec.errors import ApiError
from miqspec.events import Target
from miqspec.pipeline import EventCatcher, poll_events, refresh_provider
from miqspec.simulator import Simulator
from miqspec.spec.load import load_spec
from miqspec.store import EventLog
from miqspec.store.providers import ProviderStore

from ..conftest import AWESOME, sim_args


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(instances=20, flavors=3, images=3) as s:
        yield s


def _provider(engine: sa.Engine, keyring: Any, sim: Simulator, spec: Path = AWESOME) -> int:
    ems_id = ProviderStore(engine).add(load_spec(str(spec)), "ac", sim_args(sim), keyring)
    assert refresh_provider(engine, "ac", keyring).ok
    return int(ProviderStore(engine).row("ac")["id"]) if ems_id is None else int(ems_id)


def _events(engine: sa.Engine) -> list[Any]:
    with engine.connect() as conn:
        return list(
            conn.execute(
                sa.text(
                    "select event_type, ems_ref, vm_ems_ref, vm_or_template_id, vm_name, "
                    "source, type from event_streams order by id"
                )
            )
        )


def test_poll_stores_each_event_once_with_links(engine, keyring, sim) -> None:  # type: ignore[no-untyped-def]
    _provider(engine, keyring, sim)
    hit = sim.mutate(change=2, add=1, change_flavors=1)
    first = poll_events(engine, "ac", keyring)
    assert (first.read, first.stored, first.duplicates) == (4, 4, 0)
    assert first.cursor == {"value": 4}
    assert set(first.targets) == {
        *(Target("vms", i) for i in hit["changed"] + hit["added"]),
        Target("flavors", hit["changed_flavors"][0]),
    }
    again = poll_events(engine, "ac", keyring)
    assert (again.read, again.stored, again.targets) == (0, 0, [])
    rows = _events(engine)
    assert [r.event_type for r in rows] == [
        "instance.created", "instance.updated", "instance.updated", "flavor.updated",
    ]  # fmt: skip
    assert {r.source for r in rows} == {"AWESOME_CLOUD"} and {r.type for r in rows} == {"EmsEvent"}
    updated = [r for r in rows if r.event_type == "instance.updated"]
    assert all(r.vm_or_template_id is not None and r.vm_name for r in updated)
    created = rows[0]  # an object the database does not know yet: no link, still stored
    assert created.vm_ems_ref == hit["added"][0] and created.vm_or_template_id is None
    assert rows[3].vm_ems_ref is None


@pytest.mark.parametrize("fault", [{"fail_always_status": 500}, {"truncated_json": 10}])
def test_a_failing_stream_is_recorded_and_nothing_is_lost(engine, keyring, sim, fault) -> None:  # type: ignore[no-untyped-def]
    ems_id = _provider(engine, keyring, sim)
    sim.mutate(change=3)
    poll_events(engine, "ac", keyring)
    sim.mutate(remove=2)
    sim.set_faults(path="/v1/events", **fault)
    with pytest.raises(ApiError, match="get_events"):
        poll_events(engine, "ac", keyring)
    status = EventLog(engine).status(ems_id)
    assert status is not None and "get_events" in status["last_event_error"]
    assert status["cursor"] == '{"value": 3}'
    assert len(_events(engine)) == 3
    sim.set_faults()
    later = poll_events(engine, "ac", keyring)
    assert later.stored == 2
    assert [r.event_type for r in _events(engine)][-2:] == ["instance.deleted"] * 2
    assert EventLog(engine).status(ems_id)["last_event_error"] is None  # type: ignore[index]


def test_a_malformed_event_is_skipped_and_the_others_stored(
    engine, keyring, sim, tmp_path, caplog
) -> None:  # type: ignore[no-untyped-def]
    text = AWESOME.read_text().replace("    event_type: type\n", "    event_type: details.name\n")
    spec = tmp_path / "awesome_events.yaml"
    spec.write_text(text)
    _provider(engine, keyring, sim, spec)
    sim.mutate(change=2, remove=1)  # a deleted instance's event has no details.name
    with caplog.at_level("ERROR", logger="miqspec.events"):
        result = poll_events(engine, "ac", keyring)
    assert (result.read, result.stored, len(result.errors)) == (3, 2, 1)
    assert "no event_type" in result.errors[0]
    assert "malformed event skipped" in caplog.text
    assert poll_events(engine, "ac", keyring).read == 0  # the cursor moved past it


def test_a_timestamp_cursor_rereads_the_overlap_and_drops_duplicates(
    engine, keyring, sim, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    text = (
        AWESOME.read_text()
        .replace(
            "cursor: {type: sequence, value: id}", "cursor: {type: timestamp, value: timestamp}"
        )
        .replace('query: {after: "{{ events.cursor or 0 }}", limit: 1000}', "query: {limit: 1000}")
    )
    spec = tmp_path / "awesome_since.yaml"
    spec.write_text(text)
    _provider(engine, keyring, sim, spec)
    sim.mutate(change=2)
    assert poll_events(engine, "ac", keyring).stored == 2
    sim.mutate(add=1)
    second = poll_events(engine, "ac", keyring)
    assert (second.read, second.stored, second.duplicates) == (3, 1, 2)
    assert len(_events(engine)) == 3


def test_catcher_refuses_a_spec_without_events(engine, keyring, sim, tmp_path) -> None:  # type: ignore[no-untyped-def]
    text = AWESOME.read_text()
    spec = tmp_path / "no_events.yaml"
    text = text[: text.index("\nevents:")].replace("{{ events.cursor or 0 }}", "0")
    spec.write_text(text + "\n")
    _provider(engine, keyring, sim, spec)
    with pytest.raises(Exception, match="has no events section"):
        EventCatcher(engine, "ac", keyring)


def test_deleting_the_provider_drops_its_events_and_cursor(engine, keyring, sim) -> None:  # type: ignore[no-untyped-def]
    ems_id = _provider(engine, keyring, sim)
    sim.mutate(change=2)
    assert poll_events(engine, "ac", keyring).stored == 2
    ProviderStore(engine).delete("ac")
    log = EventLog(engine)
    assert log.count(ems_id) == 0 and log.status(ems_id) is None
