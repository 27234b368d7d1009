"""Call-level language extensions against the simulator: where, embed, ancestors, url, defaults,
$provider (the provider row), provider-row form fields and the spec's replay options."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml
from click.testing import CliRunner

from miqspec.cli.app import main
from miqspec.collect.runner import CollectResult, collect
from miqspec.connect.session import ProviderSession, build_context
from miqspec.errors import MappingError
from miqspec.pipeline import refresh_provider, verify
from miqspec.simulator import Simulator
from miqspec.spec.load import load_spec
from miqspec.spec.model import Spec
from miqspec.store.database import open_database, upgrade
from miqspec.store.providers import ProviderStore

from ..connect.test_connect import SIM_LOGIN

PAGE = 4
LOGIN = SIM_LOGIN
FORM = {
    "fields": [
        {
            "component": "select",
            "name": "provider_region",
            "label": "Region",
            "options_from": "regions",
        },
        {"component": "text-field", "name": "subscription", "label": "Subscription"},
        {
            "component": "switch",
            "name": "tenant_mapping_enabled",
            "label": "Tenants",
            "column": True,
        },
        {"component": "text-field", "name": "endpoints.default.url", "label": "URL"},
        {"component": "text-field", "name": "authentications.default.userid", "label": "Key"},
        {
            "component": "password-field",
            "name": "authentications.default.password",
            "label": "Secret",
        },
    ]
}
INSTANCES = {
    "path": "/instances",
    "query": {"limit": "{{ settings.page_size }}"},
    "records": "items",
    "paginate": {"type": "cursor", "cursor": "next_token", "param": "next_token"},
}
DETAILS = {
    "path": "/instances/{{ parent.id }}/detail",
    "for_each": {"call": "get_instances", "where": "power_state == 'running'"},
    "skip_on": [404],
    "embed": {"as": "detail", "first": True},
}
CONSOLES = {
    "url": "{{ parent.links.console }}",  # host-relative: /v1/instances/<id>/console
    "format": "text",
    "for_each": {"call": "get_details"},
    "embed": {"as": "console", "first": True},
}


def without(call: dict[str, Any], *keys: str, **changes: Any) -> dict[str, Any]:
    return {**{k: v for k, v in call.items() if k not in keys}, **changes}


def write(tmp_path: Path, calls: dict[str, Any], **top: Any) -> Path:
    data: dict[str, Any] = {
        "version": 1,
        "provider": {
            "name": "extcloud",
            "title": "Ext Cloud",
            "manager_type": "cloud",
            "settings": {"page_size": PAGE, "keep": "running", "api": "1"},
        },
        "regions": [{"name": "us-east-1", "hostname": "h", "zone": "us-east-1b"}],
        "form": FORM,
        "connection": {
            "services": {"api": {"base_url": "{{ endpoints.default.url }}"}},
            "retry": {"attempts": 2, "backoff": 0.01},
            "timeout": 5,
        },
        "auth": LOGIN,
        "verify": {"call": "get_regions"},
        "calls": {"get_regions": {"path": "/regions", "records": "regions"}, **calls},
        **top,
    }
    # the spec reads the form fields somewhere so that none of them is "unused"
    data["calls"]["get_regions"]["headers"] = {"X-Sub": "{{ subscription or '' }}"}
    path = tmp_path / "ext.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def spec_of(tmp_path: Path, calls: dict[str, Any], **top: Any) -> Spec:
    return load_spec(str(write(tmp_path, calls, **top)))


def args(sim: Simulator, **extra: Any) -> dict[str, Any]:
    return {
        "provider_region": "us-east-1",
        "subscription": "sub-1",
        "endpoints": {"default": {"url": sim.url}},
        "authentications": {
            "default": {"userid": sim.options.access_key, "password": sim.options.secret_key}
        },
        **extra,
    }


def run(spec: Spec, sim: Simulator, roots: list[str], row: Any = None) -> CollectResult:
    session = ProviderSession(spec, args(sim), provider=row)
    try:
        return collect(session, roots)
    finally:
        session.close()


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(instances=14, flavors=3, images=2, page_size=5) as s:
        yield s


def running(sim: Simulator) -> list[dict[str, Any]]:
    return [i for i in sim.data.instances if i["power_state"] == "running"]


# -- call-level where --------------------------------------------------------------------------


def test_call_where_drops_records_for_every_reader_but_pages_go_on(tmp_path, sim):
    spec = spec_of(
        tmp_path,
        {
            "get_instances": {
                **INSTANCES,
                "where": "power_state == $settings.keep && availability_zone != $region.zone",
            },
            "get_details": {**DETAILS, "for_each": {"call": "get_instances"}},
        },
    )
    result = run(spec, sim, ["get_details"])
    want = [i["id"] for i in running(sim) if i["availability_zone"] != "us-east-1b"]
    assert want and len(want) < len(sim.data.instances)
    res = result.calls["get_instances"]
    assert [r["id"] for r in res.records] == want
    assert res.pages == math.ceil(len(sim.data.instances) / PAGE)  # filtering never stops paging
    details = result.calls["get_details"]
    assert [d["id"] for d in details.records] == want  # the fan-out saw the filtered list only
    asked = {p.split("/")[3] for p in sim.stats() if p.endswith("/detail")}
    assert asked == set(want)


def test_fan_out_where_sees_parent_and_ancestors_of_the_parent(tmp_path, sim):
    spec = spec_of(
        tmp_path,
        {
            "get_instances": INSTANCES,
            "get_details": without(
                DETAILS,
                "embed",
                for_each={"call": "get_instances"},
                where="$parent.id == id && $ancestors[0].name == name",
            ),
            # for_each.where runs on a detail: $parent is the detail's parent, the instance
            "get_consoles": without(
                CONSOLES,
                "embed",
                for_each={
                    "call": "get_details",
                    "where": "$parent.availability_zone == $region.zone",
                },
            ),
        },
    )
    result = run(spec, sim, ["get_consoles"])
    assert len(result.calls["get_details"].records) == len(sim.data.instances)
    in_zone = [i for i in sim.data.instances if i["availability_zone"] == "us-east-1b"]
    consoles = result.calls["get_consoles"]
    assert consoles.records == [f"console of {i['name']}: {i['power_state']}\n" for i in in_zone]
    assert [chain[1]["id"] for chain in consoles.ancestors or []] == [i["id"] for i in in_zone]


# -- embed -------------------------------------------------------------------------------------


def test_embed_first_list_chain_and_skips(tmp_path, sim):
    spec = spec_of(
        tmp_path,
        {
            "get_instances": INSTANCES,
            "get_details": DETAILS,
            "get_consoles": CONSOLES,
            "get_detail_lists": {
                **DETAILS,
                "path": "/instances/{{ parent.id }}/detail",
                "records": "volumes",
                "embed": {"as": "volumes"},
            },
        },
    )
    skipped = running(sim)[0]["id"]
    sim.set_faults(fail_always_status=404, path=f"/instances/{skipped}/detail")
    result = run(spec, sim, ["get_instances"])
    assert set(result.calls) == {"get_instances", "get_details", "get_consoles", "get_detail_lists"}
    for inst in result.calls["get_instances"].records:
        if inst["power_state"] != "running" or inst["id"] == skipped:
            assert inst["detail"] is None and inst["volumes"] == []
            continue
        assert inst["detail"]["id"] == inst["id"]
        assert inst["detail"]["console"] == f"console of {inst['name']}: running\n"
        assert [v["id"] for v in inst["volumes"]] == [v["id"] for v in inst["detail"]["volumes"]]
        assert inst["volumes"][0]["id"].startswith(inst["id"])
    details = result.calls["get_details"]
    assert details.complete is False and "skipped (404)" in details.status
    consoles = result.calls["get_consoles"]
    # ancestors: [detail, instance]; the same dicts the parent calls hold
    by_id = {i["id"]: i for i in result.calls["get_instances"].records}
    for text, (detail, inst) in zip(consoles.records, consoles.ancestors or [], strict=True):
        assert by_id[inst["id"]] is inst and inst["detail"] is detail
        assert detail["console"] == text


def test_readers_of_a_parent_run_after_the_calls_embedding_into_it(tmp_path, sim):
    reader = {
        "path": "/instances/{{ parent.id }}/console",
        "format": "text",
        "for_each": {"call": "get_instances", "where": "detail.power_state == 'running'"},
    }
    # the reader comes first in the spec and in the roots; it still sees the embedded field
    spec = spec_of(
        tmp_path, {"get_instances": INSTANCES, "read_consoles": reader, "get_details": DETAILS}
    )
    result = run(spec, sim, ["read_consoles"])
    assert len(result.calls["read_consoles"].records) == len(running(sim))
    fallback = {"path": "/nothing", "fallback": {"call": "get_instances", "on": [404]}}
    spec = spec_of(
        tmp_path, {"get_instances": INSTANCES, "get_details": DETAILS, "broken": fallback}
    )
    result = run(spec, sim, ["broken"])
    assert all("detail" in r for r in result.calls["broken"].records)


def test_disabled_embedding_call_still_sets_the_field(tmp_path, sim):
    spec = spec_of(
        tmp_path,
        {
            "get_instances": INSTANCES,
            "get_details": {**DETAILS, "when": "{{ settings.keep == 'x' }}"},
        },
    )
    result = run(spec, sim, ["get_instances"])
    assert all(r["detail"] is None for r in result.calls["get_instances"].records)
    assert not any(p.endswith("/detail") for p in sim.stats())


def test_embed_into_records_that_are_not_objects_is_a_mapping_error(tmp_path, sim):
    spec = spec_of(
        tmp_path,
        {
            "get_names": {**INSTANCES, "records": "items[].name"},
            "per_name": {
                "path": "/regions",
                "for_each": {"call": "get_names"},
                "embed": {"as": "x"},
            },
        },
    )
    with pytest.raises(MappingError, match=r"ext\.yaml:\d+:\d+: calls\.per_name\.embed"):
        run(spec, sim, ["get_names"])


def test_verify_does_not_run_embedding_calls(tmp_path, sim):
    spec = spec_of(
        tmp_path,
        {
            "get_regions": {"path": "/regions", "records": "regions"},
            "per_region": {
                "path": "/availability_zones",
                "for_each": {"call": "get_regions"},
                "embed": {"as": "zones"},
            },
        },
    )
    assert verify(spec, args(sim)).valid
    assert "/v1/availability_zones" not in sim.stats()


# -- url: and call_defaults ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("base", "link", "want"),
    [
        ("http://h:1/api/v1", "/api/v2/x?page=2", "http://h:1/api/v2/x?page=2"),
        ("http://h:1/api/v1", "hosts/", "http://h:1/api/v1/hosts/"),
        ("http://h:1/api/v1/", "hosts/", "http://h:1/api/v1/hosts/"),
        ("http://h:1/api/v1", "../v2/x", "http://h:1/api/v2/x"),
        ("http://h:1/api/v1", "https://o/y", "https://o/y"),
        ("http://h:1/api/v1", "//o:2/z", "http://o:2/z"),
        ("http://h:1/api/v1", "", "http://h:1/api/v1"),
    ],
)
def test_url_joins_like_a_link_against_the_service_base(tmp_path, base, link, want):
    spec = spec_of(tmp_path, {})
    session = ProviderSession(spec, {"endpoints": {"default": {"url": base}}})
    try:
        assert session.join("api", link) == want
    finally:
        session.close()


def test_url_calls_and_call_defaults_against_the_simulator(tmp_path, sim):
    spec = spec_of(
        tmp_path,
        {
            "get_instances": {"path": "/instances"},
            "by_url": {"url": "/v1/instances", "query": {"limit": 3}},
            "unpaged": {
                "path": "/instances",
                "query": {"limit": None},
                "paginate": {"type": "none"},
                "headers": {"X-Extra": None},
            },
        },
        call_defaults={
            "query": {"limit": "{{ settings.page_size }}"},
            "headers": {"X-Extra": "yes"},
            "paginate": {"type": "cursor", "cursor": "next_token", "param": "next_token"},
            "retry": {"attempts": 3},
            "skip_on": [404],
        },
    )
    calls = spec.calls
    assert calls["get_instances"].query == {"limit": "{{ settings.page_size }}"}
    assert calls["by_url"].query == {"limit": 3} and calls["by_url"].url_join
    assert calls["unpaged"].query == {} and calls["unpaged"].headers == {}
    assert calls["get_instances"].retry.attempts == 3
    assert calls["get_instances"].retry.backoff == 0.01  # merged over the connection's retry
    assert calls["get_instances"].skip_on == (404,)
    n = len(sim.data.instances)
    result = run(spec, sim, ["get_instances", "by_url", "unpaged"])
    assert result.calls["get_instances"].pages == math.ceil(n / PAGE)
    assert result.calls["by_url"].pages == math.ceil(n / 3)
    assert result.calls["unpaged"].pages == 1  # no limit: the simulator's page size (5)
    for name in ("get_instances", "by_url"):
        assert [r["id"] for r in result.calls[name].records[0]["items"]] == [
            i["id"] for i in sim.data.instances[: 3 if name == "by_url" else PAGE]
        ]


# -- $provider and provider-row form fields -----------------------------------------------------


def test_provider_context_is_the_row_plus_form_values_and_spec_facts(tmp_path):
    spec = spec_of(tmp_path, {})
    row = {"id": 7, "name": "prod", "guid": "g-1", "last_refresh_error": "x"}
    ctx = build_context(spec, {"provider_region": "us-east-1", "subscription": "s"}, row)
    assert ctx["provider"] == {
        "provider_region": "us-east-1",
        "subscription": "s",
        "tenant_mapping_enabled": None,
        "name": "prod",
        "id": 7,
        "guid": "g-1",
        "spec_name": "extcloud",
        "title": "Ext Cloud",
        "vendor": "extcloud",
        "type": "cloud",
    }
    assert build_context(spec, {})["provider"]["name"] is None  # class-level verify: no row


def test_refresh_stores_row_fields_and_exposes_the_row_as_provider(tmp_path, sim, keyring):
    path = write(
        tmp_path,
        {
            "get_zones": {
                "path": "/availability_zones",
                "records": "items",
                "where": "$provider.tenant_mapping_enabled",
            },
        },
        collections={
            "availability_zones": {
                "from": "get_zones",
                "attributes": {
                    "ems_ref": "id",
                    "name": "join('/', [$provider.name, $provider.subscription, "
                    "$provider.guid, id])",
                },
            }
        },
    )
    engine = open_database(f"sqlite:///{tmp_path / 'db.sqlite'}")
    upgrade(engine)
    spec = load_spec(str(path))
    ProviderStore(engine).add(spec, "prod", args(sim, tenant_mapping_enabled=True), keyring)
    store = ProviderStore(engine)
    ems = store.row("prod")
    assert ems["subscription"] == "sub-1"  # a known ext_management_systems column
    assert ems["options"] == {"form": {"tenant_mapping_enabled": True}}  # no such column
    restored = store.args(ems, keyring)
    assert (restored["subscription"], restored["tenant_mapping_enabled"]) == ("sub-1", True)
    result = refresh_provider(engine, "prod", keyring)
    assert result.ok, result.error
    with engine.connect() as conn:
        names = (
            conn.execute(sa.text("select name from availability_zones order by name"))
            .scalars()
            .all()
        )
    assert names == [f"prod/sub-1/{ems['guid']}/{z['id']}" for z in sim.data.availability_zones]
    engine.dispose()


# -- replay options from the spec ----------------------------------------------------------------


def test_replay_ignores_the_query_params_the_spec_names(tmp_path, sim, monkeypatch):
    monkeypatch.setenv("MIQSPEC_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("MIQSPEC_KEY_FILE", str(tmp_path / "key" / "v2_key"))
    monkeypatch.setenv("EXT_SECRET", sim.options.secret_key)
    runner = CliRunner()

    def cli(*argv: str, code: int = 0) -> str:
        out = runner.invoke(main, list(argv), catch_exceptions=False)
        assert out.exit_code == code, out.output
        return out.output

    zones = {
        "path": "/availability_zones",
        "records": "items",
        "query": {"api-version": "{{ settings.api }}"},
    }
    calls = {"get_zones": zones}
    collections = {
        "availability_zones": {"from": "get_zones", "attributes": {"ems_ref": "id", "name": "name"}}
    }
    path = write(tmp_path, calls, collections=collections, verify={"call": "get_zones"})
    cli(
        "provider",
        "add",
        str(path),
        "--name",
        "p1",
        "--region",
        "us-east-1",
        "--set",
        f"endpoints.default.url={sim.url}",
        "--set",
        f"authentications.default.userid={sim.options.access_key}",
        "--secret-env",
        "authentications.default.password=EXT_SECRET",
    )
    cassette = tmp_path / "rec.yml"
    cli("refresh", "p1", "--record", str(cassette), "--quiet")
    spec = yaml.safe_load(path.read_text())
    spec["provider"]["settings"]["api"] = "2024-01-01"  # another version than recorded
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    out = cli("refresh", "p1", "--replay", str(cassette), "--format", "json", code=9)
    assert "api-version" in out
    spec["replay"] = {"ignore_query_params": ["api-version"]}
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    out = cli("refresh", "p1", "--replay", str(cassette), "--format", "json")
    assert json.loads(out)[0]["ok"] is True
    assert "valid" in cli("provider", "verify", "p1", "--replay", str(cassette)).lower()
    del spec["replay"]
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    cli("provider", "verify", "p1", "--replay", str(cassette), code=9)
    assert (
        "valid"
        in cli(
            "provider",
            "verify",
            "p1",
            "--replay",
            str(cassette),
            "--replay-ignore-param",
            "api-version",
        ).lower()
    )


def test_simulator_per_instance_detail_and_console(sim):
    import requests

    with requests.Session() as http:
        token = http.post(
            sim.url + "/auth/tokens",
            json={
                "access_key": sim.options.access_key,
                "secret_key": sim.options.secret_key,
            },
        ).json()["token"]
        auth = {"Authorization": f"Bearer {token}"}
        inst = sim.data.instances[3]
        detail = http.get(f"{sim.url}/instances/{inst['id']}/detail", headers=auth)
        assert detail.status_code == 200
        body = detail.json()
        assert (body["id"], body["name"], body["power_state"]) == (
            inst["id"],
            inst["name"],
            inst["power_state"],
        )
        assert 1 <= len(body["volumes"]) <= 3
        assert body["links"]["console"] == f"/v1/instances/{inst['id']}/console"
        console = http.get(sim.url.rsplit("/v1", 1)[0] + body["links"]["console"], headers=auth)
        assert console.headers["Content-Type"].startswith("text/plain")
        assert console.text == f"console of {inst['name']}: {inst['power_state']}\n"
        assert http.get(f"{sim.url}/instances/nope/detail", headers=auth).status_code == 404
        assert http.get(f"{sim.url}/instances/{inst['id']}/detail").status_code == 401
        assert http.get(f"{sim.url}/instances/{inst['id']}/other", headers=auth).status_code == 404


def test_the_create_form_leaves_column_out(tmp_path):
    from miqspec.spec.forms import params_for_create

    fields = params_for_create(spec_of(tmp_path, {}))["fields"]
    tenant = next(f for f in fields if f["name"] == "tenant_mapping_enabled")
    assert tenant == {
        "component": "switch",
        "id": "tenant_mapping_enabled",
        "name": "tenant_mapping_enabled",
        "label": "Tenants",
    }
