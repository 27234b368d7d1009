"""``miqspec inventory``'s rows (issue 16, point 13): collections sharing one table show their
own rows only, the provider row itself, ``genealogy_parent`` named from ``vms.ancestry``, a
did-you-mean for an unknown collection, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from miqspec.api.database import Database
from miqspec.api.inventory import read_inventory
from miqspec.errors import NotFoundError
from miqspec.spec.load import load_spec
from miqspec.store.providers import ProviderStore

from ..conftest import AWESOME


def _insert(conn: sa.Connection, table: str, **values: Any) -> int:
    cols = ", ".join(values)
    marks = ", ".join(f":{c}" for c in values)
    conn.execute(sa.text(f"insert into {table} ({cols}) values ({marks})"), values)
    return int(conn.execute(sa.text(f"select max(id) from {table}")).scalar_one())


@pytest.fixture
def db(engine, keyring):  # type: ignore[no-untyped-def]
    args = {
        "provider_region": "us-east-1",
        "authentications": {"default": {"userid": "u", "password": "p"}},
    }
    ems = ProviderStore(engine).add(load_spec(str(AWESOME)), "p", args, keyring)
    with engine.begin() as conn:
        vm = _insert(conn, "vms", ems_id=ems, ems_ref="vm-1", name="vm one", template=False)
        tpl = _insert(conn, "vms", ems_id=ems, ems_ref="img-1", name="image", template=True)
        conn.execute(sa.text(f"update vms set ancestry = '{tpl}' where id = {vm}"))
        host = _insert(conn, "hosts", ems_id=ems, ems_ref="h-1", name="host one")
        vm_hw = _insert(conn, "hardwares", vm_or_template_id=vm)
        host_hw = _insert(conn, "hardwares", host_id=host)
        for i in range(3):
            _insert(conn, "guest_devices", hardware_id=vm_hw, uid_ems=f"nic-{i}")
        _insert(conn, "guest_devices", hardware_id=host_hw, uid_ems="pnic-0")
    yield Database(engine)


def test_collections_sharing_a_table_show_their_own_rows(db):
    vm_nics = read_inventory(db, "p", "guest_devices").rows
    host_nics = read_inventory(db, "p", "host_guest_devices").rows
    assert sorted(r["uid_ems"] for r in vm_nics) == ["nic-0", "nic-1", "nic-2"]
    assert [r["uid_ems"] for r in host_nics] == ["pnic-0"]
    assert len(read_inventory(db, "p", "hardwares").rows) == 1
    assert [r["ems_ref"] for r in read_inventory(db, "p", "vms").rows] == ["vm-1"]


def test_the_provider_row_and_genealogy_parent(db):
    ems = read_inventory(db, "p", "ext_management_system").rows
    assert [r["name"] for r in ems] == ["p"]
    (vm,) = read_inventory(db, "p", "vms").rows
    assert vm["genealogy_parent"] == "image"


def test_an_unknown_collection_names_the_closest(db):
    with pytest.raises(NotFoundError, match="did you mean 'vms'"):
        read_inventory(db, "p", "vmz")
