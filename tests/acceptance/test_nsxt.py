"""NSX-T acceptance: replay ../shared/cassettes/nsxt twice, check every item of its EXPECTED.md.

Each test runs on four databases: SQLite and PostgreSQL, after the first and after the second
refresh (``run`` ids ``sqlite-refresh1`` ... ``postgresql-refresh2``).
"""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import Case, Replayed, RunCache, secrets_for

PREFIX = "ManageIQ::Providers::Nsxt::NetworkManager::"
NETWORK = "d5204c40-6a90-11ea-a5b5-f9815823238c"
SUBNET = f"{NETWORK}-192.168.12.0/24"
POLICY = "e2bc6e10-6a27-11ea-98a6-5d1d088ebb0c"
RULE = "1717e720-6a28-11ea-98a6-5d1d088ebb0c"
TABLES = (
    "cloud_networks",
    "cloud_subnets",
    "network_services",
    "network_service_entries",
    "network_routers",
    "security_groups",
    "security_policies",
    "security_policy_rules",
    "cloud_tenants",
)


def _args() -> dict[str, Any]:
    s = secrets_for("nsxt")
    # E: "Host nsxthostname, security protocol ssl"; 443 is the https default.
    return {
        "endpoints": {
            "default": {
                "security_protocol": "ssl-no-validation",
                "hostname": s["hostname"],
                "port": 443,
            }
        },
        "authentications": {"default": {"userid": s["username"], "password": s["password"]}},
    }


CASE = Case(provider="nsxt", args=_args)


def test_every_refresh_succeeds_without_error(run: Replayed) -> None:
    assert [r.error for r in run.results] == [None] * run.passes
    assert all(r.ok for r in run.results)
    assert (
        run.scalar("select last_refresh_error from ext_management_systems where id = :ems") is None
    )


def test_refresh_uses_every_recording_but_the_verify_call(run: Replayed) -> None:
    # The license check (GET /api/v1/license) belongs to verify; the refresh needs the rest.
    for unused in run.unused:
        assert [(m, u.rsplit("/", 2)[-1]) for m, u in unused] == [("GET", "license")]


@pytest.mark.parametrize(
    ("table", "count"),
    [
        ("cloud_networks", 32),
        ("cloud_subnets", 33),
        ("network_services", 410),
        ("network_service_entries", 802),
        ("network_routers", 10),
        ("security_groups", 48),
        ("security_policies", 25),
        ("security_policy_rules", 39),
    ],
)
def test_count(run: Replayed, table: str, count: int) -> None:
    assert run.scalar(f"select count(*) from {table} where ems_id = :ems") == count


def test_network_service_ad_server_and_its_single_entry(run: Replayed) -> None:
    sid, typ, name, desc = run.row(
        "select id, type, name, description from network_services "
        "where ems_id = :ems and ems_ref = 'AD_Server'"
    )
    assert (typ, name, desc) == (PREFIX + "NetworkService", "AD Server", "AD Server")
    entries = run.rows(
        "select type, name, description, ems_ref, protocol, source_ports, destination_ports "
        "from network_service_entries where network_service_id = :s",
        s=sid,
    )
    assert len(entries) == 1
    typ, name, desc, ems_ref, protocol, sports, dports = entries[0]
    assert (typ, name, ems_ref) == (
        PREFIX + "NetworkServiceEntry",
        "AD Server",
        "AD_Server-AD_Server",
    )
    assert not desc  # "description empty"
    assert (protocol, sports, dports) == ("TCP", "ANY", "1024")


def test_first_cloud_network(run: Replayed) -> None:
    first = run.rows("select ems_ref from cloud_networks where ems_id = :ems order by id")[0]
    assert first[0] == NETWORK
    name, cidr, status, enabled, typ, desc = run.row(
        "select name, cidr, status, enabled, type, description from cloud_networks "
        "where ems_id = :ems and ems_ref = :r",
        r=NETWORK,
    )
    assert (name, status, bool(enabled), typ) == (
        "192.168.12.0",
        "active",
        True,
        PREFIX + "CloudNetwork",
    )
    assert not cidr and not desc  # "cidr empty", "description empty"


def test_cloud_subnet_and_its_router(run: Replayed) -> None:
    name, cidr, dhcp, gateway, typ, router, network = run.row(
        "select s.name, s.cidr, s.dhcp_enabled, s.gateway, s.type, r.ems_ref, n.ems_ref "
        "from cloud_subnets s left join network_routers r on r.id = s.network_router_id "
        "left join cloud_networks n on n.id = s.cloud_network_id "
        "where s.ems_id = :ems and s.ems_ref = :r",
        r=SUBNET,
    )
    assert (name, cidr, gateway, typ) == (
        "192.168.12.0-192.168.12.0/24",
        "192.168.12.0/24",
        "192.168.12.1",
        PREFIX + "CloudSubnet",
    )
    assert dhcp is not None and not dhcp
    assert router == "T1-imro"
    assert network == NETWORK


def test_network_router_t1_imro(run: Replayed) -> None:
    rid, name, status = run.row(
        "select id, name, status from network_routers where ems_id = :ems and ems_ref = 'T1-imro'"
    )
    assert (name, status) == ("T1-imro", "active")
    subnets = {
        r[0]
        for r in run.rows("select ems_ref from cloud_subnets where network_router_id = :r", r=rid)
    }
    assert len(subnets) == 2
    assert SUBNET in subnets


def test_security_group_dhcp_imro(run: Replayed) -> None:
    name, desc, typ = run.row(
        "select name, description, type from security_groups "
        "where ems_id = :ems and ems_ref = 'DHCP-imro'"
    )
    assert (name, typ) == ("DHCP-imro", PREFIX + "SecurityGroup")
    assert not desc


def test_security_policy_dhcp(run: Replayed) -> None:
    pid, typ, name, desc, seq = run.row(
        "select id, type, name, description, sequence_number from security_policies "
        "where ems_id = :ems and ems_ref = :r",
        r=POLICY,
    )
    assert (typ, name, seq) == (PREFIX + "SecurityPolicy", "DHCP", 10)
    assert not desc
    rules = run.rows(
        "select ems_ref from security_policy_rules where security_policy_id = :p", p=pid
    )
    assert [r[0] for r in rules] == [RULE]


def test_security_policy_rule_dhcp_all(run: Replayed) -> None:
    typ, name, desc, seq, status, action, direction, proto, policy = run.row(
        "select r.type, r.name, r.description, r.sequence_number, r.status, r.action, "
        "r.direction, r.ip_protocol, p.ems_ref from security_policy_rules r "
        "left join security_policies p on p.id = r.security_policy_id "
        "where r.ems_id = :ems and r.ems_ref = :r",
        r=RULE,
    )
    assert (typ, name, seq, status) == (PREFIX + "SecurityPolicyRule", "DHCP-all", 10, "active")
    assert (action, direction, proto, policy) == ("ALLOW", "IN_OUT", "IPV4_IPV6", POLICY)
    assert not desc


def test_second_refresh_keeps_every_row(runs: RunCache) -> None:
    """E: "The refresh is run twice": the second one neither deletes nor re-creates rows."""
    run = runs.get("sqlite", 2)
    first, second = run.snapshots
    for table in TABLES:
        assert second[table] == first[table], table
