"""Azure acceptance: replay ../shared/cassettes/azure twice, check its EXPECTED.md §5.

Each test runs on four databases: SQLite and PostgreSQL, after the first and after the second
refresh. Every refresh replays the whole cassette through a new adapter (E: §4 "each refresh in
a fresh use_cassette"), so single recordings such as the token or vmSizes serve both passes.
Matching ignores ``api-version`` (E: §4). Not replayed: the proxy-support context (E: §5.1),
which is about the Ruby HTTP client, not about inventory.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from .conftest import (
    Case,
    Replayed,
    RunCache,
    load_cassette,
    replay,
    replay_refresh,
    secrets_for,
)

CLOUD = "ManageIQ::Providers::Azure::CloudManager"
NETWORK = "ManageIQ::Providers::Azure::NetworkManager"
SUB = "AZURE_SUBSCRIPTION_ID"
RG_NET = f"/subscriptions/{SUB}/resourceGroups/miq-networking-eastus/providers/Microsoft.Network"
VNET = f"{RG_NET}/virtualNetworks/miq-vnet-eastus"
STACK = (
    f"/subscriptions/{SUB}/resourceGroups/miq-misc-eastus/providers/Microsoft.Resources/"
    "deployments/miq-template-eastus"
)
LB = f"{RG_NET}/loadBalancers/miq-lb-eastus"
TABLES = (
    "vms", "hardwares", "disks", "networks", "flavors", "availability_zones", "cloud_networks",
    "cloud_subnets", "security_groups", "firewall_rules", "floating_ips", "network_ports",
    "network_routers", "orchestration_stacks", "orchestration_templates",
    "orchestration_stack_parameters", "orchestration_stack_outputs",
    "orchestration_stack_resources", "resource_groups", "load_balancers", "cloud_databases",
    "operating_systems", "custom_attributes",
)  # fmt: skip


def _args() -> dict[str, Any]:
    s = secrets_for("azure")
    # E: §2 the factory: region eastus, tenant -> uid_ems, subscription, client id/secret.
    return {
        "provider_region": "eastus",
        "uid_ems": s["tenant_id"],
        "subscription": s["subscription_id"],
        "authentications": {"default": {"userid": s["client_id"], "password": s["client_secret"]}},
    }


# Matching ignores api-version (E: §4): the spec says so in replay.ignore_query_params.
CASE = Case(provider="azure", args=_args)


def net_id(run: Replayed) -> int:
    return run.child_ids()["NetworkManager"]


def vm(run: Replayed, name: str) -> Any:
    return run.row(
        "select * from vms where ems_id = :ems and template = :f and name = :n", f=False, n=name
    )._mapping


def as_json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def has_table(run: Replayed, table: str) -> bool:
    return sa.inspect(run.engine).has_table(table)


def ancestry_parent(value: Any) -> int | None:
    """ManageIQ's ancestry column: ``"1/5"`` -> 5 (the direct parent), ``None`` -> None."""
    return int(str(value).rsplit("/", 1)[-1]) if value else None


# ---------------------------------------------------------------- refresh status, §5.1


def test_every_refresh_succeeds_without_error(run: Replayed) -> None:
    assert [r.error for r in run.results] == [None] * run.passes
    errors = run.rows(
        "select last_refresh_error from ext_management_systems "
        "where id = :ems or parent_ems_id = :ems"
    )
    assert [e[0] for e in errors] == [None, None]


def test_ems_type_is_azure(run: Replayed) -> None:
    typ, spec = run.row("select type, spec_name from ext_management_systems where id = :ems")
    assert (typ, spec) == (CLOUD, "azure")
    assert set(run.child_ids()) == {"NetworkManager"}


def test_the_private_image_scan_reads_the_blob_recordings(run: Replayed) -> None:
    """E §6: ManageIQ lists the region's storage-account keys, then (SharedKey-signed, XML)
    each account's containers and the blobs of the non-bootdiagnostics ones: 0 private images
    (the only .vhd is leased), so no blob is HEAD-read."""
    for result, unused in zip(run.results, run.unused, strict=True):
        calls = result.collected.calls
        got = {
            n: (calls[n].status, calls[n].requests, len(calls[n].records))
            for n in (
                "list_storage_account_keys",
                "list_blob_containers",
                "list_blobs",
                "get_blob_properties",
            )
        }
        assert got == {
            "list_storage_account_keys": ("ok", 2, 2),
            "list_blob_containers": ("ok", 2, 1),  # vhds; 2 bootdiagnostics-* dropped
            "list_blobs": ("ok", 1, 0),  # miq-vm-centos-disk1.vhd is leased
            "get_blob_properties": ("ok", 0, 0),
        }
        assert not [u for u in unused if "blob.core" in u[1] or "listKeys" in u[1]]
    assert (
        run.scalar(
            "select count(*) from vms where ems_id = :ems and template = :t and uid_ems like :u",
            t=True,
            u="https://%.blob.core.windows.net/%",
        )
        == 0
    )


# ---------------------------------------------------------------- §5.2 table counts

GLOBAL_COUNTS = {
    "availability_zone": ("select count(*) from availability_zones", 1),
    "cloud_database": ("select count(*) from cloud_databases", 13),
    "cloud_network": ("select count(*) from cloud_networks", 3),
    "cloud_subnet": ("select count(*) from cloud_subnets", 3),
    "disk": ("select count(*) from disks", 11),
    "ext_management_system": ("select count(*) from ext_management_systems", 2),
    "flavor": ("select count(*) from flavors", 198),
    "floating_ip": ("select count(*) from floating_ips", 9),
    "guest_device": ("select count(*) from guest_devices", 0),
    "hardware": ("select count(*) from hardwares", 21),
    "load_balancer": ("select count(*) from load_balancers", 2),
    "load_balancer_pool": ("select count(*) from load_balancer_pools", 1),
    "load_balancer_pool_member": ("select count(*) from load_balancer_pool_members", 2),
    "load_balancer_pool_member_pool": ("select count(*) from load_balancer_pool_member_pools", 2),
    "load_balancer_listener": ("select count(*) from load_balancer_listeners", 1),
    "load_balancer_listener_pool": ("select count(*) from load_balancer_listener_pools", 1),
    "load_balancer_health_check": ("select count(*) from load_balancer_health_checks", 3),
    "load_balancer_health_check_member": (
        "select count(*) from load_balancer_health_check_members", 2),
    "miq_template": ("select count(*) from vms where template = :t", 12),
    "network": ("select count(*) from networks", 16),
    "network_port": ("select count(*) from network_ports", 11),
    "network_router": ("select count(*) from network_routers", 1),
    "operating_system": ("select count(*) from operating_systems", 10),
    "orchestration_stack": ("select count(*) from orchestration_stacks", 12),
    "orchestration_stack_output": ("select count(*) from orchestration_stack_outputs", 2),
    "orchestration_stack_parameter": ("select count(*) from orchestration_stack_parameters", 13),
    "orchestration_stack_resource": ("select count(*) from orchestration_stack_resources", 15),
    "orchestration_template": ("select count(*) from orchestration_templates", 12),
    "resource_group": ("select count(*) from resource_groups", 8),
    "security_group": ("select count(*) from security_groups", 5),
    "vm": ("select count(*) from vms where template = :f", 9),
    "vm_or_template": ("select count(*) from vms", 21),
    # "Counts that are not asserted but follow from the data"
    "firewall_rule": ("select count(*) from firewall_rules", 4),
    "cloud_database_server": ("select count(*) from cloud_database_servers", 4),
    "cloud_subnet_network_port": ("select count(*) from cloud_subnets_network_ports", 9),
}  # fmt: skip


@pytest.mark.parametrize("model", list(GLOBAL_COUNTS))
def test_table_count(run: Replayed, model: str) -> None:
    sql, count = GLOBAL_COUNTS[model]
    assert run.scalar(sql, t=True, f=False) == count


def test_relationship_count_is_zero(run: Replayed) -> None:
    # miqspec keeps the genealogy in vms.ancestry; there is no relationships table to fill.
    if has_table(run, "relationships"):
        assert run.scalar("select count(*) from relationships") == 0


EMS_COUNTS = {  # (manager: cloud or network, sql, count)
    "flavors": ("cloud", "select count(*) from flavors where ems_id = :m", 198),
    "availability_zones": ("cloud", "select count(*) from availability_zones where ems_id = :m", 1),
    "vms_and_templates": ("cloud", "select count(*) from vms where ems_id = :m", 21),
    "miq_templates": ("cloud", "select count(*) from vms where ems_id = :m and template = :t", 12),
    "orchestration_stacks": ("cloud", "select count(*) from orchestration_stacks where ems_id = :m",
                             12),
    "direct_orchestration_stacks": (
        "cloud", "select count(*) from orchestration_stacks where ems_id = :m and ancestry is null",
        11),
    "security_groups": ("network", "select count(*) from security_groups where ems_id = :m", 5),
    "network_ports": ("network", "select count(*) from network_ports where ems_id = :m", 11),
    "cloud_networks": ("network", "select count(*) from cloud_networks where ems_id = :m", 3),
    "floating_ips": ("network", "select count(*) from floating_ips where ems_id = :m", 9),
    "network_routers": ("network", "select count(*) from network_routers where ems_id = :m", 1),
    "cloud_subnets": ("network", "select count(*) from cloud_subnets where ems_id = :m", 3),
}  # fmt: skip


@pytest.mark.parametrize("association", list(EMS_COUNTS))
def test_ems_association_count(run: Replayed, association: str) -> None:
    manager, sql, count = EMS_COUNTS[association]
    owner = run.ems_id if manager == "cloud" else net_id(run)
    assert run.scalar(sql, m=owner, t=True) == count


# ---------------------------------------------------------------- §5.3 VMs

NIL_VM_FIELDS = (
    "tools_status", "boot_time", "standby_action", "cpu_affinity", "memory_reserve",
    "memory_reserve_expand", "memory_limit", "memory_shares", "memory_shares_level",
    "cpu_reserve", "cpu_reserve_expand", "cpu_limit", "cpu_shares", "cpu_shares_level",
)  # fmt: skip


def vm_ref(name: str) -> str:
    return f"{SUB}/miq-vms-eastus/microsoft.compute/virtualmachines/{name}"


def vm_ports_sql(what: str) -> str:
    """``what`` reached from a VM through its network ports (ManageIQ's has_many :through)."""
    return (
        f"select distinct {what} from network_ports p "
        "left join cloud_subnets_network_ports sp on sp.network_port_id = p.id "
        "left join cloud_subnets s on s.id = sp.cloud_subnet_id "
        "left join cloud_networks n on n.id = s.cloud_network_id "
        "left join network_ports_security_groups psg on psg.network_port_id = p.id "
        "left join floating_ips f on f.network_port_id = p.id "
        "where p.device_id = :v and p.device_type like '%Vm%'"
    )


def test_vm_powered_on_ubuntu1(run: Replayed) -> None:
    v = vm(run, "miq-vm-ubuntu1-eastus")
    assert not v["template"]
    assert v["ems_ref"] == vm_ref("miq-vm-ubuntu1-eastus")
    assert (v["uid_ems"], v["vendor"], v["power_state"], v["raw_power_state"]) == (
        "659e936f-a83c-4b87-9467-5393527d24d9", "azure", "on", "VM running")  # fmt: skip
    assert (v["location"], v["connection_state"]) == ("eastus", "connected")
    assert {f: v[f] for f in NIL_VM_FIELDS} == dict.fromkeys(NIL_VM_FIELDS)
    assert v["ems_id"] == run.ems_id
    assert v["availability_zone_id"] == run.scalar("select id from availability_zones")
    assert run.scalar("select ems_ref from flavors where id = :f", f=v["flavor_id"]) == (
        "standard_b1s"
    )
    assert (
        run.scalar(
            "select product_name from operating_systems where vm_or_template_id = :v", v=v["id"]
        )
        == "UbuntuServer 16.04 LTS"
    )


def labels(run: Replayed, vm_id: int) -> dict[str, str]:
    found = run.rows(
        "select name, value, section from custom_attributes where resource_id = :v", v=vm_id
    )
    assert {r[2] for r in found} == {"labels"}
    return {r[0]: r[1] for r in found}


@pytest.mark.parametrize("name", ["miq-vm-ubuntu1-eastus", "miq-vm-centos1-eastus"])
def test_vm_labels(run: Replayed, name: str) -> None:
    """custom_attributes 3, labels exactly {creator: dberger, specs: "true", owner: cfme}."""
    assert labels(run, vm(run, name)["id"]) == {
        "creator": "dberger", "specs": "true", "owner": "cfme"}  # fmt: skip


def test_vm_ubuntu1_snapshots_none(run: Replayed) -> None:
    v = vm(run, "miq-vm-ubuntu1-eastus")
    assert run.scalar("select count(*) from snapshots where vm_or_template_id = :v", v=v["id"]) == 0


def test_vm_ubuntu1_hardware(run: Replayed) -> None:
    v = vm(run, "miq-vm-ubuntu1-eastus")
    h = run.row("select * from hardwares where vm_or_template_id = :v", v=v["id"])._mapping
    assert (h["cpu_total_cores"], h["memory_mb"], h["disk_capacity"]) == (1, 1024, 1025 * 2**30)
    nil = ("guest_os", "guest_os_full_name", "bios", "annotation", "bitness",
           "virtualization_type")  # fmt: skip
    assert {f: h[f] for f in nil} == dict.fromkeys(nil)
    assert run.scalar("select count(*) from guest_devices where hardware_id = :h", h=h["id"]) == 0
    nets = run.rows(
        "select description, ipaddress, hostname from networks where hardware_id = :h", h=h["id"]
    )
    assert sorted(tuple(n) for n in nets) == [
        ("private", "10.0.0.4", "ipconfig1"), ("public", "40.114.95.228", "ipconfig1")]  # fmt: skip


def test_vm_ubuntu1_floating_ip_and_fixed_addresses(run: Replayed) -> None:
    v = vm(run, "miq-vm-ubuntu1-eastus")
    fips = run.rows("select address from floating_ips where vm_id = :v order by id", v=v["id"])
    assert fips and fips[0][0] == "40.114.95.228"
    ipaddresses = {
        r[0]
        for r in run.rows(
            "select n.ipaddress from networks n join hardwares h on h.id = n.hardware_id "
            "where h.vm_or_template_id = :v",
            v=v["id"],
        )
    }
    fixed = ipaddresses - {fips[0][0]}
    assert fixed == {"10.0.0.4"}


def test_vm_ubuntu1_network_and_subnet(run: Replayed) -> None:
    v = vm(run, "miq-vm-ubuntu1-eastus")
    networks = {r[0] for r in run.rows(vm_ports_sql("n.name"), v=v["id"])}
    assert networks == {"miq-vnet-eastus"}
    subnets = run.rows(vm_ports_sql("s.ems_ref"), v=v["id"])
    first = run.rows(
        "select s.ems_ref from cloud_subnets s join cloud_networks n on n.id = s.cloud_network_id "
        "where n.ems_ref = :n order by s.id",
        n=VNET,
    )[0][0]
    assert [r[0] for r in subnets] == [first]


def test_vm_powered_off_centos1(run: Replayed) -> None:
    # Ruby takes the first VM whose raw_power_state is "VM deallocated"; four eastus VMs are,
    # so the name picks the one EXPECTED describes.
    found = run.rows("select name from vms where raw_power_state = 'VM deallocated'")
    assert "miq-vm-centos1-eastus" in {r[0] for r in found}
    v = vm(run, "miq-vm-centos1-eastus")
    assert v["ems_ref"] == vm_ref("miq-vm-centos1-eastus")
    assert (v["uid_ems"], v["power_state"], v["location"], v["connection_state"]) == (
        "1cdd5a0f-8aca-4e32-b24c-c2f25c7c60e0", "off", "eastus", "connected")  # fmt: skip
    assert {f: v[f] for f in NIL_VM_FIELDS} == dict.fromkeys(NIL_VM_FIELDS)
    assert (
        run.scalar(
            "select product_name from operating_systems where vm_or_template_id = :v", v=v["id"]
        )
        == "CentOS 7.3"
    )
    fips = run.rows("select address from floating_ips where vm_id = :v order by id", v=v["id"])
    assert fips and fips[0][0] == "miq-publicip-eastus2"
    h = run.row("select * from hardwares where vm_or_template_id = :v", v=v["id"])._mapping
    assert (h["cpu_sockets"], h["memory_mb"], h["disk_capacity"], h["bitness"]) == (
        1, 1024, 1_100_585_369_600, None)  # fmt: skip
    assert run.scalar("select count(*) from disks where hardware_id = :h", h=h["id"]) == 1
    assert run.scalar("select count(*) from networks where hardware_id = :h", h=h["id"]) == 2


# ---------------------------------------------------------------- §5.3 flavor, AZ


def test_flavor_standard_b1s(run: Replayed) -> None:
    f = run.row("select * from flavors where ems_ref = 'standard_b1s'")._mapping
    assert (f["name"], f["description"], bool(f["enabled"]), f["cpu_total_cores"]) == (
        "Standard_B1s", None, True, 1)  # fmt: skip
    assert (f["memory"], f["root_disk_size"], f["swap_disk_size"]) == (
        1024 * 2**20, 1_047_552 * 2**20, 2048 * 2**20)  # fmt: skip
    nil = ("supports_32_bit", "supports_64_bit", "supports_hvm", "supports_paravirtual",
           "block_storage_based_only")  # fmt: skip
    assert {k: f[k] for k in nil} == dict.fromkeys(nil)
    assert f["ems_id"] == run.ems_id


def test_availability_zone_named_after_the_ems(run: Replayed) -> None:
    first = run.rows("select name, ems_ref from availability_zones order by id")[0]
    assert tuple(first) == (run.name, "default")


# ---------------------------------------------------------------- §5.3 network


def test_cloud_network_miq_vnet_eastus(run: Replayed) -> None:
    n = run.row("select * from cloud_networks where name = 'miq-vnet-eastus'")._mapping
    assert (n["ems_ref"], n["cidr"], n["status"], bool(n["enabled"])) == (
        VNET, "10.0.0.0/16", None, True)  # fmt: skip
    assert n["ems_id"] == net_id(run)
    ports = run.rows(
        "select p.device_id, p.device_type from network_ports p "
        "join cloud_subnets_network_ports sp on sp.network_port_id = p.id "
        "join cloud_subnets s on s.id = sp.cloud_subnet_id where s.cloud_network_id = :n",
        n=n["id"],
    )
    assert len(ports) >= 1
    vm_ids = {p[0] for p in ports if p[1] and "Vm" in p[1]}
    assert vm(run, "miq-vm-ubuntu1-eastus")["id"] in vm_ids
    assert run.scalar("select count(*) from cloud_subnets where cloud_network_id = :n",
                      n=n["id"]) == 1  # fmt: skip


def test_cloud_subnet_default(run: Replayed) -> None:
    s = run.row("select * from cloud_subnets where ems_ref = :r", r=f"{VNET}/subnets/default")
    s = s._mapping
    assert (s["name"], s["cidr"]) == ("default", "10.0.0.0/24")
    assert s["availability_zone_id"] == run.scalar("select id from availability_zones")
    v = vm(run, "miq-vm-ubuntu1-eastus")
    for what in ("s.id", "p.id", "psg.security_group_id", "f.id"):
        found = [r[0] for r in run.rows(vm_ports_sql(what), v=v["id"]) if r[0] is not None]
        assert len(found) >= 1, what


def test_security_group_miq_nsg_eastus1(run: Replayed) -> None:
    sg = run.row("select id, description from security_groups where name = 'miq-nsg-eastus1'")
    assert sg[1] == "miq-networking-eastus-eastus"
    rules = run.rows(
        "select host_protocol, direction, port, end_port, source_ip_range from firewall_rules "
        "where resource_id = :s order by host_protocol, direction, port",
        s=sg[0],
    )
    assert [tuple(r) for r in rules] == [
        ("TCP", "Inbound", 22, 22, "*"),
        ("TCP", "Inbound", 80, 80, "*"),
        ("TCP", "Inbound", 443, 443, "*"),
    ]


def test_floating_ip_miq_publicip_eastus1_and_its_port(run: Replayed) -> None:
    f = run.row(
        "select status, address, network_port_id, vm_id from floating_ips where ems_ref = :r",
        r=f"{RG_NET}/publicIPAddresses/miq-publicip-eastus1",
    )
    assert (f[0], f[1]) == ("Succeeded", "40.114.95.228")
    port = run.row(
        "select ems_ref, status, name, device_id, device_type from network_ports where id = :p",
        p=f[2],
    )
    assert tuple(port[:3]) == (f"{RG_NET}/networkInterfaces/miq-nic-eastus1", "Succeeded",
                               "miq-nic-eastus1")  # fmt: skip
    assert port[3] == f[3] is not None
    assert "Vm" in port[4]


def test_load_balancer_floating_ip_port_belongs_to_the_lb(run: Replayed) -> None:
    device_id, device_type = run.row(
        "select p.device_id, p.device_type from floating_ips f "
        "join network_ports p on p.id = f.network_port_id where f.address = '40.76.218.17'"
    )
    assert "LoadBalancer" in device_type
    assert run.scalar("select name from load_balancers where id = :i", i=device_id) == (
        "miq-lb-eastus"
    )


def test_network_router_route_table(run: Replayed) -> None:
    status, typ, extra = run.row(
        "select status, type, extra_attributes from network_routers "
        "where name = 'miq-route-table-eastus1'"
    )
    assert (status, typ) == ("inactive", f"{NETWORK}::NetworkRouter")
    assert as_json(extra)["routes"] == [
        {"Name": "miq-route-eastus1", "Resource Group": "miq-networking-eastus",
         "CIDR": "10.0.0.0/16"}]  # fmt: skip


# ---------------------------------------------------------------- §5.3 disks, resource groups


def test_disk_ubuntu_unmanaged(run: Replayed) -> None:
    location, size = run.row(
        "select location, size from disks where device_name = 'miq-vm-ubuntu-disk1'"
    )
    assert (
        location == "https://miqunmanagedeastus.blob.core.windows.net/vhds/miq-vm-ubuntu-disk1.vhd"
    )
    assert size == 32_212_254_720


def test_disks_of_sles1_and_its_managed_disk(run: Replayed) -> None:
    v = vm(run, "miq-vm-sles1-eastus")
    disks = run.rows(
        "select d.device_name, d.location, d.size, d.mode from disks d "
        "join hardwares h on h.id = d.hardware_id where h.vm_or_template_id = :v",
        v=v["id"],
    )
    assert sorted(d[0] for d in disks) == ["miq-data-disk-eastus1", "miq-vm-sles1-disk"]
    _, location, size, mode = next(d for d in disks if d[0] == "miq-vm-sles1-disk")
    assert (
        location.lower()
        == (
            f"/subscriptions/{SUB}/resourceGroups/miq-vms-eastus/providers/Microsoft.Compute/"
            "disks/miq-vm-sles1-disk"
        ).lower()
    )
    assert (size, mode) == (30 * 2**30, "Standard_LRS")


@pytest.mark.parametrize(("name", "group"), [
    ("miq-vm-ubuntu1-eastus", "miq-vms-eastus"),
    ("miq-vm-rhel2-mismatch", "miq-vms-westus"),  # an eastus VM in a westus resource group
])  # fmt: skip
def test_vm_resource_group(run: Replayed, name: str, group: str) -> None:
    rg = vm(run, name)["resource_group_id"]
    assert run.scalar("select name from resource_groups where id = :r", r=rg) == group


def test_resource_group_refs_are_lower_case(run: Replayed) -> None:
    refs = [r[0] for r in run.rows("select ems_ref from resource_groups")]
    assert f"/subscriptions/{SUB.lower()}/resourcegroups/miq-vms-eastus" in refs
    assert all(r == r.lower() for r in refs)


# ---------------------------------------------------------------- §5.3 orchestration


def stack(run: Replayed) -> Any:
    return run.row("select * from orchestration_stacks where ems_ref = :r", r=STACK)._mapping


def test_orchestration_template_miq_template_eastus(run: Replayed) -> None:
    tid = stack(run)["orchestration_template_id"]
    name, desc, content = run.row(
        "select name, description, content from orchestration_templates where id = :t", t=tid
    )
    assert name == "miq-template-eastus"
    assert desc.startswith("contentVersion:")
    assert content.startswith(
        '{"$schema":"https://schema.management.azure.com/schemas/2015-01-01/deploymentTemplate.json'
    )


def test_stack_miq_template_eastus(run: Replayed) -> None:
    s = stack(run)
    assert (s["name"], s["status"], s["description"], s["resource_group"]) == (
        "miq-template-eastus", "Succeeded", "miq-template-eastus", "miq-misc-eastus")  # fmt: skip
    assert s["ems_id"] == run.ems_id


def test_stack_parameters(run: Replayed) -> None:
    params = run.rows(
        "select name, value, ems_ref from orchestration_stack_parameters where stack_id = :s",
        s=stack(run)["id"],
    )
    assert len(params) == 5
    admin = next(p for p in params if p[0] == "adminUsername")
    assert tuple(admin[1:]) == ("miq-admin-username", f"{STACK}/adminUsername")


def test_stack_resources(run: Replayed) -> None:
    resources = run.rows(
        "select name, resource_category, resource_status, resource_status_reason, ems_ref "
        "from orchestration_stack_resources where stack_id = :s",
        s=stack(run)["id"],
    )
    assert len(resources) == 4
    aset = next(r for r in resources if r[0] == "miq-availability-set-deployment-eastus")
    assert tuple(aset[1:4]) == ("Microsoft.Compute/availabilitySets", "Succeeded", "OK")
    assert (
        aset[4]
        .lower()
        .endswith(
            "/providers/microsoft.compute/availabilitysets/miq-availability-set-deployment-eastus"
        )
    )


def test_stack_outputs(run: Replayed) -> None:
    outputs = run.rows(
        "select key, description, value, ems_ref from orchestration_stack_outputs "
        "where stack_id = :s order by id",
        s=stack(run)["id"],
    )
    assert len(outputs) == 2
    assert tuple(outputs[0]) == (
        "availabilitySetName", "availabilitySetName", "miq-availability-set-deployment-eastus",
        f"{STACK}/availabilitySetName")  # fmt: skip


def test_child_stack_miq_nested_template(run: Replayed) -> None:
    parent = stack(run)
    child = run.row(
        "select ems_id, ancestry, orchestration_template_id from orchestration_stacks "
        "where name = 'miq-nested-template'"
    )
    assert child[0] == run.ems_id
    assert ancestry_parent(child[1]) == parent["id"]
    assert child[2] is not None and child[2] != parent["orchestration_template_id"]


def test_cloud_network_of_the_stack(run: Replayed) -> None:
    sid = run.scalar(
        "select orchestration_stack_id from cloud_networks "
        "where name = 'miq-vnet-deployment-eastus'"
    )
    assert sid == stack(run)["id"]


# ---------------------------------------------------------------- §5.3 load balancers

LB_POOLS = (
    "select distinct p.id, p.name from load_balancer_listeners l "
    "join load_balancer_listener_pools lp on lp.load_balancer_listener_id = l.id "
    "join load_balancer_pools p on p.id = lp.load_balancer_pool_id where l.load_balancer_id = :b"
)
LB_MEMBERS = (
    "select distinct m.id, m.ems_ref, m.vm_id from load_balancer_listeners l "
    "join load_balancer_listener_pools lp on lp.load_balancer_listener_id = l.id "
    "join load_balancer_pool_member_pools mp "
    "on mp.load_balancer_pool_id = lp.load_balancer_pool_id "
    "join load_balancer_pool_members m on m.id = mp.load_balancer_pool_member_id "
    "where l.load_balancer_id = :b"
)


def lb(run: Replayed, name: str) -> Any:
    return run.row("select * from load_balancers where name = :n", n=name)._mapping


def test_load_balancer_miq_lb_eastus(run: Replayed) -> None:
    b = lb(run, "miq-lb-eastus")
    assert (b["ems_ref"], b["description"]) == (LB, None)
    assert [p[1] for p in run.rows(LB_POOLS, b=b["id"])] == ["miq-backend-pool1"]
    members = run.rows(LB_MEMBERS, b=b["id"])
    assert sorted(m[1].split("/networkInterfaces/")[1] for m in members) == [
        "miq-nic1-lb-eastus/ipConfigurations/ipconfig1",
        "miq-nic2-lb-eastus/ipConfigurations/ipconfig1",
    ]
    vms = {
        r[0]
        for r in run.rows(
            LB_MEMBERS.replace("m.id, m.ems_ref, m.vm_id", "v.name").replace(
                " where ", " join vms v on v.id = m.vm_id where "
            ),
            b=b["id"],
        )
    }
    assert vms == {"miq-vm1-lb-eastus", "miq-vm2-lb-eastus"}


def test_load_balancer_listener_rule1(run: Replayed) -> None:
    row = run.row(
        "select name, load_balancer_protocol, instance_protocol, load_balancer_port_range, "
        "instance_port_range from load_balancer_listeners where ems_ref = :r",
        r=f"{LB}/loadBalancingRules/miq-lb-rule1",
    )
    assert row[0] is None
    assert (row[1], row[2]) == ("Tcp", "Tcp")
    assert (str(row[3]), str(row[4])) == ("[80,81)", "[80,81)")  # 80...81, exclusive end


def test_load_balancer_health_check_probe1(run: Replayed) -> None:
    hid, protocol, port, url_path, interval = run.row(
        "select id, protocol, port, url_path, interval from load_balancer_health_checks "
        "where ems_ref = :r",
        r=f"{LB}/probes/miq-lb-health-probe1",
    )
    assert (protocol, port, url_path, interval) == ("Http", 80, "/", 15)
    assert (
        run.scalar(
            "select count(*) from load_balancer_health_check_members "
            "where load_balancer_health_check_id = :h",
            h=hid,
        )
        == 2
    )


def test_load_balancer_miq_lb_eastus2(run: Replayed) -> None:
    b = lb(run, "miq-lb-eastus2")
    assert run.rows(LB_MEMBERS, b=b["id"]) == []
    assert (
        run.scalar(
            "select count(*) from load_balancer_listeners where load_balancer_id = :b", b=b["id"]
        )
        == 0
    )
    assert (
        run.scalar(
            "select count(*) from load_balancer_health_checks where load_balancer_id = :b",
            b=b["id"],
        )
        == 1
    )


# ---------------------------------------------------------------- §5.3 cloud databases


@pytest.mark.parametrize(("name", "engine", "status"), [
    ("db-test/miq-test", "SQL Server 12.0", None),
    ("pg-test/postgres", "PostgreSQL 11", "Ready"),
])  # fmt: skip
def test_cloud_database(run: Replayed, name: str, engine: str, status: str | None) -> None:
    got_engine, got_status, group = run.row(
        "select d.db_engine, d.status, g.name from cloud_databases d "
        "left join resource_groups g on g.id = d.resource_group_id where d.name = :n",
        n=name,
    )
    assert (got_engine, group) == (engine, "miq-misc-eastus")
    if status:
        assert got_status == status


# ---------------------------------------------------------------- second refresh


def test_second_refresh_keeps_every_row(runs: RunCache) -> None:
    """E: §5.1 "The second run must leave everything unchanged"."""
    run = runs.get("sqlite", 2)
    first, second = run.snapshots
    for table in TABLES:
        assert second[table] == first[table], table


# ---------------------------------------------------------------- §5.1 settings contexts


def _spec_variant(tmp: Path, edit: Any) -> Path:
    """A copy of the azure spec with its settings edited (the ``ems_refresh.azure`` variants)."""
    from .conftest import SPECS

    folder = tmp / "specs"
    folder.mkdir(exist_ok=True)
    text = edit((SPECS / "azure.yaml").read_text())
    (folder / "azure.yaml").write_text(text)
    return folder


URNS_4 = [
    "Canonical:UbuntuServer:18_04-lts-gen2:18.04.202209210",
    "OpenLogic:CentOS:7.5:7.5.201808150",
    "RedHat:RHEL:8_5:8.5.2022061001",
    "MicrosoftWindowsServer:WindowsServer:2019-Datacenter:2019.0.20190410",
]


def _no_market_images(text: str) -> str:
    return text.replace("get_market_images: true", "get_market_images: false", 1)


def _four_market_images(text: str) -> str:
    block = "".join(f"      - {u}\n" for u in URNS_4)
    return re.sub(r"(    market_image_urns:\n)(      - .*\n)+", lambda m: m.group(1) + block, text)


@pytest.mark.parametrize(("edit", "public"), [(_no_market_images, 0), (_four_market_images, 4)])
def test_market_image_settings(
    edit: Any, public: int, tmp_path: Path, acceptance_databases: Any, pg_skip_reason: str | None
) -> None:
    """E: §5.1 get_market_images false -> 0 publicly available; a 4-URN list -> 4."""
    case = replace(CASE, spec_dir=_spec_variant(tmp_path, edit))
    run = replay(case, "sqlite", 1, acceptance_databases, pg_skip_reason)
    assert run.results[0].error is None
    assert run.scalar("select count(*) from vms where publicly_available = :t", t=True) == public


def _without_deployments(cassette: Any) -> Any:
    empty = json.dumps({"value": []}).encode()
    items = [
        replace(i, response_body=empty)
        if i.method == "get" and i.uri.split("?")[0].endswith("/Microsoft.Resources/deployments")
        else i
        for i in cassette.interactions
    ]
    return replace(cassette, interactions=items)


def test_no_deployments_means_no_stacks(
    acceptance_databases: Any, pg_skip_reason: str | None
) -> None:
    """E: §5.1 "if the deployment service is stubbed to list nothing, OrchestrationStack.count
    is 0"."""
    run = replay(CASE, "sqlite", 0, acceptance_databases, pg_skip_reason)
    result = replay_refresh(run, _without_deployments(load_cassette(CASE)))
    assert result.error is None
    assert run.scalar("select count(*) from orchestration_stacks") == 0
    assert run.scalar("select count(*) from vms where template = :f", f=False) == 9
