"""Record a refresh of the simulator, replay it into a fresh database: identical inventory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from click.testing import CliRunner

from miqspec.cli.app import main
from miqspec.simulator import Simulator

from ..conftest import AWESOME

SECRET = "sim-secret"


def inventory(db: Path) -> dict[str, list[Any]]:
    engine = sa.create_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        out = {
            "vms": conn.execute(
                sa.text(
                    "select v.ems_ref, v.name, v.template, v.raw_power_state, v.power_state, "
                    "v.location, f.ems_ref, a.ems_ref from vms v "
                    "left join flavors f on f.id = v.flavor_id "
                    "left join availability_zones a on a.id = v.availability_zone_id "
                    "order by v.ems_ref"
                )
            ).all(),
            "flavors": conn.execute(
                sa.text(
                    "select ems_ref, name, memory, cpu_total_cores from flavors order by ems_ref"
                )
            ).all(),
            "zones": conn.execute(
                sa.text("select ems_ref, name from availability_zones order by ems_ref")
            ).all(),
        }
    engine.dispose()
    return out


def run(db: Path, key: Path, *args: str, env: dict[str, str] | None = None) -> str:
    result = CliRunner().invoke(
        main,
        list(args),
        catch_exceptions=False,
        env={
            "MIQSPEC_DATABASE_URL": f"sqlite:///{db}",
            "MIQSPEC_KEY_FILE": str(key),
            "AC_SECRET": SECRET,
            **(env or {}),
        },
    )
    assert result.exit_code == 0, result.output
    return result.output


def add(db: Path, key: Path, url: str) -> None:
    run(
        db,
        key,
        "provider",
        "add",
        str(AWESOME),
        "--name",
        "ac",
        "--region",
        "us-east-1",
        "--set",
        f"endpoints.default.url={url}",
        "--set",
        "authentications.default.userid=AKIA-SIM",
        "--secret-env",
        "authentications.default.password=AC_SECRET",
    )


def test_record_then_replay_gives_the_same_inventory(tmp_path):
    cassette = tmp_path / "awesome.yml"
    live_db, replay_db = tmp_path / "live.db", tmp_path / "replay.db"
    key = tmp_path / "v2_key"
    with Simulator(instances=23, flavors=4, images=6, page_size=5) as sim:
        url = sim.url
        add(live_db, key, url)
        run(live_db, key, "refresh", "ac", "--quiet", "--record", str(cassette))
    text = cassette.read_text()
    assert SECRET not in text
    assert "http_interactions" in text and "AUTHENTICATIONS_DEFAULT_PASSWORD" in text
    # The simulator is gone: every request must now come from the cassette.
    add(replay_db, key, url)
    run(replay_db, key, "refresh", "ac", "--quiet", "--replay", str(cassette))
    live, replayed = inventory(live_db), inventory(replay_db)
    assert len(live["vms"]) == 23 + 6
    assert replayed == live
