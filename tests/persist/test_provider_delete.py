"""provider delete on real SQLite and PostgreSQL: the provider's rows go, with the owner-less
rows hanging off them (hardwares, disks, ...) and their join rows; another provider's stay."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from miqspec.parse.objects import LazyRef, ParsedInventory
from miqspec.persist.persister import persist
from miqspec.pipeline import owners_for
from miqspec.spec.catalogue import load_catalogue
from miqspec.spec.load import load_spec
from miqspec.store.providers import ProviderStore

from ..conftest import AWESOME
from ..persist_support import Spec3, build, flavor, vm

NOW = datetime(2024, 5, 1, 12)


def add_provider(engine: sa.Engine, keyring: Any, name: str) -> int:
    args = {
        "provider_region": "us-east-1",
        "endpoints": {"default": {"url": "http://127.0.0.1:9"}},
        "authentications": {"default": {"userid": "u", "password": f"secret-{name}"}},
    }
    return ProviderStore(engine).add(load_spec(str(AWESOME)), name, args, keyring)


def vm_parts(collection: str, ref: str, *disks: str) -> list[Spec3]:
    """A vm (or template)'s owner-less children: hardware with disks and a nic, os, label,
    snapshot."""
    owner = LazyRef(collection, (ref,))
    hardware = LazyRef("hardwares", (owner,))
    out: list[Spec3] = [
        ("hardwares", (owner,), {"vm_or_template": owner, "memory_mb": 1024}),
        ("networks", (hardware, "private"), {"hardware": hardware, "description": "private"}),
        ("operating_systems", (owner,), {"vm_or_template": owner, "product_name": "linux"}),
        ("vm_and_template_labels", (owner, "env"), {"resource": owner, "name": "env"}),
        ("snapshots", (owner, "s1"), {"vm_or_template": owner, "uid": "s1", "name": "s1"}),
    ]
    out += [
        ("disks", (hardware, d), {"hardware": hardware, "device_name": d, "size": 1}) for d in disks
    ]
    return out


def inventory() -> ParsedInventory:
    keys = [LazyRef("auth_key_pairs", (n,)) for n in ("k1", "k2")]
    stack = LazyRef("orchestration_stacks", ("st-1",))
    group = LazyRef("security_groups", ("sg-1",))
    template = (
        "miq_templates",
        ("img-1",),
        {"ems_ref": "img-1", "name": "img-1", "vendor": "amazon", "type": "T"},
    )
    return build(
        flavor("f-1"),
        *[("auth_key_pairs", (n,), {"name": n, "type": "K"}) for n in ("k1", "k2")],
        vm("vm-1", key_pairs=keys),
        vm("vm-2", key_pairs=keys[:1]),
        template,
        *vm_parts("vms", "vm-1", "sda", "sdb"),
        *vm_parts("vms", "vm-2", "sda"),
        *vm_parts("miq_templates", "img-1", "sda"),
        ("orchestration_stacks", ("st-1",), {"ems_ref": "st-1", "name": "st", "type": "S"}),
        ("orchestration_stacks_resources", (stack, "r"), {"stack": stack, "ems_ref": "r"}),
        ("orchestration_stacks_outputs", (stack, "o"), {"stack": stack, "ems_ref": "o"}),
        ("orchestration_stacks_parameters", (stack, "p"), {"stack": stack, "ems_ref": "p"}),
        ("security_groups", ("sg-1",), {"ems_ref": "sg-1", "name": "sg", "type": "G"}),
        (
            "firewall_rules",
            (group, None, "inbound", "TCP", 22, 22, "0.0.0.0/0"),
            {
                "resource": group,
                "direction": "inbound",
                "host_protocol": "TCP",
                "port": 22,
                "end_port": 22,
                "source_ip_range": "0.0.0.0/0",
            },
        ),
        (
            "network_ports",
            ("port-1",),
            {
                "ems_ref": "port-1",
                "type": "P",
                "device": LazyRef("vms", ("vm-1",)),
                "security_groups": [group],
            },
        ),
    )


def save(engine: sa.Engine, ems_id: int) -> None:
    store = ProviderStore(engine)
    spec = load_spec(str(AWESOME))
    owners = owners_for(spec, ems_id, store.children(ems_id))
    with engine.begin() as conn:
        persist(conn, store.md, load_catalogue(), inventory(), owners, now=NOW)


def dump(engine: sa.Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table miqspec knows, per table (order-independent)."""
    md = ProviderStore(engine).md
    with engine.connect() as conn:
        return {
            t.name: sorted((tuple(r) for r in conn.execute(sa.select(t))), key=repr)
            for t in md.sorted_tables
        }


def test_delete_removes_owner_less_descendants_and_keeps_other_providers(
    engine: sa.Engine, keyring: Any
) -> None:
    save(engine, add_provider(engine, keyring, "other"))
    before = dump(engine)
    save(engine, add_provider(engine, keyring, "gone"))
    during = dump(engine)
    grown = {t for t in during if len(during[t]) > len(before[t])}
    # the deleted provider really had owner-less descendants and join rows
    for table in (
        "hardwares",
        "disks",
        "networks",
        "operating_systems",
        "snapshots",
        "custom_attributes",
        "orchestration_stack_resources",
        "orchestration_stack_outputs",
        "orchestration_stack_parameters",
        "firewall_rules",
        "key_pairs_vms",
        "network_ports_security_groups",
    ):
        assert table in grown, table

    ProviderStore(engine).delete("gone")

    after = dump(engine)
    left = {t: len(after[t]) - len(before[t]) for t in after if after[t] != before[t]}
    assert left == {}
    assert ProviderStore(engine).names() == ["other"]
