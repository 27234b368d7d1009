"""A provider's event stream on its status (issue 17: "the failure is recorded on its row"):
``provider show`` and ``provider list`` (text and JSON), through ``miqspec.api``, say whether
the stream is ``ok`` or ``failing`` and give its last error; SQLite and PostgreSQL, the
simulator over HTTP, a real failing stream (500)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from miqspec import api
from miqspec.errors import ApiError
from miqspec.pipeline import poll_events
from miqspec.simulator import Simulator
from miqspec.spec.load import load_spec

from ..conftest import AWESOME, sim_args


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(instances=5, flavors=2, images=2) as s:
        yield s


def _cli(env: dict[str, str], *args: str) -> str:
    from miqspec.cli.app import main

    done = CliRunner().invoke(main, list(args), env=env)
    assert done.exit_code == 0, done.output
    return done.stdout


def test_show_and_list_give_the_streams_state(migrated_db_url, tmp_path: Path, sim) -> None:  # type: ignore[no-untyped-def]
    key = tmp_path / "key" / "v2_key"
    env = {"MIQSPEC_DATABASE_URL": migrated_db_url, "MIQSPEC_KEY_FILE": str(key), "NO_COLOR": "1"}
    db = api.open_database(migrated_db_url, key_file=key)
    api.add_provider(db, load_spec(str(AWESOME)), "ac", sim_args(sim))
    assert api.provider_info(db, "ac").event_stream is None  # never polled
    assert re.search(r"^event stream +-$", _cli(env, "provider", "show", "ac"), re.M)

    poll_events(db.engine, "ac", db.keyring)
    info = api.provider_info(db, "ac")
    assert (info.event_stream, info.last_event_error) == ("ok", None)
    assert info.last_event_poll_date is not None

    sim.set_faults(path="/v1/events", fail_always_status=500)
    with pytest.raises(ApiError):
        poll_events(db.engine, "ac", db.keyring)
    info = api.provider_info(db, "ac")
    assert info.event_stream == "failing" and "answered 500" in (info.last_event_error or "")
    assert info.last_event_error_date is not None
    assert [i.event_stream for i in api.list_providers(db)] == ["failing"]

    shown = _cli(env, "provider", "show", "ac")
    assert re.search(r"^event stream +failing$", shown, re.M)
    assert re.search(r"^last event error +get_events: .*answered 500", shown, re.M)
    listed = _cli(env, "provider", "list")
    assert re.search(r"^ac .* failing\s*$", listed, re.M), listed
    data = json.loads(_cli(env, "provider", "list", "--format", "json"))
    assert data[0]["event_stream"] == "failing" and "500" in data[0]["last_event_error"]
    one = json.loads(_cli(env, "provider", "show", "ac", "--format", "json"))
    assert one["last_event_error_date"] and one["last_event_poll_date"]

    sim.set_faults()
    poll_events(db.engine, "ac", db.keyring)  # the stream recovers: ok, the error cleared
    info = api.provider_info(db, "ac")
    assert (info.event_stream, info.last_event_error, info.last_event_error_date) == (
        "ok", None, None,
    )  # fmt: skip
    db.engine.dispose()
