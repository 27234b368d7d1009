"""The inventory catalogue as it was for revision 0001 (frozen; never edit).

A verbatim copy of ``schemas/inventory.yaml`` at revision 0001, so that the initial
migration creates the same tables however the catalogue grows later.
"""

CATALOGUE_YAML = r"""
# miqspec inventory catalogue: ManageIQ's inventory collections as data.
#
# Read by spec.catalogue.parse_catalogue; store.tables builds the SQLAlchemy tables from it.
# Names (collections, tables, columns, manager_refs, references) are ManageIQ's, from
# manageiq-schema (collapsed initial migration plus later migrations) and the persister builders
# (app/models/manageiq/providers/inventory/persister/builder/*.rb).
#
# Field meanings (per collection):
#   table          the VMDB table; several collections may share one (their columns are merged)
#   model_class    the model's class name without the "ManageIQ::Providers::<Vendor>::<Manager>::"
#                  prefix; with sti: true the engine writes the full class name into `type`
#   sti            the table has a `type` column holding the class name
#   manager        which manager of the provider owns the rows (cloud, network, storage, infra,
#                  automation, configuration, ...; "provider" = the provider row itself)
#   owner          ems_id | manager_id | resource (resource_id/resource_type point at the manager)
#                  | none (rows are owned through a manager_ref reference to a parent collection)
#   parent_collections  for owner none: the collections whose rows own these rows (through the
#                  manager_ref reference naming one of them). This is the direct parent, which is
#                  sometimes one level below ManageIQ's parent_inventory_collections (disks ->
#                  hardwares where ManageIQ says vms) so that ownership is one foreign key away.
#                  For other owners it only records ManageIQ's save-order dependency.
#   scope          column values that select this collection's rows inside the owner's rows of a
#                  shared table (null = IS NULL); the engine writes the same values on insert
#   defaults       values merged under every built object (explicit attributes win); mirrors the
#                  column defaults of the migrations (cpu_sockets 1, present true, ...)
#   delete         delete (destroy rows not seen) | disconnect (vms, templates, hosts: clear the
#                  owner, raw_power_state "unknown") | none (never delete: lookups, the EMS row)
#   columns        attribute columns with their types (never id, owner, type or reference FKs)
#   references     belongs_to links: attribute -> {collection (a list for several targets),
#                  column (default <attr>_id), type_column (polymorphic), kind}. kind "ancestry"
#                  (default "id") stores the parent in ManageIQ's string `ancestry` column
#                  ("<parent ancestry>/<parent id>") instead of an id column.
#   many_to_many   has_and_belongs_to_many / has_many :through links saved into a join table
#   timestamps     the table's timestamp columns: [created_on, updated_on], [created_at,
#                  updated_at] or [] (ManageIQ differs per table)
# Column types: string text integer bigint float decimal boolean datetime date json
# (ManageIQ's serialized text / jsonb) string_array (PostgreSQL arrays). PostgreSQL int4range
# columns (load balancer port ranges) are strings holding the range literal, e.g. "[80,81)".
#
# Collections ManageIQ declares that are not here: processor-only collections without a table
# (vm_and_miq_template_ancestry, orchestration_stack_ancestry, parent_blue_folders,
# vm_parent_blue_folders, vm_resource_pools: ancestry is a reference kind here, the folder tree
# is not modelled), vm_and_template_taggings (needs ManageIQ's tag tables) and the automation
# builder's `vms` override (manager_ref [uid_ems], unused by AWX). Infra parsers key vm `networks`
# by [hardware, ipaddress, ipv6address]; a spec can override `networks` in its `models`.

collections:

  # ---------------------------------------------------------------- shared (VMs and their parts)
  miq_templates:
    description: Images / templates; shares table vms with vms (template = true)
    table: vms
    model_class: Template
    sti: true
    manager: cloud
    owner: ems_id
    manager_ref: [ems_ref]
    delete: disconnect
    scope: {template: true}
    defaults: {template: true, cloud: true}
    secondary_refs: {by_uid_ems: [uid_ems]}
    timestamps: [created_on, updated_on]
    columns: &vm_columns
      {vendor: string, format: string, version: string, name: string, description: text,
       location: string, config_xml: string, autostart: string, last_sync_on: datetime,
       guid: string, last_scan_on: datetime, last_scan_attempt_on: datetime, uid_ems: string,
       retires_on: datetime, retired: boolean, boot_time: datetime, tools_status: string,
       standby_action: string, power_state: string, state_changed_on: datetime,
       previous_state: string, connection_state: string, last_perf_capture_on: datetime,
       registered: boolean, busy: boolean, smart: boolean, memory_reserve: integer,
       memory_reserve_expand: boolean, memory_limit: integer, memory_shares: integer,
       memory_shares_level: string, cpu_reserve: integer, cpu_reserve_expand: boolean,
       cpu_limit: integer, cpu_shares: integer, cpu_shares_level: string, cpu_affinity: string,
       ems_created_on: datetime, template: boolean, evm_owner_id: bigint, miq_group_id: bigint,
       linked_clone: boolean, fault_tolerance: boolean, ems_ref: string, ems_ref_type: string,
       retirement_warn: bigint, retirement_last_warn: datetime, vnc_port: integer,
       cloud: boolean, retirement_state: string, raw_power_state: string,
       publicly_available: boolean, retirement_requester: string, tenant_id: bigint,
       deprecated: boolean, cpu_hot_add_enabled: boolean, cpu_hot_remove_enabled: boolean,
       memory_hot_add_enabled: boolean, memory_hot_add_limit: integer,
       memory_hot_add_increment: integer, hostname: string, restart_needed: boolean}
    references: &vm_references
      flavor: {collection: flavors, column: flavor_id}
      availability_zone: {collection: availability_zones, column: availability_zone_id}
      cloud_tenant: {collection: cloud_tenants, column: cloud_tenant_id}
      cloud_network: {collection: cloud_networks, column: cloud_network_id}
      cloud_subnet: {collection: cloud_subnets, column: cloud_subnet_id}
      orchestration_stack: {collection: orchestration_stacks, column: orchestration_stack_id}
      resource_group: {collection: resource_groups, column: resource_group_id}
      placement_group: {collection: placement_groups, column: placement_group_id}
      host: {collection: hosts, column: host_id}
      storage: {collection: storages, column: storage_id}
      ems_cluster: {collection: clusters, column: ems_cluster_id}
      storage_profile: {collection: storage_profiles, column: storage_profile_id}
    many_to_many:
      storages: {collection: storages, join_table: storages_vms_and_templates,
                 own_column: vm_or_template_id, other_column: storage_id}

  vms:
    description: Cloud and infra VMs (STI Vm); shares table vms with miq_templates
    table: vms
    model_class: Vm
    sti: true
    manager: cloud
    owner: ems_id
    manager_ref: [ems_ref]
    delete: disconnect
    scope: {template: false}
    defaults: {template: false, cloud: true}
    secondary_refs: {by_uid_ems: [uid_ems]}
    timestamps: [created_on, updated_on]
    columns: *vm_columns
    references:
      <<: *vm_references
      genealogy_parent: {collection: miq_templates, column: ancestry, kind: ancestry}
    many_to_many:
      key_pairs: {collection: auth_key_pairs, join_table: key_pairs_vms,
                  own_column: vm_id, other_column: authentication_id}
      storages: {collection: storages, join_table: storages_vms_and_templates,
                 own_column: vm_or_template_id, other_column: storage_id}

  cross_link_vms:
    description: Read-only lookup of Vms in any manager (strategy local_db_find_references)
    table: vms
    model_class: Vm
    sti: true
    manager: provider
    owner: none
    manager_ref: [ems_ref]
    delete: none
    scope: {template: false}
    secondary_refs: {by_uid_ems: [uid_ems]}
    timestamps: [created_on, updated_on]
    columns: *vm_columns

  hardwares:
    description: A VM's or template's hardware (one per vm_or_template)
    table: hardwares
    model_class: Hardware
    manager: cloud
    owner: none
    manager_ref: [vm_or_template]
    delete: delete
    parent_collections: [vms, miq_templates]
    defaults: {cpu_sockets: 1, manufacturer: "", model: ""}
    timestamps: []
    columns: &hardware_columns
      {config_version: string, virtual_hw_version: string, guest_os: string,
       cpu_sockets: integer, bios: string, bios_location: string, time_sync: string,
       annotation: text, memory_mb: bigint, cpu_speed: integer, cpu_type: string,
       size_on_disk: bigint, manufacturer: string, model: string, number_of_nics: integer,
       cpu_usage: integer, memory_usage: integer, cpu_cores_per_socket: integer,
       cpu_total_cores: integer, vmotion_enabled: boolean, disk_free_space: bigint,
       disk_capacity: bigint, guest_os_full_name: string, memory_console: integer,
       bitness: integer, virtualization_type: string, root_device_type: string,
       computer_system_id: bigint, disk_size_minimum: bigint, memory_mb_minimum: bigint,
       introspected: boolean, provision_state: string, serial_number: string}
    references:
      vm_or_template: {collection: [vms, miq_templates], column: vm_or_template_id}

  disks:
    description: Disks under a VM's hardware
    table: disks
    model_class: Disk
    manager: cloud
    owner: none
    manager_ref: [hardware, device_name]
    delete: delete
    parent_collections: [hardwares]
    defaults: {present: true, start_connected: true}
    timestamps: [created_on, updated_on]
    columns: &disk_columns
      {device_name: string, device_type: string, location: string, filename: string,
       mode: string, controller_type: string, size: bigint, free_space: bigint,
       size_on_disk: bigint, present: boolean, start_connected: boolean, auto_detect: boolean,
       disk_type: string, bootable: boolean, format: string, thin: boolean}
    references:
      hardware: {collection: hardwares, column: hardware_id}
      backing: {collection: [cloud_volumes], column: backing_id, type_column: backing_type}
      storage: {collection: storages, column: storage_id}
      storage_profile: {collection: storage_profiles, column: storage_profile_id}

  networks:
    description: Guest NICs / IPs under a VM's hardware ("private" or "public" by description)
    table: networks
    model_class: Network
    manager: cloud
    owner: none
    manager_ref: [hardware, description]
    delete: delete
    parent_collections: [hardwares]
    timestamps: []
    columns: &network_columns
      {description: string, guid: string, dhcp_enabled: boolean, ipaddress: string,
       subnet_mask: string, lease_obtained: datetime, lease_expires: datetime,
       default_gateway: string, dhcp_server: string, dns_server: string, hostname: string,
       domain: string, ipv6address: string}
    references:
      hardware: {collection: hardwares, column: hardware_id}
      device: {collection: guest_devices, column: device_id}

  operating_systems:
    description: A VM's or template's operating system
    table: operating_systems
    model_class: OperatingSystem
    manager: cloud
    owner: none
    manager_ref: [vm_or_template]
    delete: delete
    parent_collections: [vms, miq_templates]
    timestamps: []
    columns: &operating_system_columns
      {name: string, product_name: string, version: string, build_number: string,
       system_root: string, distribution: string, product_type: string, service_pack: string,
       productid: string, bitness: integer, product_key: string, pw_hist: integer,
       max_pw_age: integer, min_pw_age: integer, min_pw_len: integer, pw_complex: boolean,
       pw_encrypt: boolean, lockout_threshold: integer, lockout_duration: bigint,
       reset_lockout_counter: integer, system_type: string, computer_system_id: bigint,
       kernel_version: string}
    references:
      vm_or_template: {collection: [vms, miq_templates], column: vm_or_template_id}

  snapshots:
    description: VM snapshots (tree through parent)
    table: snapshots
    model_class: Snapshot
    manager: cloud
    owner: none
    manager_ref: [vm_or_template, uid]
    delete: delete
    parent_collections: [vms, miq_templates]
    timestamps: [created_on, updated_on]
    columns:
      {uid: string, parent_uid: string, name: string, description: text, current: integer,
       total_size: bigint, filename: string, create_time: datetime, disks: json,
       uid_ems: string, ems_ref: string, ems_ref_type: string, type: string}
    references:
      vm_or_template: {collection: [vms, miq_templates], column: vm_or_template_id}
      parent: {collection: snapshots, column: parent_id}

  vm_and_template_labels:
    description: Provider labels/tags of VMs and templates (CustomAttribute, section labels)
    table: custom_attributes
    model_class: CustomAttribute
    manager: cloud
    owner: none
    manager_ref: [resource, name]
    delete: delete
    parent_collections: [vms, miq_templates]
    scope: {section: labels}
    defaults: {section: labels}
    timestamps: []
    columns: &custom_attribute_columns
      {section: string, name: string, value: text, source: string, description: text,
       value_interpolated: text, unique_name: text, serialized_value: text}
    references: &custom_attribute_references
      resource: {collection: [vms, miq_templates], column: resource_id,
                 type_column: resource_type}

  ext_management_system:
    description: Attributes of the provider row itself (custom save block updates the EMS)
    table: ext_management_systems
    model_class: ExtManagementSystem
    manager: provider
    owner: none
    manager_ref: [guid]
    delete: none
    timestamps: [created_on, updated_on]
    columns: {guid: string, api_version: string, uid_ems: string}

  # ---------------------------------------------------------------------------------- cloud
  availability_zones:
    table: availability_zones
    model_class: AvailabilityZone
    sti: true
    manager: cloud
    owner: ems_id
    manager_ref: [ems_ref]
    delete: delete
    timestamps: []
    columns: {name: string, ems_ref: string, provider_services_supported: string_array}

  flavors:
    table: flavors
    model_class: Flavor
    sti: true
    manager: cloud
    owner: ems_id
    manager_ref: [ems_ref]
    delete: delete
    defaults: {cpu_sockets: 1}
    timestamps: []
    columns:
      {name: string, description: string, cpu_total_cores: integer,
       cpu_cores_per_socket: integer, cpu_sockets: integer, memory: bigint, ems_ref: string,
       supports_32_bit: boolean, supports_64_bit: boolean, enabled: boolean,
       supports_hvm: boolean, supports_paravirtual: boolean, block_storage_based_only: boolean,
       cloud_subnet_required: boolean, ephemeral_disk_size: bigint,
       ephemeral_disk_count: integer, root_disk_size: bigint, swap_disk_size: bigint,
       publicly_available: boolean}
    many_to_many:
      cloud_tenants: {collection: cloud_tenants, join_table: cloud_tenant_flavors,
                      own_column: flavor_id, other_column: cloud_tenant_id}

  cloud_tenants:
    description: Tenants / projects (cloud and network builders)
    table: cloud_tenants
    model_class: CloudTenant
    sti: true
    manager: cloud
    owner: ems_id
    manager_ref: [ems_ref]
    delete: delete
    timestamps: [created_at, updated_at]
    columns: {name: string, description: text, enabled: boolean, ems_ref: string}
    references:
      parent: {collection: cloud_tenants, column: parent_id}

  cloud_resource_quotas:
    table: cloud_resource_quotas
    model_class: CloudResourceQuota
    sti: true
    manager: cloud
    owner: ems_id
    manager_ref: [ems_ref]
    delete: delete
    timestamps: [created_at, updated_at]
    columns: {ems_ref: string, service_name: string, name: string, value: integer}
    references:
      cloud_tenant: {collection: cloud_tenants, column: cloud_tenant_id}

  cloud_services:
    table: cloud_services
    model_class: CloudService
    manager: cloud
    owner: ems_id
    manager_ref: [ems_ref]
    delete: delete
    timestamps: [created_at, updated_at]
    columns:
      {ems_ref: string, source: string, executable_name: string, hostname: string,
       status: string, scheduling_disabled: boolean, scheduling_disabled_reason: string}
    references:
      host: {collection: hosts, column: host_id}
      system_service: {collection: host_system_services, column: system_service_id}
      availability_zone: {collection: availability_zones, column: availability_zone_id}

  host_aggregates:
    table: host_aggregates
    model_class: HostAggregate
    sti: true
    manager: cloud
    owner: ems_id
    manager_ref: [ems_ref]
    delete: delete
    timestamps: []
    columns: {name: string, ems_ref: string, metadata: json}
    many_to_many:
      hosts: {collection: hosts, join_table: host_aggregate_hosts,
              own_column: host_aggregate_id, other_column: host_id}

  placement_groups:
    table: placement_groups
    model_class: PlacementGroup
    sti: true
    manager: cloud
    owner: ems_id
    manager_ref: [ems_ref]
    delete: delete
    timestamps: [created_at, updated_at]
    columns: {name: string, policy: string, ems_ref: string}
    references:
      availability_zone: {collection: availability_zones, column: availability_zone_id}
      cloud_tenant: {collection: cloud_tenants, column: cloud_tenant_id}

  resource_groups:
    description: Resource groups (Azure's model class is ManageIQ::Providers::Azure::ResourceGroup)
    table: resource_groups
    model_class: ResourceGroup
    sti: true
    manager: cloud
    owner: ems_id
    manager_ref: [ems_ref]
    delete: delete
    timestamps: [created_at, updated_at]
    columns: {name: string, ems_ref: string}

  cloud_databases:
    table: cloud_databases
    model_class: CloudDatabase
    sti: true
    manager: cloud
    owner: ems_id
    manager_ref: [ems_ref]
    delete: delete
    timestamps: []
    columns:
      {name: string, ems_ref: string, db_engine: string, status: string,
       status_reason: string, used_storage: bigint, max_storage: bigint,
       extra_attributes: json}
    references:
      resource_group: {collection: resource_groups, column: resource_group_id}
      cloud_database_flavor: {collection: cloud_database_flavors,
                              column: cloud_database_flavor_id}
      cloud_tenant: {collection: cloud_tenants, column: cloud_tenant_id}
      cloud_database_server: {collection: cloud_database_servers,
                              column: cloud_database_server_id}

  cloud_database_flavors:
    table: cloud_database_flavors
    model_class: CloudDatabaseFlavor
    sti: true
    manager: cloud
    owner: ems_id
    manager_ref: [ems_ref]
    delete: delete
    timestamps: []
    columns:
      {name: string, ems_ref: string, cpus: integer, memory: bigint, max_size: bigint,
       max_connections: integer, performance: string, enabled: boolean}

  cloud_database_servers:
    table: cloud_database_servers
    model_class: CloudDatabaseServer
    sti: true
    manager: cloud
    owner: ems_id
    manager_ref: [ems_ref]
    delete: delete
    timestamps: [created_at, updated_at]
    columns:
      {name: string, ems_ref: string, server_type: string, status: string, version: string}
    references:
      resource_group: {collection: resource_groups, column: resource_group_id}

  auth_key_pairs:
    description: Key pairs (association key_pairs); rows of authentications owned by the manager
    table: authentications
    model_class: AuthKeyPair
    sti: true
    manager: cloud
    owner: resource
    manager_ref: [name]
    delete: delete
    scope: {authtype: null}
    timestamps: [created_on, updated_on]
    columns: &authentication_columns
      {name: string, authtype: string, userid: string, password: string, auth_key: text,
       auth_key_password: string, service_account: string, become_username: string,
       become_password: string, become_method: string, fingerprint: string,
       public_key: text, status: string, status_details: string, last_valid_on: datetime,
       last_invalid_on: datetime, credentials_changed_on: datetime, manager_ref: string,
       ems_ref: string, options: json}

  orchestration_stacks:
    description: Stacks / deployments; parent stack kept in ancestry
    table: orchestration_stacks
    model_class: OrchestrationStack
    sti: true
    manager: cloud
    owner: ems_id
    manager_ref: [ems_ref]
    delete: delete
    timestamps: [created_at, updated_at]
    columns:
      {name: string, description: text, status: string, status_reason: text, ems_ref: text,
       resource_group: string, start_time: datetime, finish_time: datetime, retired: boolean,
       retires_on: datetime, retirement_warn: bigint, retirement_last_warn: datetime,
       retirement_state: string, retirement_requester: string, verbosity: integer,
       hosts: string_array, configuration_script_base_id: bigint}
    references:
      orchestration_template: {collection: orchestration_templates,
                               column: orchestration_template_id}
      cloud_tenant: {collection: cloud_tenants, column: cloud_tenant_id}
      parent: {collection: orchestration_stacks, column: ancestry, kind: ancestry}

  orchestration_stacks_resources:
    table: orchestration_stack_resources
    model_class: OrchestrationStackResource
    manager: cloud
    owner: none
    manager_ref: [stack, ems_ref]
    delete: delete
    parent_collections: [orchestration_stacks]
    timestamps: []
    columns:
      {name: string, description: text, logical_resource: text, physical_resource: text,
       resource_category: string, resource_status: string, resource_status_reason: text,
       last_updated: datetime, ems_ref: text, start_time: datetime, finish_time: datetime}
    references:
      stack: {collection: orchestration_stacks, column: stack_id}

  orchestration_stacks_outputs:
    table: orchestration_stack_outputs
    model_class: OrchestrationStackOutput
    manager: cloud
    owner: none
    manager_ref: [stack, ems_ref]
    delete: delete
    parent_collections: [orchestration_stacks]
    timestamps: []
    columns: {key: string, value: text, description: text, ems_ref: text}
    references:
      stack: {collection: orchestration_stacks, column: stack_id}

  orchestration_stacks_parameters:
    table: orchestration_stack_parameters
    model_class: OrchestrationStackParameter
    manager: cloud
    owner: none
    manager_ref: [stack, ems_ref]
    delete: delete
    parent_collections: [orchestration_stacks]
    timestamps: []
    columns: {name: string, value: text, ems_ref: text}
    references:
      stack: {collection: orchestration_stacks, column: stack_id}

  orchestration_templates:
    description: Templates (ManageIQ saves them with find_or_create_by_contents on md5)
    table: orchestration_templates
    model_class: OrchestrationTemplate
    sti: true
    manager: cloud
    owner: ems_id
    manager_ref: [ems_ref]
    delete: delete
    timestamps: [created_at, updated_at]
    columns:
      {name: string, description: text, content: text, md5: string, draft: boolean,
       orderable: boolean, ems_ref: string}

  # -------------------------------------------------------------------------------- network
  cloud_networks:
    table: cloud_networks
    model_class: CloudNetwork
    sti: true
    manager: network
    owner: ems_id
    manager_ref: [ems_ref]
    delete: delete
    timestamps: []
    columns:
      {name: string, ems_ref: string, cidr: string, status: string, enabled: boolean,
       external_facing: boolean, shared: boolean, provider_physical_network: string,
       provider_network_type: string, provider_segmentation_id: string,
       vlan_transparent: boolean, extra_attributes: json, description: string}
    references:
      cloud_tenant: {collection: cloud_tenants, column: cloud_tenant_id}
      orchestration_stack: {collection: orchestration_stacks, column: orchestration_stack_id}
      resource_group: {collection: resource_groups, column: resource_group_id}

  cloud_subnets:
    table: cloud_subnets
    model_class: CloudSubnet
    sti: true
    manager: network
    owner: ems_id
    manager_ref: [ems_ref]
    delete: delete
    timestamps: []
    columns:
      {name: string, ems_ref: string, cidr: string, status: string, dhcp_enabled: boolean,
       gateway: string, network_protocol: string, dns_nameservers: json,
       ipv6_router_advertisement_mode: string, ipv6_address_mode: string,
       extra_attributes: json}
    references:
      cloud_network: {collection: cloud_networks, column: cloud_network_id}
      availability_zone: {collection: availability_zones, column: availability_zone_id}
      cloud_tenant: {collection: cloud_tenants, column: cloud_tenant_id}
      network_router: {collection: network_routers, column: network_router_id}
      network_group: {collection: network_groups, column: network_group_id}
      parent_cloud_subnet: {collection: cloud_subnets, column: parent_cloud_subnet_id}

  floating_ips:
    table: floating_ips
    model_class: FloatingIp
    sti: true
    manager: network
    owner: ems_id
    manager_ref: [ems_ref]
    delete: delete
    timestamps: []
    columns:
      {ems_ref: string, address: string, cloud_network_only: boolean,
       fixed_ip_address: string, status: string}
    references:
      vm: {collection: vms, column: vm_id}
      cloud_tenant: {collection: cloud_tenants, column: cloud_tenant_id}
      network_port: {collection: network_ports, column: network_port_id}
      cloud_network: {collection: cloud_networks, column: cloud_network_id}
      network_router: {collection: network_routers, column: network_router_id}

  security_groups:
    table: security_groups
    model_class: SecurityGroup
    sti: true
    manager: network
    owner: ems_id
    manager_ref: [ems_ref]
    delete: delete
    timestamps: []
    columns: {name: string, description: string, ems_ref: string}
    references:
      cloud_network: {collection: cloud_networks, column: cloud_network_id}
      cloud_tenant: {collection: cloud_tenants, column: cloud_tenant_id}
      orchestration_stack: {collection: orchestration_stacks, column: orchestration_stack_id}
      network_group: {collection: network_groups, column: network_group_id}
      network_router: {collection: network_routers, column: network_router_id}
      cloud_subnet: {collection: cloud_subnets, column: cloud_subnet_id}
      resource_group: {collection: resource_groups, column: resource_group_id}

  firewall_rules:
    description: Security group rules; owned through resource (the security group)
    table: firewall_rules
    model_class: FirewallRule
    manager: network
    owner: none
    manager_ref: [resource, source_security_group, direction, host_protocol, port, end_port,
                  source_ip_range]
    manager_ref_allowed_nil: [source_security_group]
    delete: delete
    parent_collections: [security_groups]
    timestamps: [created_on, updated_on]
    columns:
      {name: string, display_name: string, group: string, enabled: boolean,
       required: boolean, host_protocol: string, direction: string, port: integer,
       end_port: integer, source_ip_range: string, ems_ref: string, network_protocol: string}
    references:
      resource: {collection: [security_groups], column: resource_id, type_column: resource_type}
      source_security_group: {collection: security_groups, column: source_security_group_id}

  network_routers:
    table: network_routers
    model_class: NetworkRouter
    sti: true
    manager: network
    owner: ems_id
    manager_ref: [ems_ref]
    delete: delete
    timestamps: []
    columns:
      {name: string, ems_ref: string, admin_state_up: string, status: string,
       extra_attributes: json}
    references:
      cloud_network: {collection: cloud_networks, column: cloud_network_id}
      cloud_tenant: {collection: cloud_tenants, column: cloud_tenant_id}
      network_group: {collection: network_groups, column: network_group_id}

  network_groups:
    table: network_groups
    model_class: NetworkGroup
    sti: true
    manager: network
    owner: ems_id
    manager_ref: [ems_ref]
    delete: delete
    timestamps: []
    columns:
      {ems_ref: string, name: string, cidr: string, status: string, enabled: boolean}
    references:
      orchestration_stack: {collection: orchestration_stacks, column: orchestration_stack_id}

  network_ports:
    description: NICs / ports; device is a VM, a load balancer or (NSX-T) a security group
    table: network_ports
    model_class: NetworkPort
    sti: true
    manager: network
    owner: ems_id
    manager_ref: [ems_ref]
    delete: delete
    timestamps: []
    columns:
      {name: string, ems_ref: string, mac_address: string, status: string,
       admin_state_up: boolean, device_owner: string, device_ref: string,
       binding_host_id: string, binding_virtual_interface_type: string,
       extra_attributes: json, source: string}
    references:
      device: {collection: [vms, load_balancers, security_groups, cross_link_vms],
               column: device_id, type_column: device_type}
      cloud_tenant: {collection: cloud_tenants, column: cloud_tenant_id}
      resource_group: {collection: resource_groups, column: resource_group_id}
    many_to_many:
      security_groups: {collection: security_groups, join_table: network_ports_security_groups,
                        own_column: network_port_id, other_column: security_group_id}
      cloud_subnets: {collection: cloud_subnets, join_table: cloud_subnets_network_ports,
                      own_column: network_port_id, other_column: cloud_subnet_id}

  cloud_subnet_network_ports:
    description: Port address in a subnet (join model with its own address column)
    table: cloud_subnets_network_ports
    model_class: CloudSubnetNetworkPort
    manager: network
    owner: none
    manager_ref: [address, cloud_subnet, network_port]
    delete: delete
    parent_collections: [network_ports]
    timestamps: []
    columns: {address: string}
    references:
      cloud_subnet: {collection: cloud_subnets, column: cloud_subnet_id}
      network_port: {collection: network_ports, column: network_port_id}

  load_balancers:
    table: load_balancers
    model_class: LoadBalancer
    sti: true
    manager: network
    owner: ems_id
    manager_ref: [ems_ref]
    delete: delete
    timestamps: [created_at, updated_at]
    columns:
      {ems_ref: string, name: string, description: string, retired: boolean,
       retires_on: datetime, retirement_warn: bigint, retirement_last_warn: datetime,
       retirement_state: string, retirement_requester: string}
    references:
      cloud_tenant: {collection: cloud_tenants, column: cloud_tenant_id}

  load_balancer_pools:
    table: load_balancer_pools
    model_class: LoadBalancerPool
    sti: true
    manager: network
    owner: ems_id
    manager_ref: [ems_ref]
    delete: delete
    parent_collections: [load_balancers]
    timestamps: [created_at, updated_at]
    columns:
      {ems_ref: string, name: string, description: string, load_balancer_algorithm: string,
       protocol: string}
    references:
      cloud_tenant: {collection: cloud_tenants, column: cloud_tenant_id}

  load_balancer_pool_members:
    table: load_balancer_pool_members
    model_class: LoadBalancerPoolMember
    sti: true
    manager: network
    owner: ems_id
    manager_ref: [ems_ref]
    delete: delete
    parent_collections: [load_balancers]
    timestamps: [created_at, updated_at]
    columns: {ems_ref: string, address: string, port: integer}
    references:
      cloud_tenant: {collection: cloud_tenants, column: cloud_tenant_id}
      cloud_subnet: {collection: cloud_subnets, column: cloud_subnet_id}
      network_port: {collection: network_ports, column: network_port_id}
      resource_group: {collection: resource_groups, column: resource_group_id}
      vm: {collection: vms, column: vm_id}

  load_balancer_listeners:
    table: load_balancer_listeners
    model_class: LoadBalancerListener
    sti: true
    manager: network
    owner: ems_id
    manager_ref: [ems_ref]
    delete: delete
    parent_collections: [load_balancers]
    timestamps: [created_at, updated_at]
    columns:
      {ems_ref: string, name: string, description: string, load_balancer_protocol: string,
       instance_protocol: string, load_balancer_port_range: string,
       instance_port_range: string}
    references:
      cloud_tenant: {collection: cloud_tenants, column: cloud_tenant_id}
      load_balancer: {collection: load_balancers, column: load_balancer_id}

  load_balancer_health_checks:
    table: load_balancer_health_checks
    model_class: LoadBalancerHealthCheck
    sti: true
    manager: network
    owner: ems_id
    manager_ref: [ems_ref]
    delete: delete
    parent_collections: [load_balancers]
    timestamps: [created_at, updated_at]
    columns:
      {ems_ref: string, name: string, protocol: string, port: integer, url_path: string,
       interval: integer, timeout: integer, healthy_threshold: integer,
       unhealthy_threshold: integer}
    references:
      load_balancer_listener: {collection: load_balancer_listeners,
                               column: load_balancer_listener_id}
      cloud_tenant: {collection: cloud_tenants, column: cloud_tenant_id}
      load_balancer: {collection: load_balancers, column: load_balancer_id}

  load_balancer_pool_member_pools:
    description: Join model pool <-> member
    table: load_balancer_pool_member_pools
    model_class: LoadBalancerPoolMemberPool
    manager: network
    owner: none
    manager_ref: [load_balancer_pool, load_balancer_pool_member]
    delete: delete
    parent_collections: [load_balancer_pools]
    timestamps: []
    columns: {}
    references:
      load_balancer_pool: {collection: load_balancer_pools, column: load_balancer_pool_id}
      load_balancer_pool_member: {collection: load_balancer_pool_members,
                                  column: load_balancer_pool_member_id}

  load_balancer_listener_pools:
    description: Join model listener <-> pool
    table: load_balancer_listener_pools
    model_class: LoadBalancerListenerPool
    manager: network
    owner: none
    manager_ref: [load_balancer_listener, load_balancer_pool]
    delete: delete
    parent_collections: [load_balancer_listeners]
    timestamps: [created_at, updated_at]
    columns: {}
    references:
      load_balancer_listener: {collection: load_balancer_listeners,
                               column: load_balancer_listener_id}
      load_balancer_pool: {collection: load_balancer_pools, column: load_balancer_pool_id}

  load_balancer_health_check_members:
    description: Join model health check <-> pool member, with status
    table: load_balancer_health_check_members
    model_class: LoadBalancerHealthCheckMember
    manager: network
    owner: none
    manager_ref: [load_balancer_health_check, load_balancer_pool_member]
    delete: delete
    parent_collections: [load_balancer_health_checks]
    timestamps: []
    columns: {status: string, status_reason: string}
    references:
      load_balancer_health_check: {collection: load_balancer_health_checks,
                                   column: load_balancer_health_check_id}
      load_balancer_pool_member: {collection: load_balancer_pool_members,
                                  column: load_balancer_pool_member_id}

  security_policies:
    description: NSX-T security policies
    table: security_policies
    model_class: SecurityPolicy
    sti: true
    manager: network
    owner: ems_id
    manager_ref: [ems_ref]
    delete: delete
    timestamps: [created_at, updated_at]
    columns: {name: string, description: string, ems_ref: string, sequence_number: integer}
    references:
      cloud_tenant: {collection: cloud_tenants, column: cloud_tenant_id}

  security_policy_rules:
    description: NSX-T security policy rules
    table: security_policy_rules
    model_class: SecurityPolicyRule
    sti: true
    manager: network
    owner: ems_id
    manager_ref: [ems_ref]
    delete: delete
    parent_collections: [security_policies]
    timestamps: [created_at, updated_at]
    columns:
      {name: string, description: string, ems_ref: string, sequence_number: integer,
       status: string, action: string, direction: string, ip_protocol: string,
       sources_excluded: boolean, destinations_excluded: boolean}
    references:
      cloud_tenant: {collection: cloud_tenants, column: cloud_tenant_id}
      security_policy: {collection: security_policies, column: security_policy_id}
    many_to_many:
      source_security_groups:
        {collection: security_groups, join_table: security_policy_rule_source_security_groups,
         own_column: security_policy_rule_id, other_column: security_group_id}
      destination_security_groups:
        {collection: security_groups,
         join_table: security_policy_rule_destination_security_groups,
         own_column: security_policy_rule_id, other_column: security_group_id}
      network_services:
        {collection: network_services, join_table: security_policy_rule_network_services,
         own_column: security_policy_rule_id, other_column: network_service_id}

  network_services:
    description: NSX-T services
    table: network_services
    model_class: NetworkService
    sti: true
    manager: network
    owner: ems_id
    manager_ref: [ems_ref]
    delete: delete
    timestamps: [created_at, updated_at]
    columns: {name: string, description: string, ems_ref: string, shared: boolean}
    references:
      cloud_tenant: {collection: cloud_tenants, column: cloud_tenant_id}

  network_service_entries:
    description: NSX-T service entries (ports / protocols of a service)
    table: network_service_entries
    model_class: NetworkServiceEntry
    sti: true
    manager: network
    owner: ems_id
    manager_ref: [ems_ref]
    delete: delete
    parent_collections: [network_services]
    timestamps: [created_at, updated_at]
    columns:
      {name: string, description: string, ems_ref: string, protocol: string,
       source_ports: string, destination_ports: string}
    references:
      network_service: {collection: network_services, column: network_service_id}

  # -------------------------------------------------------------------------------- storage
  cloud_volumes:
    table: cloud_volumes
    model_class: CloudVolume
    sti: true
    manager: storage
    owner: ems_id
    manager_ref: [ems_ref]
    delete: delete
    timestamps: []
    columns:
      {name: string, status: string, description: string, volume_type: string,
       health_state: string, size: bigint, bootable: boolean, encrypted: boolean,
       multi_attachment: boolean, iops: integer, creation_time: datetime, ems_ref: string,
       storage_resource_id: bigint, storage_service_id: bigint}
    references:
      availability_zone: {collection: availability_zones, column: availability_zone_id}
      cloud_tenant: {collection: cloud_tenants, column: cloud_tenant_id}
      base_snapshot: {collection: cloud_volume_snapshots, column: cloud_volume_snapshot_id}

  cloud_volume_snapshots:
    table: cloud_volume_snapshots
    model_class: CloudVolumeSnapshot
    sti: true
    manager: storage
    owner: ems_id
    manager_ref: [ems_ref]
    delete: delete
    timestamps: []
    columns:
      {name: string, description: string, status: string, creation_time: datetime,
       size: bigint, encrypted: boolean, ems_ref: string}
    references:
      cloud_volume: {collection: cloud_volumes, column: cloud_volume_id}
      cloud_tenant: {collection: cloud_tenants, column: cloud_tenant_id}

  cloud_volume_types:
    table: cloud_volume_types
    model_class: CloudVolumeType
    sti: true
    manager: storage
    owner: ems_id
    manager_ref: [ems_ref]
    delete: delete
    timestamps: [created_at, updated_at]
    columns:
      {name: string, description: text, backend_name: string, public: boolean,
       ems_ref: string}

  cloud_volume_backups:
    table: cloud_volume_backups
    model_class: CloudVolumeBackup
    sti: true
    manager: storage
    owner: ems_id
    manager_ref: [ems_ref]
    delete: delete
    timestamps: []
    columns:
      {name: string, description: string, ems_ref: string, status: string,
       creation_time: datetime, size: bigint, object_count: integer,
       is_incremental: boolean, has_dependent_backups: boolean}
    references:
      cloud_volume: {collection: cloud_volumes, column: cloud_volume_id}
      availability_zone: {collection: availability_zones, column: availability_zone_id}

  cloud_object_store_containers:
    table: cloud_object_store_containers
    model_class: CloudObjectStoreContainer
    sti: true
    manager: storage
    owner: ems_id
    manager_ref: [ems_ref]
    delete: delete
    timestamps: []
    columns:
      {ems_ref: string, key: string, object_count: integer, bytes: bigint, name: string}
    references:
      cloud_tenant: {collection: cloud_tenants, column: cloud_tenant_id}

  cloud_object_store_objects:
    table: cloud_object_store_objects
    model_class: CloudObjectStoreObject
    sti: true
    manager: storage
    owner: ems_id
    manager_ref: [ems_ref]
    delete: delete
    timestamps: []
    columns:
      {ems_ref: string, etag: string, key: string, content_type: string,
       content_length: bigint, last_modified: datetime, name: string}
    references:
      cloud_tenant: {collection: cloud_tenants, column: cloud_tenant_id}
      cloud_object_store_container: {collection: cloud_object_store_containers,
                                     column: cloud_object_store_container_id}

  # ---------------------------------------------------------------------------------- infra
  hosts:
    description: Hypervisor hosts (disconnected like vms, never deleted)
    table: hosts
    model_class: Host
    sti: true
    manager: infra
    owner: ems_id
    manager_ref: [ems_ref]
    delete: disconnect
    defaults: {power_state: ""}
    timestamps: [created_on, updated_on]
    columns:
      {name: string, hostname: string, ipaddress: string, vmm_vendor: string,
       vmm_version: string, vmm_product: string, vmm_buildnumber: string, guid: string,
       user_assigned_os: string, power_state: string, raw_power_state: string,
       smart: integer, settings: string, last_perf_capture_on: datetime, uid_ems: string,
       connection_state: string, ssh_permit_root_login: string, admin_disabled: boolean,
       service_tag: string, asset_tag: string, ipmi_address: string, mac_address: string,
       failover: boolean, ems_ref: string, ems_ref_type: string, hyperthreading: boolean,
       next_available_vnc_port: integer, hypervisor_hostname: string, maintenance: boolean,
       maintenance_reason: string, physical_server_id: bigint}
    references:
      ems_cluster: {collection: clusters, column: ems_cluster_id}
      availability_zone: {collection: availability_zones, column: availability_zone_id}

  clusters:
    table: ems_clusters
    model_class: Cluster
    sti: true
    manager: infra
    owner: ems_id
    manager_ref: [ems_ref]
    delete: delete
    secondary_refs: {by_uid_ems: [uid_ems]}
    timestamps: [created_on, updated_on]
    columns:
      {name: string, uid_ems: string, ha_enabled: boolean, ha_admit_control: boolean,
       ha_max_failures: integer, drs_enabled: boolean, drs_automation_level: string,
       drs_migration_threshold: integer, last_perf_capture_on: datetime,
       effective_cpu: bigint, effective_memory: bigint, ems_ref: string,
       ems_ref_type: string, hidden: boolean}

  ems_folders:
    description: Folders, datacenters, storage clusters (skip_sti; parsers set type)
    table: ems_folders
    model_class: EmsFolder
    manager: infra
    owner: ems_id
    manager_ref: [uid_ems]
    delete: delete
    timestamps: [created_on, updated_on]
    columns:
      <<: &ems_folder_columns
        {name: string, uid_ems: string, ems_ref: string, ems_ref_type: string, hidden: boolean}
      type: string

  datacenters:
    description: Datacenters by ems_ref (oVirt and VMware put them in ems_folders instead)
    table: ems_folders
    model_class: Datacenter
    sti: true
    manager: infra
    owner: ems_id
    manager_ref: [ems_ref]
    delete: delete
    timestamps: [created_on, updated_on]
    columns: *ems_folder_columns

  resource_pools:
    table: resource_pools
    model_class: ResourcePool
    sti: true
    manager: infra
    owner: ems_id
    manager_ref: [uid_ems]
    delete: delete
    timestamps: [created_on, updated_on]
    columns:
      {name: string, uid_ems: string, memory_reserve: integer,
       memory_reserve_expand: boolean, memory_limit: integer, memory_shares: integer,
       memory_shares_level: string, cpu_reserve: integer, cpu_reserve_expand: boolean,
       cpu_limit: integer, cpu_shares: integer, cpu_shares_level: string,
       is_default: boolean, vapp: boolean, ems_ref: string, ems_ref_type: string,
       cpu_cores_available: float, cpu_cores_reserve: float, cpu_cores_limit: float}

  storages:
    description: Datastores / storage domains
    table: storages
    model_class: Storage
    sti: true
    manager: infra
    owner: ems_id
    manager_ref: [ems_ref]
    delete: delete
    defaults: {location: "", master: false}
    timestamps: [created_on, updated_on]
    columns:
      {name: string, store_type: string, total_space: bigint, free_space: bigint,
       multiplehostaccess: integer, location: string, last_scan_on: datetime,
       uncommitted: bigint, last_perf_capture_on: datetime,
       directory_hierarchy_supported: boolean, thin_provisioning_supported: boolean,
       raw_disk_mappings_supported: boolean, master: boolean, ems_ref: string,
       ems_ref_type: string, storage_domain_type: string, status: string,
       maintenance: boolean, maintenance_reason: string}

  guest_devices:
    description: VM vNICs and devices under a VM's hardware
    table: guest_devices
    model_class: GuestDevice
    manager: infra
    owner: none
    manager_ref: [hardware, uid_ems]
    delete: delete
    parent_collections: [hardwares]
    defaults: {present: true, start_connected: true}
    timestamps: []
    columns: &guest_device_columns
      {device_name: string, device_type: string, location: string, filename: string,
       mode: string, controller_type: string, size: bigint, free_space: bigint,
       size_on_disk: bigint, address: string, model: string, iscsi_name: string,
       iscsi_alias: string, present: boolean, start_connected: boolean,
       auto_detect: boolean, uid_ems: string, ems_ref: string, chap_auth_enabled: boolean,
       manufacturer: string, field_replaceable_unit: string, speed: bigint,
       vlan_key: string, vlan_enabled: boolean, peer_mac_address: string}
    references:
      hardware: {collection: hardwares, column: hardware_id}
      switch: {collection: [host_virtual_switches, distributed_virtual_switches],
               column: switch_id}
      lan: {collection: [lans, host_virtual_lans, distributed_virtual_lans], column: lan_id}
      parent_device: {collection: guest_devices, column: parent_device_id}

  ems_custom_attributes:
    description: Provider custom attributes of VMs and templates (section custom_field)
    table: custom_attributes
    model_class: CustomAttribute
    manager: infra
    owner: none
    manager_ref: [resource, name]
    delete: delete
    parent_collections: [vms, miq_templates]
    scope: {section: custom_field}
    defaults: {section: custom_field}
    timestamps: []
    columns: *custom_attribute_columns
    references: *custom_attribute_references

  vm_and_template_ems_custom_fields:
    description: Like ems_custom_attributes (saves section, name, value, source, resource)
    table: custom_attributes
    model_class: CustomAttribute
    manager: infra
    owner: none
    manager_ref: [resource, name]
    delete: delete
    parent_collections: [vms, miq_templates]
    scope: {section: custom_field}
    defaults: {section: custom_field}
    timestamps: []
    columns: *custom_attribute_columns
    references: *custom_attribute_references

  host_hardwares:
    table: hardwares
    model_class: Hardware
    manager: infra
    owner: none
    manager_ref: [host]
    delete: delete
    parent_collections: [hosts]
    defaults: {cpu_sockets: 1, manufacturer: "", model: ""}
    timestamps: []
    columns: *hardware_columns
    references:
      host: {collection: hosts, column: host_id}

  host_disks:
    table: disks
    model_class: Disk
    manager: infra
    owner: none
    manager_ref: [hardware, device_name]
    delete: delete
    parent_collections: [host_hardwares]
    defaults: {present: true, start_connected: true}
    timestamps: [created_on, updated_on]
    columns: *disk_columns
    references:
      hardware: {collection: host_hardwares, column: hardware_id}
      storage: {collection: storages, column: storage_id}

  host_networks:
    table: networks
    model_class: Network
    manager: infra
    owner: none
    manager_ref: [hardware, ipaddress]
    delete: delete
    parent_collections: [host_hardwares]
    timestamps: []
    columns: *network_columns
    references:
      hardware: {collection: host_hardwares, column: hardware_id}
      device: {collection: host_guest_devices, column: device_id}

  host_guest_devices:
    description: Host pNICs and HBAs
    table: guest_devices
    model_class: GuestDevice
    manager: infra
    owner: none
    manager_ref: [hardware, uid_ems]
    delete: delete
    parent_collections: [host_hardwares]
    defaults: {present: true, start_connected: true}
    timestamps: []
    columns: *guest_device_columns
    references:
      hardware: {collection: host_hardwares, column: hardware_id}
      switch: {collection: [host_virtual_switches, distributed_virtual_switches],
               column: switch_id}
      lan: {collection: [lans, host_virtual_lans, distributed_virtual_lans], column: lan_id}
      parent_device: {collection: host_guest_devices, column: parent_device_id}

  host_operating_systems:
    table: operating_systems
    model_class: OperatingSystem
    manager: infra
    owner: none
    manager_ref: [host]
    delete: delete
    parent_collections: [hosts]
    timestamps: []
    columns: *operating_system_columns
    references:
      host: {collection: hosts, column: host_id}

  host_system_services:
    table: system_services
    model_class: SystemService
    manager: infra
    owner: none
    manager_ref: [host, name]
    delete: delete
    parent_collections: [hosts]
    timestamps: []
    columns:
      {name: string, svc_type: string, typename: string, start: string, image_path: text,
       display_name: string, depend_on_service: string, depend_on_group: string,
       object_name: string, description: text, enable_run_levels: string,
       disable_run_levels: string, running: boolean, dependencies: text,
       systemd_load: string, systemd_active: string, systemd_sub: string}
    references:
      host: {collection: hosts, column: host_id}

  host_storages:
    table: host_storages
    model_class: HostStorage
    manager: infra
    owner: none
    manager_ref: [host, storage]
    delete: delete
    parent_collections: [hosts]
    timestamps: []
    columns: {read_only: boolean, accessible: boolean}
    references:
      host: {collection: hosts, column: host_id}
      storage: {collection: storages, column: storage_id}

  host_switches:
    table: host_switches
    model_class: HostSwitch
    manager: infra
    owner: none
    manager_ref: [host, switch]
    delete: delete
    parent_collections: [hosts]
    timestamps: []
    columns: {}
    references:
      host: {collection: hosts, column: host_id}
      switch: {collection: [host_virtual_switches, distributed_virtual_switches],
               column: switch_id}

  host_virtual_switches:
    description: A host's virtual switches (parser sets type)
    table: switches
    model_class: Switch
    manager: infra
    owner: none
    manager_ref: [host, uid_ems]
    delete: delete
    parent_collections: [hosts]
    timestamps: [created_on, updated_on]
    columns:
      <<: &switch_columns
        {name: string, ports: integer, uid_ems: string, allow_promiscuous: boolean,
         forged_transmits: boolean, mac_changes: boolean, switch_uuid: string,
         shared: boolean, mtu: integer, health_state: string, power_state: string}
      type: string
    references:
      host: {collection: hosts, column: host_id}

  distributed_virtual_switches:
    table: switches
    model_class: DistributedVirtualSwitch
    sti: true
    manager: infra
    owner: ems_id
    manager_ref: [uid_ems]
    delete: delete
    secondary_refs: {by_switch_uuid: [switch_uuid]}
    timestamps: [created_on, updated_on]
    columns: *switch_columns

  lans:
    description: Port groups / networks of a host virtual switch
    table: lans
    model_class: Lan
    manager: infra
    owner: none
    manager_ref: [switch, uid_ems]
    delete: delete
    parent_collections: [host_virtual_switches]
    timestamps: [created_on, updated_on]
    columns: &lan_columns
      {name: string, tag: string, uid_ems: string, ems_ref: string,
       allow_promiscuous: boolean, forged_transmits: boolean, mac_changes: boolean,
       computed_allow_promiscuous: boolean, computed_forged_transmits: boolean,
       computed_mac_changes: boolean}
    references: &host_lan_references
      switch: {collection: host_virtual_switches, column: switch_id}
      parent: {collection: [lans, host_virtual_lans], column: parent_id}

  host_virtual_lans:
    description: Same rows as lans (the builder offers both names)
    table: lans
    model_class: Lan
    manager: infra
    owner: none
    manager_ref: [switch, uid_ems]
    delete: delete
    parent_collections: [host_virtual_switches]
    timestamps: [created_on, updated_on]
    columns: *lan_columns
    references: *host_lan_references

  distributed_virtual_lans:
    table: lans
    model_class: Lan
    manager: infra
    owner: none
    manager_ref: [switch, uid_ems]
    delete: delete
    parent_collections: [distributed_virtual_switches]
    timestamps: [created_on, updated_on]
    columns: *lan_columns
    references:
      switch: {collection: distributed_virtual_switches, column: switch_id}
      parent: {collection: distributed_virtual_lans, column: parent_id}

  subnets:
    table: subnets
    model_class: Subnet
    manager: infra
    owner: none
    manager_ref: [lan, ems_ref]
    delete: delete
    parent_collections: [lans, host_virtual_lans, distributed_virtual_lans]
    timestamps: []
    columns: {ems_ref: string, name: string, cidr: string, type: string}
    references:
      lan: {collection: [lans, host_virtual_lans, distributed_virtual_lans], column: lan_id}

  miq_scsi_targets:
    table: miq_scsi_targets
    model_class: MiqScsiTarget
    manager: infra
    owner: none
    manager_ref: [guest_device, uid_ems]
    delete: delete
    parent_collections: [host_guest_devices]
    timestamps: []
    columns:
      {target: integer, iscsi_name: string, iscsi_alias: string, address: string,
       uid_ems: string}
    references:
      guest_device: {collection: host_guest_devices, column: guest_device_id}

  miq_scsi_luns:
    table: miq_scsi_luns
    model_class: MiqScsiLun
    manager: infra
    owner: none
    manager_ref: [miq_scsi_target, uid_ems]
    delete: delete
    parent_collections: [miq_scsi_targets]
    timestamps: []
    columns:
      {lun: integer, canonical_name: string, lun_type: string, device_name: string,
       block: bigint, block_size: integer, capacity: bigint, device_type: string,
       uid_ems: string}
    references:
      miq_scsi_target: {collection: miq_scsi_targets, column: miq_scsi_target_id}

  storage_profiles:
    table: storage_profiles
    model_class: StorageProfile
    manager: infra
    owner: ems_id
    manager_ref: [ems_ref]
    delete: delete
    timestamps: [created_at, updated_at]
    columns: {name: string, ems_ref: string, profile_type: string}

  storage_profile_storages:
    table: storage_profile_storages
    model_class: StorageProfileStorage
    manager: infra
    owner: none
    manager_ref: [storage_profile, storage]
    delete: delete
    parent_collections: [storage_profiles]
    timestamps: []
    columns: {}
    references:
      storage_profile: {collection: storage_profiles, column: storage_profile_id}
      storage: {collection: storages, column: storage_id}

  customization_specs:
    table: customization_specs
    model_class: CustomizationSpec
    manager: infra
    owner: ems_id
    manager_ref: [name]
    delete: delete
    timestamps: [created_at, updated_at]
    columns:
      {name: string, typ: string, description: text, last_update_time: datetime,
       spec: json}

  iso_images:
    table: iso_images
    model_class: IsoImage
    manager: infra
    owner: none
    manager_ref: [name]
    delete: delete
    parent_collections: [storages]
    timestamps: []
    columns: {name: string, pxe_image_type_id: bigint}
    references:
      storage: {collection: storages, column: storage_id}

  ems_extensions:
    table: ems_extensions
    model_class: EmsExtension
    manager: infra
    owner: ems_id
    manager_ref: [ems_ref]
    delete: delete
    timestamps: [created_at, updated_at]
    columns:
      {ems_ref: string, key: string, company: string, label: string, summary: string,
       version: string}

  ems_licenses:
    table: ems_licenses
    model_class: EmsLicense
    manager: infra
    owner: ems_id
    manager_ref: [ems_ref]
    delete: delete
    timestamps: [created_at, updated_at]
    columns:
      {ems_ref: string, name: string, license_key: string, license_edition: string,
       total_licenses: integer, used_licenses: integer}

  # ----------------------------------------------------------------------------- automation
  configuration_scripts:
    description: Job templates and workflows (ConfigurationScript / ConfigurationWorkflow)
    table: configuration_scripts
    model_class: ConfigurationScript
    sti: true
    manager: automation
    owner: manager_id
    manager_ref: [manager_ref]
    delete: delete
    scope: {configuration_script_source_id: null}
    timestamps: [created_at, updated_at]
    columns: &configuration_script_columns
      {manager_ref: string, name: string, description: string, variables: json,
       survey_spec: json, run_by_userid: string, payload: text, payload_type: string,
       status: string, credentials: json, context: json, output: json,
       miq_task_id: bigint, payload_valid: boolean, payload_error: string}
    references:
      inventory_root_group: {collection: inventory_root_groups,
                             column: inventory_root_group_id}
      parent: {collection: configuration_script_payloads, column: parent_id}

  configuration_script_payloads:
    description: Playbooks of a source; same table as configuration_scripts, owned via source
    table: configuration_scripts
    model_class: Playbook
    sti: true
    manager: automation
    owner: none
    manager_ref: [configuration_script_source, manager_ref]
    delete: delete
    parent_collections: [configuration_script_sources]
    timestamps: [created_at, updated_at]
    columns: *configuration_script_columns
    references:
      configuration_script_source: {collection: configuration_script_sources,
                                    column: configuration_script_source_id}

  configuration_script_sources:
    description: Projects (SCM repositories)
    table: configuration_script_sources
    model_class: ConfigurationScriptSource
    sti: true
    manager: automation
    owner: manager_id
    manager_ref: [manager_ref]
    delete: delete
    timestamps: [created_at, updated_at]
    columns:
      {manager_ref: string, name: string, description: string, scm_type: string,
       scm_url: string, scm_branch: string, scm_clean: boolean,
       scm_delete_on_update: boolean, scm_update_on_launch: boolean, status: string,
       last_updated_on: datetime, last_update_error: text, git_repository_id: bigint}
    references:
      authentication: {collection: credentials, column: authentication_id}

  configured_systems:
    description: Hosts of the automation inventories
    table: configured_systems
    model_class: ConfiguredSystem
    sti: true
    manager: automation
    owner: manager_id
    manager_ref: [manager_ref]
    delete: delete
    timestamps: [created_at, updated_at]
    columns:
      {hostname: string, manager_ref: string, last_checkin: datetime, build_state: string,
       ipaddress: string, mac_address: string, ipmi_present: boolean,
       puppet_status: string, virtual_instance_ref: string, vendor: string,
       direct_operating_system_flavor_id: bigint, operating_system_flavor_id: bigint,
       configuration_location_id: bigint, configuration_organization_id: bigint,
       direct_customization_script_ptable_id: bigint,
       direct_customization_script_medium_id: bigint,
       customization_script_medium_id: bigint, customization_script_ptable_id: bigint}
    references:
      inventory_root_group: {collection: inventory_root_groups,
                             column: inventory_root_group_id}
      counterpart: {collection: [vms, cross_link_vms], column: counterpart_id,
                    type_column: counterpart_type}
      orchestration_stack: {collection: orchestration_stacks, column: orchestration_stack_id}
      configuration_profile: {collection: configuration_profiles,
                              column: configuration_profile_id}

  credentials:
    description: Automation credentials; rows of authentications owned by the manager
    table: authentications
    model_class: Credential
    sti: true
    manager: automation
    owner: resource
    manager_ref: [manager_ref]
    delete: delete
    scope: {authtype: null}
    timestamps: [created_on, updated_on]
    columns: *authentication_columns

  authentication_configuration_script_bases:
    description: Join model script <-> credential
    table: authentication_configuration_script_bases
    model_class: AuthenticationConfigurationScriptBase
    manager: automation
    owner: none
    manager_ref: [configuration_script_base, authentication]
    delete: delete
    parent_collections: [configuration_scripts]
    timestamps: []
    columns: {}
    references:
      configuration_script_base: {collection: [configuration_scripts,
                                               configuration_script_payloads],
                                  column: configuration_script_base_id}
      authentication: {collection: credentials, column: authentication_id}

  inventory_root_groups:
    description: Automation inventories (AWX Inventory < InventoryRootGroup < EmsFolder)
    table: ems_folders
    model_class: Inventory
    sti: true
    manager: automation
    owner: ems_id
    manager_ref: [ems_ref]
    delete: delete
    timestamps: [created_on, updated_on]
    columns: *ems_folder_columns

  configuration_profiles:
    description: Configuration profiles (configuration builder, e.g. Foreman host groups)
    table: configuration_profiles
    model_class: ConfigurationProfile
    sti: true
    manager: configuration
    owner: manager_id
    manager_ref: [manager_ref]
    delete: delete
    timestamps: [created_at, updated_at]
    columns:
      {name: string, description: string, manager_ref: string, parent_ref: string,
       direct_operating_system_flavor_id: bigint, operating_system_flavor_id: bigint,
       direct_customization_script_ptable_id: bigint,
       direct_customization_script_medium_id: bigint,
       customization_script_medium_id: bigint, customization_script_ptable_id: bigint}
    references:
      parent: {collection: configuration_profiles, column: parent_id}

# Join tables of many_to_many links (collection tables such as cloud_subnets_network_ports are
# not repeated here). Each gets an `id` primary key, like ManageIQ's join tables.
tables:
  key_pairs_vms:
    columns: {authentication_id: bigint, vm_id: bigint}
  storages_vms_and_templates:
    columns: {storage_id: bigint, vm_or_template_id: bigint}
    unique: [[vm_or_template_id, storage_id]]
  cloud_tenant_flavors:
    columns: {cloud_tenant_id: bigint, flavor_id: bigint}
    unique: [[cloud_tenant_id, flavor_id]]
  network_ports_security_groups:
    columns: {network_port_id: bigint, security_group_id: bigint}
    unique: [[network_port_id, security_group_id]]
  host_aggregate_hosts:
    columns: {host_id: bigint, host_aggregate_id: bigint}
    unique: [[host_id, host_aggregate_id]]
  security_policy_rule_source_security_groups:
    columns: {security_policy_rule_id: bigint, security_group_id: bigint,
              created_at: datetime, updated_at: datetime}
    unique: [[security_policy_rule_id, security_group_id]]
  security_policy_rule_destination_security_groups:
    columns: {security_policy_rule_id: bigint, security_group_id: bigint,
              created_at: datetime, updated_at: datetime}
    unique: [[security_policy_rule_id, security_group_id]]
  security_policy_rule_network_services:
    columns: {security_policy_rule_id: bigint, network_service_id: bigint,
              created_at: datetime, updated_at: datetime}
    unique: [[security_policy_rule_id, network_service_id]]
"""
