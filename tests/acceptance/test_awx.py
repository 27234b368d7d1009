"""AWX acceptance: replay ../shared/cassettes/awx twice, check every item of its EXPECTED.md.

Each test runs on four databases: SQLite and PostgreSQL, after the first and after the second
refresh. Before the first refresh a VM of another (VMware) manager is put in the database: the
configured system `hello_vm` must find it as its counterpart (E: "already in the database").
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest
import sqlalchemy as sa
import yaml

from .conftest import (
    Case,
    Replayed,
    RunCache,
    cassette_dir,
    load_cassette,
    replay,
    replay_refresh,
    secrets_for,
)

PREFIX = "ManageIQ::Providers::Awx::AutomationManager::"
VM_UID = "4233080d-7467-de61-76c9-c8307b6e4830"
OTHER_VM_TYPE = "ManageIQ::Providers::Vmware::InfraManager::Vm"
TABLES = (
    "configured_systems",
    "configuration_scripts",
    "ems_folders",
    "configuration_script_sources",
    "authentications",
    "authentication_configuration_script_bases",
)


def _args() -> dict[str, Any]:
    s = secrets_for("awx")
    return {
        "endpoints": {"default": {"url": s["url"], "verify_ssl": 0}},  # E: verify_ssl off
        "authentications": {"default": {"userid": s["user"], "password": s["password"]}},
    }


def _other_manager_vm(engine: sa.Engine) -> None:
    """A VMware manager with the VM whose uid_ems is hello_vm's virtual_instance_ref."""
    with engine.begin() as conn:
        ems_id = conn.execute(
            sa.text(
                "insert into ext_management_systems (name, type, guid, enabled) values "
                "('vc', 'ManageIQ::Providers::Vmware::InfraManager', 'vc-guid', :t) returning id"
            ),
            {"t": True},
        ).scalar()
        conn.execute(
            sa.text(
                "insert into vms (name, type, vendor, template, uid_ems, ems_ref, ems_id) values "
                "('hello_vm', :ty, 'vmware', :f, :uid, 'vm-1', :e)"
            ),
            {"ty": OTHER_VM_TYPE, "f": False, "uid": VM_UID, "e": ems_id},
        )


CASE = Case(provider="awx", args=_args, prepare=_other_manager_vm)


def tower_data() -> dict[str, Any]:
    """tower_data.yml with the Ruby symbol keys (":items") made plain ("items")."""

    def plain(node: Any) -> Any:
        if isinstance(node, dict):
            return {str(k).lstrip(":"): plain(v) for k, v in node.items()}
        if isinstance(node, list):
            return [plain(v) for v in node]
        return node

    return dict(plain(yaml.safe_load((cassette_dir("awx") / "tower_data.yml").read_text())))


def as_json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def is_false(value: Any) -> bool:
    return value is not None and not value


def test_every_refresh_succeeds_without_error(run: Replayed) -> None:
    assert [r.error for r in run.results] == [None] * run.passes
    assert (
        run.scalar("select last_refresh_error from ext_management_systems where id = :ems") is None
    )


COUNTS = {
    "configured_systems": "select count(*) from configured_systems where manager_id = :ems",
    "configuration_scripts": (
        "select count(*) from configuration_scripts where manager_id = :ems and type in "
        f"('{PREFIX}ConfigurationScript', '{PREFIX}ConfigurationWorkflow')"
    ),
    "inventory_groups": "select count(*) from ems_folders where ems_id = :ems",
    "configuration_script_sources": (
        "select count(*) from configuration_script_sources where manager_id = :ems"
    ),
    "configuration_script_payloads": (
        "select count(*) from configuration_scripts p join configuration_script_sources s "
        "on s.id = p.configuration_script_source_id where s.manager_id = :ems"
    ),
    "credentials": (
        "select count(*) from authentications where resource_id = :ems and "
        "resource_type = 'ExtManagementSystem' and manager_ref is not null"
    ),
}


@pytest.mark.parametrize(
    ("collection", "count"),
    [
        ("configured_systems", 35),
        ("configuration_scripts", 45),
        ("inventory_groups", 12),
        ("configuration_script_sources", 17),
        ("configuration_script_payloads", 277),
        ("credentials", 24),
    ],
)
def test_count(run: Replayed, collection: str, count: int) -> None:
    assert run.scalar(COUNTS[collection]) == count


def test_manager_api_version(run: Replayed) -> None:
    assert (
        run.scalar("select api_version from ext_management_systems where id = :ems")
        == tower_data()["config"]["version"]
        == "3.2.2"
    )


def test_configured_system_hello_vm(run: Replayed) -> None:
    typ, ref, vref, ctype, cid, group = run.row(
        "select c.type, c.manager_ref, c.virtual_instance_ref, c.counterpart_type, "
        "c.counterpart_id, g.name from configured_systems c "
        "left join ems_folders g on g.id = c.inventory_root_group_id "
        "where c.manager_id = :ems and c.hostname = 'hello_vm'"
    )
    assert (typ, ref, vref, group) == (
        PREFIX + "ConfiguredSystem",
        "162",
        VM_UID,
        "hello_inventory",
    )
    vm_id = run.scalar("select id from vms where uid_ems = :u and ems_id <> :ems", u=VM_UID)
    assert cid == vm_id
    assert ctype in ("VmOrTemplate", "Vm", OTHER_VM_TYPE)


def test_inventory_root_group_hello_inventory(run: Replayed) -> None:
    assert tuple(
        run.row(
            "select ems_ref, type from ems_folders where ems_id = :ems and name = 'hello_inventory'"
        )
    ) == ("129", PREFIX + "Inventory")


def test_configuration_script_hello_template(run: Replayed) -> None:
    sid, desc, ref, source_ref = run.row(
        "select c.id, c.description, c.manager_ref, s.manager_ref from configuration_scripts c "
        "left join configuration_scripts p on p.id = c.parent_id "
        "left join configuration_script_sources s on s.id = p.configuration_script_source_id "
        "where c.manager_id = :ems and c.name = 'hello_template'"
    )
    assert (desc, ref, source_ref) == ("test job", "506", "505")
    kinds = run.rows(
        "select a.type from authentication_configuration_script_bases j "
        "join authentications a on a.id = j.authentication_id "
        "where j.configuration_script_base_id = :s",
        s=sid,
    )
    assert sorted(k[0] for k in kinds) == sorted(
        PREFIX + k for k in ("MachineCredential", "NetworkCredential", "AmazonCredential")
    )


def test_configuration_script_hello_template_with_survey(run: Replayed) -> None:
    desc, ref, variables, survey = run.row(
        "select description, manager_ref, variables, survey_spec from configuration_scripts "
        "where manager_id = :ems and name = 'hello_template_with_survey'"
    )
    assert (desc, ref, as_json(variables)) == ("test job with survey spec", "507", {})
    survey = as_json(survey)
    assert isinstance(survey, dict)
    assert survey["spec"][0]["question_name"] == "example question"


def test_workflow_hello_workflow(run: Replayed) -> None:
    typ, ref, survey, variables = run.row(
        "select type, manager_ref, survey_spec, variables from configuration_scripts "
        "where manager_id = :ems and name = 'hello_workflow'"
    )
    assert (typ, ref) == (PREFIX + "ConfigurationWorkflow", "508")
    assert (as_json(survey), as_json(variables)) == ({}, {})


SOURCE_SQL = (
    "select s.id, s.description, s.scm_type, s.scm_branch, s.scm_clean, "
    "s.scm_delete_on_update, s.scm_update_on_launch, a.name, s.scm_url, s.status, "
    "s.last_update_error from configuration_script_sources s "
    "left join authentications a on a.id = s.authentication_id "
    "where s.manager_id = :ems and s.name = :n"
)


@pytest.mark.parametrize(
    ("name", "url", "status"),
    [
        ("hello_repo", "https://github.com/jameswnl/ansible-examples", "successful"),
        ("jobless_repo", "https://github.com/jameswnl/ansible-examples", "successful"),
        ("failed_repo", "https://github.com/jameswnl/ansible-examplez", "failed"),
    ],
)
def test_configuration_script_source(run: Replayed, name: str, url: str, status: str) -> None:
    (_, desc, scm_type, branch, clean, delete, update, cred, scm_url, got_status, error) = run.row(
        SOURCE_SQL, n=name
    )
    assert (desc, scm_type, branch, cred) == ("", "git", "", "hello_scm_cred")
    assert is_false(clean) and is_false(delete) and is_false(update)
    assert (scm_url, got_status) == (url, status)
    if status == "successful":
        assert not error
    else:
        assert error.startswith("Using /etc/ansible/ansible.cfg as config file")


def test_hello_repo_payloads_are_its_playbooks(run: Replayed) -> None:
    source_id = run.row(SOURCE_SQL, n="hello_repo")[0]
    payloads = run.rows(
        "select name, type from configuration_scripts where configuration_script_source_id = :s",
        s=source_id,
    )
    expected = tower_data()["items"]["hello_repo"]["playbooks"]
    assert len(payloads) == len(expected) == 61
    assert sorted(p[0] for p in payloads) == sorted(expected)
    assert {p[1] for p in payloads} == {PREFIX + "Playbook"}


CREDENTIAL_SQL = (
    "select manager_ref, name, userid, type, options from authentications "
    "where resource_id = :ems and resource_type = 'ExtManagementSystem' "
    "and name = :n"
)


@pytest.mark.parametrize(
    ("name", "ref", "userid", "kind", "keys"),
    [
        ("hello_vault_cred", "1155", None, "VaultCredential", {"vault_password"}),
        (
            "hello_machine_cred",
            None,
            "admin",
            "MachineCredential",
            {
                "become_method",
                "become_password",
                "become_username",
                "ssh_key_data",
                "ssh_key_unlock",
            },
        ),
        (
            "hello_network_cred",
            None,
            "admin",
            "NetworkCredential",
            {"authorize", "authorize_password", "ssh_key_data", "ssh_key_unlock"},
        ),
        ("hello_aws_cred", None, "ABC", "AmazonCredential", {"security_token"}),
        ("hello_scm_cred", None, "admin", "ScmCredential", {"ssh_key_data", "ssh_key_unlock"}),
    ],
)
def test_credential_options(
    run: Replayed, name: str, ref: str | None, userid: str | None, kind: str, keys: set[str]
) -> None:
    got_ref, _, got_userid, typ, options = run.row(CREDENTIAL_SQL, n=name)
    options = as_json(options)
    assert typ == PREFIX + kind
    assert set(options) == keys
    if ref:
        assert got_ref == ref
    if userid:
        assert got_userid == userid
    if kind == "VaultCredential":
        assert options["vault_password"]
    if kind == "MachineCredential":
        assert (options["become_method"], options["become_username"]) == ("", "")


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("hello_openstack_cred", "OpenstackCredential"),
        ("hello_gce_cred", "GoogleCredential"),
        ("hello_azure_cred", "AzureCredential"),
        ("hello_sat_cred", "Satellite6Credential"),
    ],
)
def test_credential_type(run: Replayed, name: str, kind: str) -> None:
    assert run.row(CREDENTIAL_SQL, n=name)[3] == PREFIX + kind


def test_second_refresh_keeps_every_row(runs: RunCache) -> None:
    run = runs.get("sqlite", 2)
    first, second = run.snapshots
    for table in TABLES:
        assert second[table] == first[table], table


def _emptied(cassette: Any) -> Any:
    """The recording with every list answer ({count, next, previous, results}) made empty."""
    empty = json.dumps({"count": 0, "next": None, "previous": None, "results": []}).encode()
    items = []
    for item in cassette.interactions:
        try:
            body = json.loads(item.response_body)
        except ValueError:
            body = None
        if isinstance(body, dict) and "results" in body:
            item = replace(
                item,
                response_body=empty,
                response_headers={
                    k: v for k, v in item.response_headers.items() if k.lower() != "content-length"
                },
            )
        items.append(item)
    return replace(cassette, interactions=items)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_refresh_of_empty_lists_removes_every_source(
    backend: str, acceptance_databases: Any, pg_skip_reason: str | None
) -> None:
    """E: "A refresh whose lists all come back empty removes every configuration script
    source" (and with them their payloads)."""
    run = replay(CASE, backend, 1, acceptance_databases, pg_skip_reason)
    assert run.scalar(COUNTS["configuration_script_sources"]) == 17
    emptied = _emptied(load_cassette(CASE))
    refused = replay_refresh(run, emptied)  # the mass-disappearance guard (issue 15)
    assert refused.exit_code == 5, refused.error
    assert "configuration_script_sources: would remove all 17 stored row(s)" in str(refused.error)
    assert run.scalar(COUNTS["configuration_script_sources"]) == 17  # nothing written
    from miqspec.connect.cassettes import ReplayAdapter
    from miqspec.pipeline import refresh_provider

    result = refresh_provider(
        run.engine, run.name, run.keyring, adapter=ReplayAdapter(emptied), allow_mass_delete=True
    )
    assert result.error is None
    for collection in (
        "configuration_script_sources",
        "configuration_script_payloads",
        "configured_systems",
        "configuration_scripts",
        "inventory_groups",
        "credentials",
    ):
        assert run.scalar(COUNTS[collection]) == 0, collection
