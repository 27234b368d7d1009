"""Records with a null part in their identity (issue 16, point 11): kept as ManageIQ keeps them
(a null plain part is part of the key), refused only for a null foreign key part, and every
record that gives no row counted (``dropped``) and warned about, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from miqspec.pipeline import refresh_provider
from miqspec.simulator import Simulator
from miqspec.spec.load import load_spec
from miqspec.store.providers import ProviderStore

from ..conftest import AWESOME, sim_args

MAPPINGS = """
  hardwares:
    from: get_instances
    attributes:
      vm_or_template: {lazy: vms, ref: id}
  networks:
    from: get_instances
    attributes:
      hardware: {lazy: hardwares, ref: {vm_or_template: {lazy: vms, ref: id}}}
      description: public_ip
      ipaddress: private_ip
  disks:
    from: get_instances
    attributes:
      hardware: {lazy: hardwares, ref: {vm_or_template: {lazy: vms, ref: "public_ip && id"}}}
      device_name: "'root'"
"""


def spec_path(tmp_path: Path) -> Path:
    text = AWESOME.read_text().replace("\ncollections:\n", "\ncollections:\n" + MAPPINGS, 1)
    path = tmp_path / "awesome_identity.yaml"
    path.write_text(text)
    return path


def test_null_identity_parts(engine, keyring, tmp_path):
    spec = load_spec(str(spec_path(tmp_path)))
    with Simulator(instances=12, flavors=2, images=1) as sim:
        ProviderStore(engine).add(spec, "p", sim_args(sim), keyring)
        first = refresh_provider(engine, "p", keyring)
        again = refresh_provider(engine, "p", keyring)
        instances = sim.data.instances
    public = sum(1 for i in instances if i["public_ip"])
    assert 0 < public < len(instances)
    assert first.ok and again.ok, (first.error, again.error)
    with engine.connect() as conn:
        nets = conn.execute(sa.text("select description, ipaddress from networks")).all()
        disks = conn.execute(sa.text("select count(*) from disks")).scalar()
    # a null description is a key part like any other: every instance has its network
    assert len(nets) == len(instances)
    assert sum(1 for d, _ in nets if d is None) == len(instances) - public
    assert disks == public  # a null hardware (foreign key) part: no disk
    for result in (first, again):
        assert result.report is not None
        assert result.report.of("networks").dropped == 0
        assert result.report.of("disks").dropped == len(instances) - public
        assert any(
            w.startswith(f"disks: {len(instances) - public} record(s) dropped")
            and "manager_ref reference null" in w
            for w in result.warnings
        ), result.warnings
    assert again.report is not None and again.report.rows_written == 0
