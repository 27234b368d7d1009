"""The inventory catalogue (schemas/inventory.yaml) against ManageIQ's reference and the cassettes.

The ManageIQ facts are read from ../shared/reference/manageiq-model.md and the practice
providers' EXPECTED.md files; those tests skip when the shared folder is absent.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from miqspec.errors import SpecError
from miqspec.spec.catalogue import (
    COLUMN_TYPES,
    Catalogue,
    catalogue_path,
    load_catalogue,
    parse_catalogue,
)

SHARED = Path(__file__).resolve().parents[3] / "shared"
REFERENCE = SHARED / "reference" / "manageiq-model.md"
CASSETTES = SHARED / "cassettes"

# Collections the reference lists that the catalogue deliberately leaves out (see the header of
# schemas/inventory.yaml): processors without a table, tag taggings, the automation vms override.
OMITTED = {
    "vm_and_template_taggings",
    "vm_and_miq_template_ancestry",
    "parent_blue_folders",
    "vm_parent_blue_folders",
}


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue()


def reference_text() -> str:
    if not REFERENCE.exists():
        pytest.skip(f"reference not available at {REFERENCE}")
    return REFERENCE.read_text(encoding="utf-8")


def section(text: str, number: str) -> str:
    found = re.search(rf"### {re.escape(number)}[^\n]*\n(.*?)(?=\n### |\n## |\Z)", text, re.S)
    assert found, f"section {number} missing from the reference"
    return found.group(1)


def catalogue_rows(text: str) -> list[tuple[list[str], str, str]]:
    """(collection names, manager_ref cell, first cell) per row of the §1.2/§6.2/§7.2 tables."""
    rows = []
    for number in ("1.2", "6.2", "7.2"):
        for line in section(text, number).splitlines():
            if not line.startswith("| `"):
                continue
            cells = [c.strip() for c in line.split("|")[1:-1]]
            names = re.split(r"\s*[,/]\s*", cells[0].split(" (")[0].replace("`", ""))
            base = names[0].rsplit("_", 1)[0]
            names = [base + n if n.startswith("_") else n for n in names]
            rows.append((names, cells[2], cells[0]))
    return rows


def test_shipped_catalogue_loads_with_known_column_types(catalogue: Catalogue) -> None:
    assert catalogue_path().name == "inventory.yaml"
    assert len(catalogue.collections) > 80
    for coll in catalogue.collections.values():
        assert set(coll.columns.values()) <= set(COLUMN_TYPES), coll.name
    for table in catalogue.tables.values():
        assert set(table.columns.values()) <= set(COLUMN_TYPES), table.name


def test_every_reference_collection_is_in_the_catalogue(catalogue: Catalogue) -> None:
    rows = catalogue_rows(reference_text())
    listed = set()
    for names, _ref, _cell in rows:
        for name in names:
            if name.endswith("*"):
                prefix = name.rstrip("*")
                matches = [c for c in catalogue.collections if c.startswith(prefix)]
                assert matches, f"no collection matches {name}"
                listed.update(matches)
            else:
                listed.add(name)
    assert len(listed) > 70
    assert sorted(listed - OMITTED - set(catalogue.collections)) == []


def test_manager_refs_match_the_reference(catalogue: Catalogue) -> None:
    compared = 0
    for names, cell, first in catalogue_rows(reference_text()):
        refs = [r.strip().strip("*") for r in cell.split(" / ")]
        if len(refs) != len(names):
            refs = refs[:1] * len(names) if len(names) > 1 and len(refs) == 1 else []
        for name, ref in zip(names, refs, strict=False):
            if name in OMITTED or "override" in first or name not in catalogue.collections:
                continue
            parsed = re.fullmatch(r"\[([\w, ]+)\]", ref)
            expected = [p.strip() for p in parsed.group(1).split(",")] if parsed else None
            if ref == "ems_ref":
                expected = ["ems_ref"]
            if expected is None:
                continue
            assert list(catalogue.collections[name].manager_ref) == expected, name
            compared += 1
    assert compared > 40


def test_timestamps_follow_the_reference(catalogue: Catalogue) -> None:
    text = reference_text()
    expected: dict[str, tuple[str, ...]] = {}
    para = re.search(r"\*\*Timestamp names differ by table\.\*\*(.*)", text)
    assert para
    for label, tables in re.findall(r"(`created_\w+`/`updated_\w+`|None): ([^.]*)\.", para[1]):
        stamps = tuple(re.findall(r"`(\w+)`", label))
        for table in re.findall(r"`(\w+)`", tables):
            expected[table] = stamps
    for number in ("6.3", "7.3"):
        for table, note in re.findall(
            r"^- \*\*`(\w+)`\*\* \(([^)]*)\)", section(text, number), re.M
        ):
            if "no timestamps" in note:
                expected[table] = ()
            elif "created_" in note:
                expected[table] = tuple(re.findall(r"`(\w+)`", note))
    assert len(expected) > 25
    checked = 0
    for coll in catalogue.collections.values():
        if coll.table in expected:
            assert coll.timestamps == expected[coll.table], coll.name
            checked += 1
    assert checked > 30


def test_columns_never_repeat_id_owner_or_reference_columns(catalogue: Catalogue) -> None:
    owner_cols = {
        "ems_id": {"ems_id"},
        "manager_id": {"manager_id"},
        "resource": {"resource_id", "resource_type"},
        "parent": {"parent_id", "parent_type"},
        "none": set(),
    }
    for coll in catalogue.collections.values():
        ref_cols = {r.column for r in coll.references.values()}
        ref_cols |= {r.type_column for r in coll.references.values() if r.type_column}
        clash = set(coll.columns) & (ref_cols | owner_cols[coll.owner] | {"id"})
        assert not clash, f"{coll.name}: {clash}"
        assert not (coll.sti and "type" in coll.columns), coll.name
        assert set(coll.timestamps).isdisjoint(coll.columns), coll.name


def test_shared_tables_are_scoped(catalogue: Catalogue) -> None:
    vms, templates = catalogue.collections["vms"], catalogue.collections["miq_templates"]
    assert vms.table == templates.table == "vms"
    assert vms.scope == {"template": False} and templates.scope == {"template": True}
    assert vms.delete == templates.delete == "disconnect"
    scripts = catalogue.collections["configuration_scripts"]
    payloads = catalogue.collections["configuration_script_payloads"]
    assert scripts.table == payloads.table == "configuration_scripts"
    # scripts select rows without a source; payloads are owned through their source
    source_ref = payloads.references["configuration_script_source"]
    assert scripts.scope == {source_ref.column: None}
    assert payloads.owner == "none" and payloads.manager_ref[0] == "configuration_script_source"
    for name in ("credentials", "auth_key_pairs"):
        coll = catalogue.collections[name]
        assert (coll.table, coll.owner, coll.scope) == (
            "authentications",
            "resource",
            {"authtype": None},
        )


def test_lookup_and_provider_collections(catalogue: Catalogue) -> None:
    cross = catalogue.collections["cross_link_vms"]
    assert (cross.table, cross.delete, cross.owner) == ("vms", "none", "none")
    assert cross.secondary_refs == {"by_uid_ems": ("uid_ems",)}
    assert catalogue.collections["auth_key_pairs"].manager_ref == ("name",)
    rules = catalogue.collections["firewall_rules"]
    assert rules.manager_ref_allowed_nil == ("source_security_group",)
    assert catalogue.collections["vms"].references["genealogy_parent"].kind == "ancestry"
    assert catalogue.collections["orchestration_stacks"].references["parent"].kind == "ancestry"


def _expected(provider: str) -> str:
    path = CASSETTES / provider / "EXPECTED.md"
    if not path.exists():
        pytest.skip(f"cassettes not available at {path}")
    return path.read_text(encoding="utf-8")


def _count_names(text: str) -> list[str]:
    """First words of the rows of the count tables (`| name ... | 12 |`)."""
    names = []
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        for i in range(len(cells) - 1):  # azure puts two (model, count) pairs per row
            if re.fullmatch(r"[a-z_]+( \(.*\))?", cells[i]) and cells[i + 1].isdigit():
                names.append(cells[i].split(" ")[0])
    return names


@pytest.mark.parametrize("provider", ["awx", "nsxt", "azure"])
def test_counted_collections_exist(catalogue: Catalogue, provider: str) -> None:
    names = _count_names(_expected(provider))
    assert len(names) >= 6
    tables = {c.table for c in catalogue.collections.values()} | set(catalogue.tables)
    aliases = {
        "inventory_groups": "inventory_root_groups",
        "vm_or_template": "vms",
        "ext_management_system": "ext_management_system",
    }
    unmodelled = {"relationship"}  # the ems_metadata tree (asserted to be empty)
    for name in names:
        name = aliases.get(name, name)
        if name in unmodelled:
            continue
        assert {name, name + "s"} & (set(catalogue.collections) | tables), name


# Attributes the practice providers' refresh tests assert (EXPECTED.md), per collection.
ASSERTED = {
    "nsxt": {
        "network_services": "name description ems_ref type",
        "network_service_entries": "name description ems_ref protocol source_ports "
        "destination_ports network_service",
        "cloud_networks": "name ems_ref cidr status enabled description",
        "cloud_subnets": "ems_ref name cidr dhcp_enabled gateway network_router",
        "network_routers": "name status ems_ref",
        "security_groups": "name description",
        "security_policies": "ems_ref name description sequence_number",
        "security_policy_rules": "name description sequence_number status action direction "
        "ip_protocol security_policy",
    },
    "awx": {
        "configured_systems": "hostname manager_ref virtual_instance_ref counterpart "
        "inventory_root_group",
        "inventory_root_groups": "ems_ref name",
        "configuration_scripts": "name description manager_ref parent variables survey_spec",
        "configuration_script_payloads": "name configuration_script_source manager_ref",
        "configuration_script_sources": "name description scm_type scm_url scm_branch "
        "scm_clean scm_delete_on_update scm_update_on_launch status last_update_error "
        "authentication",
        "credentials": "manager_ref name userid options",
        "authentication_configuration_script_bases": "configuration_script_base authentication",
        "ext_management_system": "api_version",
    },
    "azure": {
        "vms": "template ems_ref uid_ems vendor power_state raw_power_state location "
        "connection_state tools_status boot_time standby_action cpu_affinity memory_reserve "
        "memory_reserve_expand memory_limit memory_shares memory_shares_level cpu_reserve "
        "cpu_reserve_expand cpu_limit cpu_shares cpu_shares_level flavor availability_zone "
        "resource_group orchestration_stack genealogy_parent key_pairs",
        "hardwares": "cpu_sockets memory_mb disk_capacity guest_os guest_os_full_name bios "
        "annotation bitness virtualization_type cpu_total_cores vm_or_template",
        "networks": "description ipaddress hostname hardware",
        "disks": "device_name location size mode disk_type controller_type device_type",
        "operating_systems": "product_name vm_or_template",
        "vm_and_template_labels": "resource name section source value",
        "flavors": "ems_ref name description enabled cpu_total_cores memory root_disk_size "
        "swap_disk_size supports_32_bit supports_64_bit supports_hvm supports_paravirtual "
        "block_storage_based_only",
        "availability_zones": "name ems_ref",
        "cloud_networks": "ems_ref cidr status enabled orchestration_stack",
        "cloud_subnets": "ems_ref cidr availability_zone cloud_network network_router",
        "security_groups": "description name",
        "firewall_rules": "host_protocol direction port end_port source_ip_range resource "
        "source_security_group",
        "floating_ips": "status address network_port vm fixed_ip_address",
        "network_ports": "status name ems_ref mac_address device_ref device security_groups source",
        "cloud_subnet_network_ports": "address cloud_subnet network_port",
        "network_routers": "status extra_attributes name",
        "orchestration_templates": "description content ems_ref name orderable",
        "orchestration_stacks": "status description resource_group ems_ref parent "
        "orchestration_template finish_time",
        "orchestration_stacks_parameters": "name value ems_ref stack",
        "orchestration_stacks_resources": "name logical_resource physical_resource "
        "resource_category resource_status resource_status_reason ems_ref last_updated stack",
        "orchestration_stacks_outputs": "key description value ems_ref stack",
        "load_balancers": "description name",
        "load_balancer_pools": "name",
        "load_balancer_pool_members": "address vm network_port",
        "load_balancer_listeners": "name load_balancer_protocol instance_protocol "
        "load_balancer_port_range instance_port_range load_balancer",
        "load_balancer_health_checks": "protocol port url_path interval load_balancer "
        "load_balancer_listener",
        "load_balancer_health_check_members": "load_balancer_health_check "
        "load_balancer_pool_member",
        "load_balancer_pool_member_pools": "load_balancer_pool load_balancer_pool_member",
        "load_balancer_listener_pools": "load_balancer_listener load_balancer_pool",
        "cloud_databases": "name ems_ref db_engine status resource_group",
        "resource_groups": "name ems_ref",
        "miq_templates": "ems_ref uid_ems name description location vendor raw_power_state "
        "template publicly_available resource_group",
    },
}


@pytest.mark.parametrize("provider", sorted(ASSERTED))
def test_asserted_attributes_exist(catalogue: Catalogue, provider: str) -> None:
    _expected(provider)
    for name, attrs in ASSERTED[provider].items():
        coll = catalogue.collections[name]
        missing = set(attrs.split()) - coll.attribute_names()
        assert not missing, f"{name}: {sorted(missing)}"


def test_reference_kind_is_parsed_and_checked() -> None:
    raw = yaml.safe_load("""
    collections:
      stacks:
        table: stacks
        columns: {name: string}
        references:
          parent: {collection: stacks, column: ancestry, kind: ancestry}
          owner_stack: {collection: stacks}
    """)
    coll = parse_catalogue(raw).collections["stacks"]
    assert coll.references["parent"].kind == "ancestry"
    assert coll.references["owner_stack"].kind == "id"
    assert coll.references["owner_stack"].column == "owner_stack_id"
    raw["collections"]["stacks"]["references"]["parent"]["kind"] = "path"
    with pytest.raises(SpecError, match="collection 'stacks' is malformed: reference kind"):
        parse_catalogue(raw)


def test_spec_models_extend_and_override(catalogue: Catalogue) -> None:
    extended = catalogue.with_models(
        {
            "widgets": {"table": "widgets", "columns": {"name": "string"}},
            "networks": {
                "table": "networks",
                "owner": "none",
                "manager_ref": ["hardware", "ipaddress", "ipv6address"],
                "parent_collections": ["hardwares"],
                "columns": {"ipaddress": "string", "ipv6address": "string"},
                "references": {"hardware": {"collection": "hardwares"}},
            },
        }
    )
    assert extended.collections["widgets"].manager_ref == ("ems_ref",)
    assert extended.collections["networks"].manager_ref == ("hardware", "ipaddress", "ipv6address")
    assert catalogue.collections["networks"].manager_ref == ("hardware", "description")


# ManageIQ's container builder and kubernetes persister (manager_ref, archived or not), and the
# physical builder with lenovo's definitions (issue 16, point 17).
CONTAINER = {
    "container_projects": (("ems_ref",), "archive"),
    "container_nodes": (("ems_ref",), "archive"),
    "container_groups": (("ems_ref",), "archive"),
    "containers": (("ems_ref",), "archive"),
    "container_images": (("image_ref",), "archive"),
    "container_quotas": (("ems_ref",), "archive"),
    "container_quota_items": (("container_quota", "resource"), "archive"),
    "container_quota_scopes": (("container_quota", "scope"), "delete"),
    "container_limits": (("ems_ref",), "delete"),
    "container_limit_items": (("container_limit", "resource", "item_type"), "delete"),
    "container_image_registries": (("host", "port"), "delete"),
    "container_volumes": (("parent", "name"), "delete"),
    "container_env_vars": (("container", "name"), "delete"),
    "container_port_configs": (("ems_ref",), "delete"),
    "container_services": (("ems_ref",), "delete"),
    "container_service_port_configs": (("ems_ref", "protocol"), "delete"),
    "container_replicators": (("ems_ref",), "delete"),
    "container_routes": (("ems_ref",), "delete"),
    "persistent_volumes": (("ems_ref",), "delete"),
    "persistent_volume_claims": (("ems_ref",), "delete"),
    "computer_systems": (("managed_entity",), "delete"),
    "computer_system_hardwares": (("computer_system",), "delete"),
    "computer_system_operating_systems": (("computer_system",), "delete"),
    "container_conditions_for_container_nodes": (("container_entity", "name"), "delete"),
    "custom_attributes_for_container_groups_node_selectors": (
        ("resource", "section", "name"),
        "delete",
    ),
}
PHYSICAL = {
    "physical_racks": ("ems_ref",),
    "physical_chassis": ("ems_ref",),
    "physical_servers": ("ems_ref",),
    "physical_storages": ("ems_ref",),
    "physical_switches": ("uid_ems",),
    "physical_server_details": ("resource",),
    "physical_server_computer_systems": ("managed_entity",),
    "physical_server_hardwares": ("computer_system",),
    "physical_switch_hardwares": ("physical_switch",),
    "physical_server_network_devices": ("device_type", "uid_ems"),
    "physical_server_storage_adapters": ("device_type", "uid_ems"),
    "physical_server_firmwares": ("name", "resource"),
    "physical_server_network_device_firmwares": ("name", "guest_device"),
}


def test_container_and_physical_collections_follow_manageiq(catalogue: Catalogue) -> None:
    for name, (ref, delete) in CONTAINER.items():
        coll = catalogue.collections[name]
        assert (coll.manager, coll.manager_ref, coll.delete) == ("container", ref, delete), name
    assert catalogue.collections["container_quota_items"].archive_on_change
    pv = catalogue.collections["persistent_volumes"]
    assert (pv.table, pv.owner, pv.scope) == (
        "container_volumes",
        "parent",
        {"type": "PersistentVolume"},
    )
    groups = catalogue.collections["container_groups"]
    assert groups.many_to_many["container_services"].join_table == (
        "container_groups_container_services"
    )
    assert groups.secondary_refs == {"by_container_project_and_name": ("container_project", "name")}
    assert catalogue.collections["container_nodes"].references["lives_on"].type_value == "class"
    for name, ref in PHYSICAL.items():
        coll = catalogue.collections[name]
        assert (coll.manager, coll.manager_ref, coll.delete) == ("physical", ref, "delete"), name
    assert catalogue.collections["physical_switches"].table == "switches"
    assert catalogue.collections["physical_server_details"].table == "asset_details"


def test_what_real_providers_missed(catalogue: Catalogue) -> None:
    cols = catalogue.collections
    assert cols["cloud_subnets"].columns["ip_version"] == "string"
    assert cols["network_routers"].columns["admin_state_up"] == "boolean"
    assert "provider_region" in cols["ext_management_system"].columns
    assert cols["network_acl_rules"].references["resource"].collections == ("network_acls",)
    assert cols["network_acl_rules"].table == "firewall_rules"
    assert cols["vm_resource_pools"].references["resource_pool"].kind == "ancestry"
    for name in ("vms", "miq_templates"):
        assert cols[name].manager_defaults == {"infra": {"cloud": False}}
    assert catalogue.for_provider("cloud", ("network", "storage")) is catalogue
    infra = catalogue.for_provider("infra")
    assert infra.collections["vms"].defaults["cloud"] is False
    assert infra.collections["hardwares"] is catalogue.collections["hardwares"]
