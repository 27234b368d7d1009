"""A spec's models: an override adding a column to a catalogue table, two models on one new
table, a model's many-to-many join table (issue 16, points 12, 18, 19), on SQLite and
PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from miqspec.api.database import Database
from miqspec.api.inventory import read_inventory
from miqspec.pipeline import refresh_provider
from miqspec.simulator import Simulator
from miqspec.spec.load import check_file, load_spec
from miqspec.store.providers import ProviderStore

from ..conftest import AWESOME, sim_args

MODELS = """
models:
  availability_zones:
    table: availability_zones
    model_class: AvailabilityZone
    sti: true
    manager: cloud
    owner: ems_id
    manager_ref: [ems_ref]
    delete: delete
    columns: {name: string, ems_ref: string, awesome_label: string, awesome_rank: integer}
    secondary_refs: {by_label: [awesome_label]}
  awesome_small_things:
    table: awesome_things
    sti: true
    manager: cloud
    manager_ref: [ems_ref]
    scope: {type: ManageIQ::Providers::AwesomeCloud::CloudManager::SmallThing}
    columns: {ems_ref: string, name: string}
  awesome_big_things:
    table: awesome_things
    sti: true
    manager: cloud
    manager_ref: [ems_ref]
    scope: {type: ManageIQ::Providers::AwesomeCloud::CloudManager::BigThing}
    columns: {ems_ref: string, name: string, size: integer}
    many_to_many:
      vms: {collection: vms, join_table: awesome_big_things_vms,
            own_column: big_thing_id, other_column: vm_id}
"""

MAPPINGS = """
  awesome_small_things:
    from: get_images
    attributes:
      ems_ref: id
      name: name
  awesome_big_things:
    from: get_instances
    attributes:
      ems_ref: id
      name: name
      vms: {lazy: vms, refs: "[id]"}
"""


def spec_with_models(tmp_path: Path) -> Path:
    text = AWESOME.read_text()
    text = text.replace("\ncollections:\n", MODELS + "\ncollections:\n" + MAPPINGS, 1)
    text = text.replace(
        "      ems_ref: id\n      name: name\n  flavors:",
        "      ems_ref: id\n      name: name\n      awesome_label: \"join('-', [name, 'x'])\"\n"
        "      awesome_rank: '`3`'\n  flavors:",
        1,
    )
    path = tmp_path / "awesome_models.yaml"
    path.write_text(text)
    return path


def test_models_validate(tmp_path):
    assert check_file(str(spec_with_models(tmp_path))) == []


def test_override_widens_and_shared_tables_and_join_table(engine, keyring, tmp_path):
    spec = load_spec(str(spec_with_models(tmp_path)))
    with Simulator(instances=4, flavors=3, images=2) as sim:
        ProviderStore(engine).add(spec, "m", sim_args(sim), keyring)
        for _ in range(2):  # every run works (PostgreSQL failed each run before)
            result = refresh_provider(engine, "m", keyring)
            assert result.ok, result.error
        assert result.report is not None and result.report.rows_written == 0
        zones = {z["name"] for z in sim.data.availability_zones}
    with engine.connect() as conn:
        labels = conn.execute(
            sa.text("select name, awesome_label, awesome_rank from availability_zones")
        ).all()
        things = conn.execute(
            sa.text("select type, count(*) from awesome_things group by type")
        ).all()
        links = conn.execute(sa.text("select count(*) from awesome_big_things_vms")).scalar()
    assert {(n, f"{n}-x", 3) for n in zones} == set(labels)
    assert dict(things) == {
        "ManageIQ::Providers::AwesomeCloud::CloudManager::SmallThing": 2,
        "ManageIQ::Providers::AwesomeCloud::CloudManager::BigThing": 4,
    }
    assert links == 4  # one per instance, in the model's own join table
    db = Database(engine)  # ``miqspec inventory`` reads a model's rows, each of its own scope
    assert len(read_inventory(db, "m", "awesome_big_things").rows) == 4
    assert len(read_inventory(db, "m", "awesome_small_things").rows) == 2


def test_a_refresh_names_the_table_it_cannot_create(engine, keyring, tmp_path):
    spec = load_spec(str(spec_with_models(tmp_path)))
    with engine.begin() as conn:  # a view by that name: the table cannot be created
        conn.exec_driver_sql("CREATE VIEW awesome_things AS SELECT 1 AS x")
    with Simulator(instances=1, flavors=1, images=1) as sim:
        ProviderStore(engine).add(spec, "m", sim_args(sim), keyring)
        result = refresh_provider(engine, "m", keyring)
    assert not result.ok
    assert "awesome_things" in (result.error or "")
