"""What real providers used and the catalogue missed (issue 16, point 16), refreshed against a
local API on SQLite and PostgreSQL with no ``models:``: ``provider_region`` set on the provider
row from a call, ``cloud_subnets.ip_version``, ``network_routers.admin_state_up`` as a boolean,
network ACLs and their rules (firewall_rules rows whose resource is the ACL), an infra VM's
``cloud`` false, and the resource pool a VM belongs to (ManageIQ's ems_metadata tree in
``relationships``: the VM's node under its pool's node, the pools' nodes under their parents').
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from miqspec.spec.catalogue import load_catalogue
from miqspec.spec.load import load_spec

from .catalogue_fakes import add_provider, refresh, rows, serve, write_spec

SPECS = Path(__file__).parent / "catalogue_specs"

VPC_ROUTES: dict[str, Any] = {
    "/v1/region": {"name": "us-south", "api_version": "2024-05-01"},
    "/v1/vpcs": {"vpcs": [{"id": "vpc-1", "name": "main", "cidr": "10.0.0.0/16"}]},
    "/v1/subnets": {"subnets": [
        {"id": "sn-1", "name": "a", "ipv4_cidr_block": "10.0.1.0/24", "ip_version": "ipv4",
         "vpc": {"id": "vpc-1"}},
        {"id": "sn-2", "name": "b", "ipv4_cidr_block": "10.0.2.0/24", "ip_version": 6,
         "vpc": {"id": "vpc-1"}}]},
    "/v1/routers": {"routers": [
        {"id": "r-1", "name": "up", "admin_state_up": True, "status": "ACTIVE"},
        {"id": "r-2", "name": "down", "admin_state_up": "false", "status": "DOWN"}]},
    "/v1/network_acls": {"network_acls": [
        {"id": "acl-1", "name": "web", "vpc": {"id": "vpc-1"},
         "subnets": [{"id": "sn-1"}, {"id": "sn-2"}],
         "rules": [
             {"id": "rule-1", "name": "in-http", "action": "allow", "direction": "inbound",
              "protocol": "tcp", "source": "0.0.0.0/0", "destination": "10.0.1.0/24",
              "port_min": 80, "port_max": 80},
             {"id": "rule-2", "name": "deny-all", "action": "deny", "direction": "inbound",
              "protocol": "all", "source": "0.0.0.0/0", "destination": "0.0.0.0/0"}]}]},
}  # fmt: skip

POOL_ROUTES: dict[str, Any] = {
    "/api/pools": {"data": [
        {"id": "rp-root", "name": "Resources", "parent": None},
        {"id": "rp-prod", "name": "prod", "parent": "rp-root"},
        {"id": "rp-web", "name": "web", "parent": "rp-prod"}]},
    "/api/vms": {"data": [
        {"id": "vm-1", "name": "web-1", "status": "running", "pool": "rp-web"},
        {"id": "vm-2", "name": "db-1", "status": "stopped", "pool": "rp-prod"},
        {"id": "vm-3", "name": "loose", "status": "running", "pool": None}]},
}  # fmt: skip


def test_network_fixes(engine, keyring, tmp_path) -> None:  # type: ignore[no-untyped-def]
    body = (SPECS / "vpc_fake.yaml").read_text()
    path = write_spec(tmp_path, "vpc_fake", "cloud", body)
    text = path.read_text().replace("  refresh_interval: 0\n", "  refresh_interval: 0\n"
                                    "  child_managers: [network]\n")  # fmt: skip
    path.write_text(text)
    with serve(VPC_ROUTES) as api:
        ems = add_provider(engine, keyring, path, api)
        refresh(engine, keyring, "vpc_fake")
        again = refresh(engine, keyring, "vpc_fake")
    assert again.report.rows_written == 0
    assert rows(engine, "select provider_region, api_version from ext_management_systems "
                "where id = :id", id=ems) == [("us-south", "2024-05-01")]  # fmt: skip
    network = rows(engine, "select id from ext_management_systems where parent_ems_id = :id",
                   id=ems)[0][0]  # fmt: skip
    assert rows(engine, "select name, ip_version, ems_id from cloud_subnets order by 1") == [
        ("a", "ipv4", network), ("b", "6", network)]  # fmt: skip
    assert rows(engine, "select name, admin_state_up from network_routers order by 1") == [
        ("down", False), ("up", True)]  # fmt: skip
    assert rows(
        engine,
        """
        select a.name, a.type, a.ems_id, n.name from network_acls a
        join cloud_networks n on n.id = a.cloud_network_id""",
    ) == [("web", "ManageIQ::Providers::VpcFake::NetworkManager::NetworkAcl", network, "main")]
    assert rows(
        engine,
        """
        select s.name from cloud_subnets_network_acls j
        join cloud_subnets s on s.id = j.cloud_subnet_id order by 1""",
    ) == [("a",), ("b",)]
    assert rows(engine, """
        select r.ems_ref, r.resource_type, r.action, r.priority, r.host_protocol, r.port,
               r.source_ip_range, r.destination_ip_range
        from firewall_rules r join network_acls a on a.id = r.resource_id order by 1""") == [
        ("rule-1", "NetworkAcl", "allow", 0, "TCP", 80, "0.0.0.0/0", "10.0.1.0/24"),
        ("rule-2", "NetworkAcl", "deny", 1, "ALL", None, "0.0.0.0/0", "0.0.0.0/0")]  # fmt: skip


def test_vm_resource_pools_and_infra_vms(engine, keyring, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = write_spec(tmp_path, "pools_fake", "infra", (SPECS / "pools_fake.yaml").read_text())
    with serve(copy.deepcopy(POOL_ROUTES)) as api:
        add_provider(engine, keyring, path, api)
        refresh(engine, keyring, "pools_fake")
        again = refresh(engine, keyring, "pools_fake")
        assert again.report.rows_written == 0, {
            k: v for k, v in again.report.collections.items() if v.created or v.updated
        }
        check_tree(engine)
        assert (
            rows(engine, "select type, cloud, template from vms order by name")
            == [("ManageIQ::Providers::PoolsFake::InfraManager::Vm", False, False)] * 3
        )
        # vm-1 moves to prod; vm-2 leaves the API: the VM is disconnected, and its node stays
        # (ManageIQ's disconnect_inv also removes the VM from its pool: not done here)
        moved: dict[str, Any] = {
            "/api/vms": {"data": [dict(POOL_ROUTES["/api/vms"]["data"][0], pool="rp-prod")]}
        }
        api.routes.update(moved)
        refresh(engine, keyring, "pools_fake")
    assert pools_of_vms(engine) == {"web-1": ["Resources", "prod"], "db-1": ["Resources", "prod"]}
    assert rows(engine, "select name, ems_id is null from vms order by name") == [
        ("db-1", True), ("loose", True), ("web-1", False)]  # fmt: skip


def pools_of_vms(engine) -> dict[str, list[str]]:  # type: ignore[no-untyped-def]
    """Each VM's resource pools from the root down, read from the ancestry paths."""
    nodes = {
        node_id: (kind, res, ancestry)
        for node_id, kind, res, ancestry in rows(engine, """
            select id, resource_type, resource_id, ancestry from relationships
            where relationship = 'ems_metadata'""")
    }  # fmt: skip
    pools = dict(rows(engine, "select id, name from resource_pools"))
    vms = dict(rows(engine, "select id, name from vms"))
    out = {}
    for kind, res, ancestry in nodes.values():
        if kind == "VmOrTemplate" and ancestry:
            path = [pools[nodes[int(n)][1]] for n in ancestry.split("/")]
            assert all(nodes[int(n)][0] == "ResourcePool" for n in ancestry.split("/"))
            out[vms[res]] = path
    return out


def check_tree(engine) -> None:  # type: ignore[no-untyped-def]
    assert pools_of_vms(engine) == {
        "web-1": ["Resources", "prod", "web"],
        "db-1": ["Resources", "prod"],
    }
    assert rows(engine, "select count(*) from relationships where resource_type = 'VmOrTemplate'"
                ) == [(2,)]  # fmt: skip


@pytest.mark.parametrize(("manager_type", "cloud"), [("infra", False), ("cloud", True)])
def test_cloud_follows_the_manager_owning_the_vms(
    manager_type: str, cloud: bool, tmp_path: Path
) -> None:
    body = "calls:\n  get_x: {path: /x}\ncollections: {}\n"
    path = write_spec(tmp_path, f"x_{manager_type}", manager_type, body)
    spec = load_spec(str(path))
    assert spec.catalogue.collections["vms"].defaults["cloud"] is cloud
    assert spec.catalogue.collections["miq_templates"].defaults["cloud"] is cloud
    assert load_catalogue().collections["vms"].defaults["cloud"] is True
