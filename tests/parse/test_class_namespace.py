"""``provider.class_namespace`` (issue 16, point 7): ManageIQ classes in a module that
``provider.name`` cannot give, for STI types and the manager rows, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from miqspec.pipeline import refresh_provider
from miqspec.simulator import Simulator
from miqspec.spec.load import check_file, load_spec
from miqspec.store.providers import ProviderStore

from ..conftest import AWESOME, sim_args

NAMESPACE = "ManageIQ::Providers::Acme::VirtualServers"


def spec_path(tmp_path: Path, namespace: str = NAMESPACE) -> Path:
    text = AWESOME.read_text().replace(
        "  manager_type: cloud\n", f"  manager_type: cloud\n  class_namespace: {namespace}\n", 1
    )
    path = tmp_path / "awesome_namespace.yaml"
    path.write_text(text)
    return path


def test_class_namespace_types_rows(engine, keyring, tmp_path):
    spec = load_spec(str(spec_path(tmp_path)))
    with Simulator(instances=3, flavors=2, images=1) as sim:
        ProviderStore(engine).add(spec, "acme", sim_args(sim), keyring)
        result = refresh_provider(engine, "acme", keyring)
    assert result.ok, result.error
    with engine.connect() as conn:
        vm_types = conn.execute(sa.text("select distinct type from vms")).scalars().all()
        ems_types = conn.execute(
            sa.text("select type from ext_management_systems order by id")
        ).scalars()
        ems = list(ems_types)
    assert sorted(vm_types) == [
        f"{NAMESPACE}::CloudManager::Template",
        f"{NAMESPACE}::CloudManager::Vm",
    ]
    assert ems[0] == f"{NAMESPACE}::CloudManager"
    assert f"{NAMESPACE}::NetworkManager" in ems


def test_a_namespace_must_be_a_ruby_module_path(tmp_path):
    findings = check_file(str(spec_path(tmp_path, "manageiq::providers::acme")))
    assert [f.path for f in findings] == ["provider.class_namespace"]
