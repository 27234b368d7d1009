"""A spec-declared model ("add a new model"): its table is created and refreshed like any other."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from miqspec.pipeline import refresh_provider
from miqspec.simulator import Simulator
from miqspec.spec.load import check_file, load_spec
from miqspec.store.providers import ProviderStore

from ..conftest import AWESOME, sim_args

MODEL = """
models:
  awesome_addresses:
    table: awesome_addresses
    manager: cloud
    owner: ems_id
    manager_ref: [ems_ref]
    delete: delete
    timestamps: [created_on, updated_on]
    columns: {ems_ref: string, address: string, public: boolean}
    references:
      vm: {collection: vms, column: vm_id}
"""

MAPPING = """
  awesome_addresses:
    from: get_instances
    attributes:
      ems_ref: "join('/', [id, private_ip])"
      address: private_ip
      public: "public_ip != null"
      vm: {lazy: vms, ref: id}
"""


def spec_with_model(tmp_path: Path) -> Path:
    text = AWESOME.read_text()
    text = text.replace("\ncollections:\n", MODEL + "\ncollections:\n" + MAPPING, 1)
    path = tmp_path / "awesome_with_model.yaml"
    path.write_text(text)
    return path


def test_model_spec_validates(tmp_path):
    assert check_file(str(spec_with_model(tmp_path))) == []


def test_model_table_is_created_and_filled(engine, keyring, tmp_path):
    path = spec_with_model(tmp_path)
    spec = load_spec(str(path))
    with Simulator(instances=12, flavors=3, images=2) as sim:
        args = sim_args(sim)
        ProviderStore(engine).add(spec, "m", args, keyring)
        result = refresh_provider(engine, "m", keyring)
        assert result.ok, result.error
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "select a.address, v.ems_ref from awesome_addresses a "
                    "join vms v on v.id = a.vm_id"
                )
            ).all()
        expected = {(i["private_ip"], i["id"]) for i in sim.data.instances}
        assert set(rows) == expected
        again = refresh_provider(engine, "m", keyring)
        assert again.ok and again.report is not None and again.report.rows_written == 0


def test_deleting_the_provider_deletes_its_model_rows(engine, keyring, tmp_path):
    path = spec_with_model(tmp_path)
    with Simulator(instances=5, flavors=2, images=1) as sim:
        args = sim_args(sim)
        store = ProviderStore(engine)
        for name in ("m", "kept"):
            store.add(load_spec(str(path)), name, args, keyring)
            assert refresh_provider(engine, name, keyring).ok

    def addresses() -> dict[str, int]:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "select e.name, count(*) from awesome_addresses a "
                    "join ext_management_systems e on e.id = a.ems_id group by e.name"
                )
            ).all()
            orphans = conn.execute(
                sa.text(
                    "select count(*) from awesome_addresses a where not exists "
                    "(select 1 from ext_management_systems e where e.id = a.ems_id)"
                )
            ).scalar()
        return {**dict(rows), "orphans": orphans}

    assert addresses() == {"m": 5, "kept": 5, "orphans": 0}
    ProviderStore(engine).delete("m")
    assert addresses() == {"kept": 5, "orphans": 0}
