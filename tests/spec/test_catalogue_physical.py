"""A physical-infrastructure manager refreshed with the catalogue alone (issue 16, point 17).

A spec (catalogue_specs/redfish_fake.yaml) reads a local Redfish-shaped API into ManageIQ's
physical collections with no ``models:``, on SQLite and PostgreSQL at the head migration:
racks, chassis, servers, switches and storages with their asset details; a server's computer
system, hardware, network and storage adapters (guest_devices) and firmwares, as ManageIQ
chains them (server -> computer system -> hardware -> guest device -> firmware).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from .catalogue_fakes import add_provider, refresh, rows, serve, write_spec

SPEC = (Path(__file__).parent / "catalogue_specs" / "redfish_fake.yaml").read_text()
RACK, ENC = "/redfish/v1/Chassis/Rack1", "/redfish/v1/Chassis/Enc1"


def _system(n: int) -> dict[str, Any]:
    return {
        "@odata.id": f"/redfish/v1/Systems/{n}", "Id": str(n), "UUID": f"uuid-{n}",
        "Name": f"Blade {n}", "HostName": f"blade{n}.example.com", "PowerState": "On",
        "Status": {"Health": "OK"}, "Manufacturer": "Lenovo", "Model": "SR650",
        "SerialNumber": f"SN{n}", "Description": "Compute blade", "IndicatorLED": "Off",
        "BiosVersion": f"2.{n}", "Links": {"Chassis": [{"@odata.id": ENC}],
                                           "Rack": {"@odata.id": RACK}},
        "Location": {"Placement": {"Rack": "Rack1"}, "PostalAddress": {"Room": "B12"}},
        "ProcessorSummary": {"CoreCount": 32, "Model": "x86-64"},
        "MemorySummary": {"TotalSystemMemoryGiB": 256},
        "EthernetInterfaces": [
            {"Id": "1", "Name": "NIC 1", "MACAddress": f"00:00:00:00:0{n}:01", "SpeedMbps": 10000},
            {"Id": "2", "Name": "NIC 2", "MACAddress": f"00:00:00:00:0{n}:02", "SpeedMbps": 1000},
        ],
        "StorageControllers": [{"Id": "RAID", "Name": "RAID controller", "Model": "930-8i",
                                "FirmwareVersion": "5.1"}],
    }  # fmt: skip


def api_routes() -> dict[str, Any]:
    return {
        "/redfish/v1/Chassis": {"Members": [
            {"@odata.id": RACK, "Id": "Rack1", "ChassisType": "Rack", "Name": "Rack 1"},
            {"@odata.id": ENC, "Id": "Enc1", "ChassisType": "Enclosure", "Name": "Enclosure 1",
             "Status": {"Health": "Warning"}, "Manufacturer": "Lenovo", "Model": "Flex",
             "SerialNumber": "ENC-SN", "PartNumber": "PN-1", "IndicatorLED": "Blinking",
             "Oem": {"BladeSlots": 14}, "Links": {"ContainedBy": {"@odata.id": RACK}}}]},
        "/redfish/v1/Systems": {"Members": [_system(1), _system(2)]},
        "/redfish/v1/Switches": {"Members": [
            {"Id": "sw-1", "Name": "Top of rack", "Status": {"Health": "OK"}, "PowerState": "On",
             "Manufacturer": "Lenovo", "Model": "G8272", "SerialNumber": "SW-SN",
             "PartNumber": "SW-PN", "FirmwareVersion": "8.4"}]},
        "/redfish/v1/Storage": {"Members": [
            {"@odata.id": "/redfish/v1/Storage/1", "Name": "DE4000", "Status": {"Health": "OK"},
             "SerialNumber": "ST-SN", "Drives": [{}, {}, {}],
             "Links": {"Rack": {"@odata.id": RACK}}}]},
    }  # fmt: skip


def test_physical_infra_manager_without_models(engine, keyring, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = write_spec(tmp_path, "redfish_fake", "physical", SPEC)
    assert "models:" not in path.read_text()
    routes = api_routes()
    with serve(routes) as api:
        ems = add_provider(engine, keyring, path, api)
        first = refresh(engine, keyring, "redfish_fake")
        again = refresh(engine, keyring, "redfish_fake")
        check_rows(engine, ems)
        assert again.report.rows_written == 0
        assert not [w for w in first.warnings if "dropped" in w or "null" in w], first.warnings
        # server 2 goes: its rows and the rows under it are deleted, not archived
        changed = copy.deepcopy(routes)
        changed["/redfish/v1/Systems"]["Members"].pop()
        api.routes.update(changed)
        third = refresh(engine, keyring, "redfish_fake")
    assert third.report.of("physical_servers").deleted == 1
    assert rows(engine, "select name from physical_servers") == [("Lenovo Blade 1 (SN1)",)]
    assert rows(engine, "select count(*) from guest_devices") == [(3,)]
    assert rows(engine, "select count(*) from firmwares") == [(3,)]  # BIOS, RAID, switch


def check_rows(engine, ems: int) -> None:  # type: ignore[no-untyped-def]
    server = "ManageIQ::Providers::RedfishFake::PhysicalInfraManager::PhysicalServer"
    assert rows(engine, "select ems_id, name, ems_ref from physical_racks") == [
        (ems, "Rack1", RACK)
    ]
    assert rows(engine, """
        select c.name, c.type, c.health_state, c.blade_slot_count, r.name
        from physical_chassis c join physical_racks r on r.id = c.physical_rack_id""") == [
        ("Enclosure 1", "ManageIQ::Providers::RedfishFake::PhysicalInfraManager::PhysicalChassis",
         "Warning", 14, "Rack1")]  # fmt: skip
    assert rows(engine, """
        select s.name, s.type, s.power_state, s.raw_power_state, s.hostname, c.name, r.name
        from physical_servers s join physical_chassis c on c.id = s.physical_chassis_id
        join physical_racks r on r.id = s.physical_rack_id order by 1""") == [
        ("Lenovo Blade 1 (SN1)", server, "on", "On", "blade1.example.com", "Enclosure 1", "Rack1"),
        ("Lenovo Blade 2 (SN2)", server, "on", "On", "blade2.example.com", "Enclosure 1", "Rack1"),
    ]  # fmt: skip
    # asset details by resource type
    assert rows(engine, """
        select resource_type, serial_number, location_led_state, rack_name, room, part_number
        from asset_details order by 1, 2""") == [
        ("PhysicalChassis", "ENC-SN", "Blinking", None, None, "PN-1"),
        ("PhysicalServer", "SN1", "Off", "Rack1", "B12", None),
        ("PhysicalServer", "SN2", "Off", "Rack1", "B12", None),
        ("PhysicalStorage", "ST-SN", None, None, None, None),
        ("Switch", "SW-SN", None, None, None, None)]  # fmt: skip
    # server -> computer system -> hardware -> adapters -> firmware
    assert rows(engine, """
        select s.name, h.cpu_total_cores, h.memory_mb, h.serial_number
        from physical_servers s
        join computer_systems cs on cs.managed_entity_id = s.id
             and cs.managed_entity_type = 'PhysicalServer'
        join hardwares h on h.computer_system_id = cs.id order by 1""") == [
        ("Lenovo Blade 1 (SN1)", 32, 262144, "SN1"),
        ("Lenovo Blade 2 (SN2)", 32, 262144, "SN2")]  # fmt: skip
    assert rows(engine, """
        select s.name, g.device_type, g.uid_ems, g.address, g.speed, g.model
        from guest_devices g join hardwares h on h.id = g.hardware_id
        join computer_systems cs on cs.id = h.computer_system_id
        join physical_servers s on s.id = cs.managed_entity_id order by 1, 2, 3""") == [
        ("Lenovo Blade 1 (SN1)", "ethernet", "00:00:00:00:01:01", "00:00:00:00:01:01", 10000, None),
        ("Lenovo Blade 1 (SN1)", "ethernet", "00:00:00:00:01:02", "00:00:00:00:01:02", 1000, None),
        ("Lenovo Blade 1 (SN1)", "storage", "1/RAID", None, None, "930-8i"),
        ("Lenovo Blade 2 (SN2)", "ethernet", "00:00:00:00:02:01", "00:00:00:00:02:01", 10000, None),
        ("Lenovo Blade 2 (SN2)", "ethernet", "00:00:00:00:02:02", "00:00:00:00:02:02", 1000, None),
        ("Lenovo Blade 2 (SN2)", "storage", "2/RAID", None, None, "930-8i")]  # fmt: skip
    assert rows(engine, """
        select f.name, f.version, f.resource_type, g.uid_ems from firmwares f
        left join guest_devices g on g.id = f.guest_device_id order by 1, 2""") == [
        ("BIOS", "2.1", "Hardware", None), ("BIOS", "2.2", "Hardware", None),
        ("RAID controller firmware", "5.1", None, "1/RAID"),
        ("RAID controller firmware", "5.1", None, "2/RAID"),
        ("firmware", "8.4", "Hardware", None)]  # fmt: skip
    # the switch: a switches row of the manager, with its hardware
    assert rows(engine, """
        select sw.ems_id, sw.type, sw.name, sw.product_name, sw.power_state, h.id is not null
        from switches sw left join hardwares h on h.physical_switch_id = sw.id""") == [
        (ems, "ManageIQ::Providers::RedfishFake::PhysicalInfraManager::PhysicalSwitch",
         "Top of rack", "G8272", "on", True)]  # fmt: skip
    assert rows(
        engine,
        """
        select st.name, st.drive_bays, r.name, cs.id is not null from physical_storages st
        join physical_racks r on r.id = st.physical_rack_id
        left join computer_systems cs on cs.managed_entity_id = st.id
             and cs.managed_entity_type = 'PhysicalStorage'""",
    ) == [("DE4000", 3, "Rack1", True)]
