"""Container and physical-infrastructure collections, network ACLs, the ems_metadata tree.

The catalogue's container collections (ManageIQ's container_* tables, persistent volumes in
container_volumes, computer systems), physical-infrastructure collections (physical_racks,
physical_chassis, physical_servers, physical_storages, asset_details, firmwares; physical
switches, adapters and hardwares are rows of existing tables), network ACLs (miqspec's own
network_acls and cloud_subnets_network_acls; their rules are firewall_rules rows) and the
``relationships`` table (a VM's resource pool). Existing tables gain columns:
``cloud_subnets.ip_version``, ``firewall_rules.action/priority/destination_ip_range``,
``hardwares.physical_switch_id``, the product columns of ``switches``; and
``network_routers.admin_state_up`` becomes a boolean, as ManageIQ made it in 2020.
The tables are written out here (not read from the catalogue) so that this revision keeps its
meaning when the catalogue grows.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

from miqspec.store.column_types import column_type

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# table -> columns (name, catalogue type), indexes and unique constraints (name, columns)
# fmt: off
NEW_TABLES: dict[str, dict[str, list[tuple[str, Any]]]] = {
    "asset_details": {
        "columns": [
            ("description", "text"), ("contact", "text"), ("location", "text"), ("room", "text"),
            ("rack_name", "text"), ("lowest_rack_unit", "text"), ("location_led_state", "string"),
            ("location_led_ems_ref", "string"), ("product_name", "string"), ("manufacturer",
            "string"), ("machine_type", "string"), ("model", "string"), ("serial_number",
            "string"), ("field_replaceable_unit", "string"), ("part_number", "string"),
            ("resource_id", "bigint"), ("resource_type", "string"), ("created_at", "datetime"),
            ("updated_at", "datetime")
        ],
        "indexes": [
            ("ix_asset_details_resource_id_resource_type", ("resource_id", "resource_type"))
        ],
        "uniques": [],
    },
    "cloud_subnets_network_acls": {
        "columns": [
            ("cloud_subnet_id", "bigint"), ("network_acl_id", "bigint")
        ],
        "indexes": [
            ("ix_cloud_subnets_network_acls_cloud_subnet_id", ("cloud_subnet_id",)),
            ("ix_cloud_subnets_network_acls_network_acl_id", ("network_acl_id",))
        ],
        "uniques": [
            ("uq_cloud_subnets_network_acls_network_acl_id_cloud_subnet_id",
             ("network_acl_id", "cloud_subnet_id"))
        ],
    },
    "computer_systems": {
        "columns": [
            ("managed_entity_id", "bigint"), ("managed_entity_type", "string"), ("created_at",
            "datetime"), ("updated_at", "datetime")
        ],
        "indexes": [
            ("ix_computer_systems_managed_entity_id_managed_entity_type", ("managed_entity_id",
            "managed_entity_type"))
        ],
        "uniques": [],
    },
    "container_conditions": {
        "columns": [
            ("name", "string"), ("status", "string"), ("last_heartbeat_time", "datetime"),
            ("last_transition_time", "datetime"), ("reason", "string"), ("message", "string"),
            ("container_entity_id", "bigint"), ("container_entity_type", "string")
        ],
        "indexes": [
            ("ix_container_conditions_container_entity_id_containe_9d07eaf39e",
            ("container_entity_id", "container_entity_type"))
        ],
        "uniques": [],
    },
    "container_env_vars": {
        "columns": [
            ("name", "string"), ("value", "text"), ("field_path", "string"), ("container_id",
            "bigint")
        ],
        "indexes": [
            ("ix_container_env_vars_container_id", ("container_id",))
        ],
        "uniques": [],
    },
    "container_groups": {
        "columns": [
            ("ems_id", "bigint"), ("type", "string"), ("ems_ref", "string"), ("name", "string"),
            ("ems_created_on", "datetime"), ("resource_version", "string"), ("restart_policy",
            "string"), ("dns_policy", "string"), ("last_perf_capture_on", "datetime"),
            ("ipaddress", "string"), ("phase", "string"), ("message", "string"), ("reason",
            "string"), ("container_build_pod_id", "bigint"), ("old_ems_id", "bigint"),
            ("old_container_project_id", "bigint"), ("container_node_id", "bigint"),
            ("container_replicator_id", "bigint"), ("container_project_id", "bigint"),
            ("created_on", "datetime"), ("deleted_on", "datetime")
        ],
        "indexes": [
            ("ix_container_groups_type", ("type",)), ("ix_container_groups_ems_id", ("ems_id",)),
            ("ix_container_groups_ems_id_ems_ref", ("ems_id", "ems_ref")),
            ("ix_container_groups_container_project_id_name", ("container_project_id", "name"))
        ],
        "uniques": [],
    },
    "container_groups_container_services": {
        "columns": [
            ("container_service_id", "bigint"), ("container_group_id", "bigint")
        ],
        "indexes": [
            ("ix_container_groups_container_services_container_service_id",
            ("container_service_id",)),
            ("ix_container_groups_container_services_container_group_id", ("container_group_id",))
        ],
        "uniques": [],
    },
    "container_image_registries": {
        "columns": [
            ("ems_id", "bigint"), ("name", "string"), ("host", "string"), ("port", "string")
        ],
        "indexes": [
            ("ix_container_image_registries_ems_id", ("ems_id",)),
            ("ix_container_image_registries_ems_id_host", ("ems_id", "host"))
        ],
        "uniques": [],
    },
    "container_images": {
        "columns": [
            ("ems_id", "bigint"), ("type", "string"), ("tag", "string"), ("name", "string"),
            ("image_ref", "string"), ("last_sync_on", "datetime"), ("last_scan_attempt_on",
            "datetime"), ("digest", "string"), ("registered_on", "datetime"), ("architecture",
            "string"), ("author", "string"), ("command", "string_array"), ("entrypoint",
            "string_array"), ("docker_version", "string"), ("exposed_ports", "json"),
            ("environment_variables", "json"), ("size", "bigint"), ("old_ems_id", "bigint"),
            ("container_image_registry_id", "bigint"), ("created_on", "datetime"), ("deleted_on",
            "datetime")
        ],
        "indexes": [
            ("ix_container_images_type", ("type",)), ("ix_container_images_ems_id", ("ems_id",)),
            ("ix_container_images_ems_id_image_ref", ("ems_id", "image_ref"))
        ],
        "uniques": [],
    },
    "container_limit_items": {
        "columns": [
            ("item_type", "string"), ("resource", "string"), ("max", "string"), ("min", "string"),
            ("default", "string"), ("default_request", "string"), ("max_limit_request_ratio",
            "string"), ("container_limit_id", "bigint")
        ],
        "indexes": [
            ("ix_container_limit_items_container_limit_id", ("container_limit_id",))
        ],
        "uniques": [],
    },
    "container_limits": {
        "columns": [
            ("ems_id", "bigint"), ("ems_ref", "string"), ("name", "string"), ("ems_created_on",
            "datetime"), ("resource_version", "string"), ("container_project_id", "bigint"),
            ("created_on", "datetime")
        ],
        "indexes": [
            ("ix_container_limits_ems_id", ("ems_id",)), ("ix_container_limits_ems_id_ems_ref",
            ("ems_id", "ems_ref"))
        ],
        "uniques": [],
    },
    "container_nodes": {
        "columns": [
            ("ems_id", "bigint"), ("type", "string"), ("ems_ref", "string"), ("name", "string"),
            ("ems_created_on", "datetime"), ("resource_version", "string"), ("identity_infra",
            "string"), ("identity_machine", "string"), ("identity_system", "string"),
            ("kubernetes_kubelet_version", "string"), ("kubernetes_proxy_version", "string"),
            ("container_runtime_version", "string"), ("max_container_groups", "integer"),
            ("last_perf_capture_on", "datetime"), ("old_ems_id", "bigint"), ("pods", "integer"),
            ("allocatable_memory", "bigint"), ("allocatable_cpus", "float"), ("allocatable_pods",
            "integer"), ("lives_on_id", "bigint"), ("lives_on_type", "string"), ("created_on",
            "datetime"), ("deleted_on", "datetime")
        ],
        "indexes": [
            ("ix_container_nodes_type", ("type",)), ("ix_container_nodes_ems_id", ("ems_id",)),
            ("ix_container_nodes_ems_id_ems_ref", ("ems_id", "ems_ref")),
            ("ix_container_nodes_name", ("name",))
        ],
        "uniques": [],
    },
    "container_port_configs": {
        "columns": [
            ("ems_ref", "string"), ("port", "integer"), ("host_port", "integer"), ("protocol",
            "string"), ("name", "string"), ("container_id", "bigint")
        ],
        "indexes": [
            ("ix_container_port_configs_ems_ref", ("ems_ref",))
        ],
        "uniques": [],
    },
    "container_projects": {
        "columns": [
            ("ems_id", "bigint"), ("ems_ref", "string"), ("name", "string"), ("ems_created_on",
            "datetime"), ("resource_version", "string"), ("display_name", "string"),
            ("old_ems_id", "bigint"), ("status_phase", "string"), ("created_on", "datetime"),
            ("deleted_on", "datetime")
        ],
        "indexes": [
            ("ix_container_projects_ems_id", ("ems_id",)),
            ("ix_container_projects_ems_id_ems_ref", ("ems_id", "ems_ref")),
            ("ix_container_projects_name", ("name",))
        ],
        "uniques": [],
    },
    "container_quota_items": {
        "columns": [
            ("resource", "string"), ("quota_desired", "float"), ("quota_enforced", "float"),
            ("quota_observed", "float"), ("container_quota_id", "bigint"), ("created_at",
            "datetime"), ("updated_at", "datetime"), ("deleted_on", "datetime")
        ],
        "indexes": [
            ("ix_container_quota_items_container_quota_id", ("container_quota_id",))
        ],
        "uniques": [],
    },
    "container_quota_scopes": {
        "columns": [
            ("scope", "string"), ("container_quota_id", "bigint"), ("created_at", "datetime"),
            ("updated_at", "datetime")
        ],
        "indexes": [
            ("ix_container_quota_scopes_container_quota_id", ("container_quota_id",))
        ],
        "uniques": [],
    },
    "container_quotas": {
        "columns": [
            ("ems_id", "bigint"), ("ems_ref", "string"), ("name", "string"), ("ems_created_on",
            "datetime"), ("resource_version", "string"), ("container_project_id", "bigint"),
            ("created_on", "datetime"), ("deleted_on", "datetime")
        ],
        "indexes": [
            ("ix_container_quotas_ems_id", ("ems_id",)), ("ix_container_quotas_ems_id_ems_ref",
            ("ems_id", "ems_ref"))
        ],
        "uniques": [],
    },
    "container_replicators": {
        "columns": [
            ("ems_id", "bigint"), ("ems_ref", "string"), ("name", "string"), ("ems_created_on",
            "datetime"), ("resource_version", "string"), ("replicas", "integer"),
            ("current_replicas", "integer"), ("container_project_id", "bigint"), ("created_on",
            "datetime")
        ],
        "indexes": [
            ("ix_container_replicators_ems_id", ("ems_id",)),
            ("ix_container_replicators_ems_id_ems_ref", ("ems_id", "ems_ref")),
            ("ix_container_replicators_container_project_id_name", ("container_project_id",
            "name"))
        ],
        "uniques": [],
    },
    "container_routes": {
        "columns": [
            ("ems_id", "bigint"), ("ems_ref", "string"), ("name", "string"), ("ems_created_on",
            "datetime"), ("resource_version", "string"), ("host_name", "string"), ("path",
            "string"), ("container_project_id", "bigint"), ("container_service_id", "bigint"),
            ("created_on", "datetime")
        ],
        "indexes": [
            ("ix_container_routes_ems_id", ("ems_id",)), ("ix_container_routes_ems_id_ems_ref",
            ("ems_id", "ems_ref"))
        ],
        "uniques": [],
    },
    "container_service_port_configs": {
        "columns": [
            ("ems_ref", "string"), ("name", "string"), ("port", "integer"), ("target_port",
            "string"), ("protocol", "string"), ("node_port", "integer"), ("container_service_id",
            "bigint")
        ],
        "indexes": [
            ("ix_container_service_port_configs_ems_ref", ("ems_ref",))
        ],
        "uniques": [],
    },
    "container_services": {
        "columns": [
            ("ems_id", "bigint"), ("ems_ref", "string"), ("name", "string"), ("ems_created_on",
            "datetime"), ("resource_version", "string"), ("session_affinity", "string"),
            ("portal_ip", "string"), ("service_type", "string"), ("container_project_id",
            "bigint"), ("container_image_registry_id", "bigint"), ("created_on", "datetime")
        ],
        "indexes": [
            ("ix_container_services_ems_id", ("ems_id",)),
            ("ix_container_services_ems_id_ems_ref", ("ems_id", "ems_ref")),
            ("ix_container_services_container_project_id_name", ("container_project_id", "name"))
        ],
        "uniques": [],
    },
    "container_volumes": {
        "columns": [
            ("parent_id", "bigint"), ("parent_type", "string"), ("type", "string"), ("name",
            "string"), ("empty_dir_medium_type", "string"), ("gce_pd_name", "string"),
            ("git_repository", "string"), ("git_revision", "string"), ("nfs_server", "string"),
            ("iscsi_target_portal", "string"), ("iscsi_iqn", "string"), ("iscsi_lun", "integer"),
            ("glusterfs_endpoint_name", "string"), ("claim_name", "string"), ("rbd_ceph_monitors",
            "string"), ("rbd_image", "string"), ("rbd_pool", "string"), ("rbd_rados_user",
            "string"), ("rbd_keyring", "string"), ("common_path", "string"), ("common_fs_type",
            "string"), ("common_read_only", "string"), ("common_volume_id", "string"),
            ("common_partition", "string"), ("common_secret", "string"), ("ems_ref", "string"),
            ("ems_created_on", "datetime"), ("resource_version", "string"), ("capacity", "json"),
            ("access_modes", "string"), ("reclaim_policy", "string"), ("status_phase", "string"),
            ("status_message", "string"), ("status_reason", "string"),
            ("persistent_volume_claim_id", "bigint"), ("created_on", "datetime")
        ],
        "indexes": [
            ("ix_container_volumes_type", ("type",)),
            ("ix_container_volumes_parent_id_parent_type", ("parent_id", "parent_type")),
            ("ix_container_volumes_parent_id_parent_type_ems_ref", ("parent_id", "parent_type",
            "ems_ref"))
        ],
        "uniques": [],
    },
    "containers": {
        "columns": [
            ("ems_id", "bigint"), ("type", "string"), ("ems_ref", "string"), ("restart_count",
            "integer"), ("state", "string"), ("name", "string"), ("backing_ref", "string"),
            ("last_perf_capture_on", "datetime"), ("reason", "string"), ("started_at",
            "datetime"), ("finished_at", "datetime"), ("exit_code", "integer"), ("signal",
            "integer"), ("message", "string"), ("last_state", "string"), ("last_reason",
            "string"), ("last_started_at", "datetime"), ("last_finished_at", "datetime"),
            ("last_exit_code", "integer"), ("last_signal", "integer"), ("last_message", "string"),
            ("old_ems_id", "bigint"), ("request_cpu_cores", "float"), ("request_memory_bytes",
            "bigint"), ("limit_cpu_cores", "float"), ("limit_memory_bytes", "bigint"), ("image",
            "string"), ("image_pull_policy", "string"), ("memory", "string"), ("cpu_cores",
            "float"), ("privileged", "boolean"), ("run_as_user", "bigint"), ("run_as_non_root",
            "boolean"), ("capabilities_add", "string"), ("capabilities_drop", "string"),
            ("command", "text"), ("container_group_id", "bigint"), ("container_image_id",
            "bigint"), ("deleted_on", "datetime")
        ],
        "indexes": [
            ("ix_containers_type", ("type",)), ("ix_containers_ems_id", ("ems_id",)),
            ("ix_containers_ems_id_ems_ref", ("ems_id", "ems_ref"))
        ],
        "uniques": [],
    },
    "firmwares": {
        "columns": [
            ("name", "string"), ("build", "string"), ("version", "string"), ("release_date",
            "datetime"), ("resource_id", "bigint"), ("resource_type", "string"), ("created_at",
            "datetime"), ("updated_at", "datetime"), ("guest_device_id", "bigint")
        ],
        "indexes": [
            ("ix_firmwares_name", ("name",)), ("ix_firmwares_resource_id_resource_type",
            ("resource_id", "resource_type")), ("ix_firmwares_guest_device_id",
            ("guest_device_id",))
        ],
        "uniques": [],
    },
    "network_acls": {
        "columns": [
            ("ems_id", "bigint"), ("type", "string"), ("ems_ref", "string"), ("name", "string"),
            ("description", "string"), ("status", "string"), ("cloud_network_id", "bigint"),
            ("cloud_tenant_id", "bigint"), ("resource_group_id", "bigint"), ("created_at",
            "datetime"), ("updated_at", "datetime")
        ],
        "indexes": [
            ("ix_network_acls_type", ("type",)), ("ix_network_acls_ems_id", ("ems_id",)),
            ("ix_network_acls_ems_id_ems_ref", ("ems_id", "ems_ref"))
        ],
        "uniques": [],
    },
    "persistent_volume_claims": {
        "columns": [
            ("ems_id", "bigint"), ("ems_ref", "string"), ("name", "string"), ("ems_created_on",
            "datetime"), ("resource_version", "string"), ("desired_access_modes", "string_array"),
            ("phase", "string"), ("actual_access_modes", "string_array"), ("capacity", "json"),
            ("requests", "json"), ("limits", "json"), ("container_project_id", "bigint"),
            ("created_at", "datetime"), ("updated_at", "datetime")
        ],
        "indexes": [
            ("ix_persistent_volume_claims_ems_id", ("ems_id",)),
            ("ix_persistent_volume_claims_ems_id_ems_ref", ("ems_id", "ems_ref")),
            ("ix_persistent_volume_claims_container_project_id_name", ("container_project_id",
            "name"))
        ],
        "uniques": [],
    },
    "physical_chassis": {
        "columns": [
            ("ems_id", "bigint"), ("type", "string"), ("ems_ref", "string"), ("uid_ems",
            "string"), ("name", "string"), ("vendor", "string"), ("health_state", "string"),
            ("overall_health_state", "string"), ("management_module_slot_count", "integer"),
            ("switch_slot_count", "integer"), ("fan_slot_count", "integer"), ("blade_slot_count",
            "integer"), ("powersupply_slot_count", "integer"), ("physical_rack_id", "bigint"),
            ("parent_physical_chassis_id", "bigint"), ("created_at", "datetime"), ("updated_at",
            "datetime")
        ],
        "indexes": [
            ("ix_physical_chassis_type", ("type",)), ("ix_physical_chassis_ems_id", ("ems_id",)),
            ("ix_physical_chassis_ems_id_ems_ref", ("ems_id", "ems_ref"))
        ],
        "uniques": [],
    },
    "physical_racks": {
        "columns": [
            ("ems_id", "bigint"), ("ems_ref", "string"), ("uid_ems", "string"), ("name",
            "string"), ("created_at", "datetime"), ("updated_at", "datetime")
        ],
        "indexes": [
            ("ix_physical_racks_ems_id", ("ems_id",)), ("ix_physical_racks_ems_id_ems_ref",
            ("ems_id", "ems_ref"))
        ],
        "uniques": [],
    },
    "physical_servers": {
        "columns": [
            ("ems_id", "bigint"), ("type", "string"), ("ems_ref", "string"), ("uid_ems",
            "string"), ("name", "string"), ("health_state", "string"), ("power_state", "string"),
            ("raw_power_state", "string"), ("hostname", "string"), ("vendor", "string"),
            ("product_name", "string"), ("manufacturer", "string"), ("machine_type", "string"),
            ("model", "string"), ("serial_number", "string"), ("field_replaceable_unit",
            "string"), ("ems_compliance_name", "string"), ("ems_compliance_status", "string"),
            ("physical_rack_id", "bigint"), ("physical_chassis_id", "bigint"), ("created_at",
            "datetime"), ("updated_at", "datetime")
        ],
        "indexes": [
            ("ix_physical_servers_type", ("type",)), ("ix_physical_servers_ems_id", ("ems_id",)),
            ("ix_physical_servers_ems_id_ems_ref", ("ems_id", "ems_ref"))
        ],
        "uniques": [],
    },
    "physical_storages": {
        "columns": [
            ("ems_id", "bigint"), ("type", "string"), ("ems_ref", "string"), ("uid_ems",
            "string"), ("name", "string"), ("access_state", "string"), ("health_state", "string"),
            ("overall_health_state", "string"), ("drive_bays", "integer"), ("enclosures",
            "integer"), ("canister_slots", "integer"), ("physical_rack_id", "bigint"),
            ("physical_chassis_id", "bigint"), ("created_at", "datetime"), ("updated_at",
            "datetime")
        ],
        "indexes": [
            ("ix_physical_storages_type", ("type",)), ("ix_physical_storages_ems_id",
            ("ems_id",)), ("ix_physical_storages_ems_id_ems_ref", ("ems_id", "ems_ref"))
        ],
        "uniques": [],
    },
    "relationships": {
        "columns": [
            ("relationship", "string"), ("resource_id", "bigint"), ("resource_type", "string"),
            ("ancestry", "string"), ("created_at", "datetime"), ("updated_at", "datetime")
        ],
        "indexes": [
            ("ix_relationships_resource_id_resource_type", ("resource_id", "resource_type"))
        ],
        "uniques": [],
    },
}
# existing table -> columns it gains, indexes it gains
ADDED: dict[str, dict[str, list[tuple[str, Any]]]] = {
    "cloud_subnets": {
        "columns": [
            ("ip_version", "string")
        ],
        "indexes": [
        ],
    },
    "firewall_rules": {
        "columns": [
            ("action", "string"), ("priority", "integer"), ("destination_ip_range", "string")
        ],
        "indexes": [
        ],
    },
    "guest_devices": {
        "columns": [
        ],
        "indexes": [
            ("ix_guest_devices_device_type", ("device_type",))
        ],
    },
    "hardwares": {
        "columns": [
            ("physical_switch_id", "bigint")
        ],
        "indexes": [
            ("ix_hardwares_computer_system_id", ("computer_system_id",)),
            ("ix_hardwares_physical_switch_id", ("physical_switch_id",))
        ],
    },
    "operating_systems": {
        "columns": [
        ],
        "indexes": [
            ("ix_operating_systems_computer_system_id", ("computer_system_id",))
        ],
    },
    "switches": {
        "columns": [
            ("product_name", "string"), ("part_number", "string"), ("serial_number", "string"),
            ("description", "string"), ("manufacturer", "string")
        ],
        "indexes": [
        ],
    },
}
# fmt: on
ROUTERS, ADMIN = "network_routers", "admin_state_up"
TRUE_WORDS = "('t', 'true', '1', 'yes', 'y', 'on', 'up')"


def _id() -> sa.Column[int]:
    return sa.Column(
        "id",
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
        primary_key=True,
        autoincrement=True,
    )


def upgrade() -> None:
    bind = op.get_bind()
    inspector = sa.inspect(bind)
    existing = set(inspector.get_table_names())
    for name, spec in NEW_TABLES.items():
        if name in existing:
            continue
        columns = [sa.Column(c, column_type(str(k)), nullable=True) for c, k in spec["columns"]]
        uniques = [sa.UniqueConstraint(*cols, name=str(n)) for n, cols in spec["uniques"]]
        op.create_table(name, _id(), *columns, *uniques)
        for index, cols in spec["indexes"]:
            op.create_index(str(index), name, list(cols))
    for name, spec in ADDED.items():
        have = {c["name"] for c in inspector.get_columns(name)}
        for col, kind in spec["columns"]:
            if col not in have:
                op.add_column(name, sa.Column(str(col), column_type(str(kind)), nullable=True))
        indexes = {i["name"] for i in inspector.get_indexes(name)}
        for index, cols in spec["indexes"]:
            if index not in indexes:
                op.create_index(str(index), name, list(cols))
    admin = {c["name"]: c for c in inspector.get_columns(ROUTERS)}[ADMIN]
    if not isinstance(admin["type"], sa.Boolean):
        _retype(bind, sa.Boolean(), f"lower({ADMIN}) IN {TRUE_WORDS}")


def downgrade() -> None:
    bind = op.get_bind()
    inspector = sa.inspect(bind)
    admin = {c["name"]: c for c in inspector.get_columns(ROUTERS)}[ADMIN]
    if isinstance(admin["type"], sa.Boolean):
        _retype(bind, sa.String(), f"CASE WHEN {ADMIN} THEN 'true' ELSE 'false' END")
    for name, spec in ADDED.items():
        indexes = {i["name"] for i in inspector.get_indexes(name)}
        have = {c["name"] for c in inspector.get_columns(name)}
        with op.batch_alter_table(name) as batch:
            for index, _cols in spec["indexes"]:
                if index in indexes:
                    batch.drop_index(str(index))
            for col, _kind in spec["columns"]:
                if col in have:
                    batch.drop_column(str(col))
    existing = set(inspector.get_table_names())
    for name in NEW_TABLES:
        if name in existing:
            op.drop_table(name)


def _retype(bind: sa.Connection, kind: sa.types.TypeEngine[Any], using: str) -> None:
    """``network_routers.admin_state_up`` as ``kind`` (NULL stays NULL)."""
    if bind.dialect.name == "postgresql":
        op.alter_column(
            ROUTERS,
            ADMIN,
            type_=kind,
            postgresql_using=f"CASE WHEN {ADMIN} IS NULL THEN NULL ELSE {using} END",
        )
    else:  # SQLite cannot alter a column's type: values converted, then the table copied
        op.execute(f"UPDATE {ROUTERS} SET {ADMIN} = {using} WHERE {ADMIN} IS NOT NULL")
        with op.batch_alter_table(ROUTERS) as batch:
            batch.alter_column(ADMIN, type_=kind)
