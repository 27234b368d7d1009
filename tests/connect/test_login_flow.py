"""Login flows end to end against real HTTP servers on 127.0.0.1: base URLs and paths that read
login results (rendered after the login), ``$login`` in mappings, login steps that read XML,
and ``auth.logout`` run when a session ends, also after a failure."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from miqspec.collect import collect
from miqspec.connect.session import ProviderSession
from miqspec.errors import SpecError
from miqspec.parse import parse
from miqspec.pipeline import verify
from miqspec.spec.load import check_file, load_spec
from miqspec.spec.model import Spec

from .test_http import Answer, ScriptServer, Seen

FORM = {
    "fields": [
        {"component": "text-field", "name": "endpoints.default.url", "label": "URL"},
        {"component": "text-field", "name": "authentications.default.userid", "label": "User"},
        {
            "component": "password-field",
            "name": "authentications.default.password",
            "label": "Password",
        },
    ]
}


def spec_of(tmp_path: Path, **top: Any) -> Spec:
    data: dict[str, Any] = {
        "version": 1,
        "provider": {"name": "xcloud", "title": "X Cloud", "manager_type": "cloud"},
        "form": FORM,
        "connection": {
            "services": {"auth": {"base_url": "{{ endpoints.default.url }}"}},
            "retry": {"attempts": 2, "backoff": 0.01, "max_backoff": 0.02},
            "timeout": 5,
            "connect_timeout": 2,
        },
        "verify": {"call": "get_vms"},
        **top,
    }
    path = tmp_path / "x.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return load_spec(str(path))


def args_for(srv: ScriptServer) -> dict[str, Any]:
    return {
        "endpoints": {"default": {"url": srv.url}},
        "authentications": {"default": {"userid": "admin", "password": "s3cret-pw"}},
    }


# -- login results in base URLs, paths and mappings -----------------------------------------

EXCHANGE_AUTH = {
    "type": "login",
    "login": [
        {
            "name": "exchange",
            "service": "auth",
            "path": "/token",
            "body": {
                "json": {
                    "user": "{{ authentications.default.userid }}",
                    "password": "{{ authentications.default.password }}",
                }
            },
            "extract": {"token": {"body": "token"}, "api": {"body": "endpoint"}},
        }
    ],
    "headers": {"Authorization": "Bearer {{ login.token }}"},
}


def exchange_server() -> ScriptServer:
    holder: dict[str, str] = {}

    def script(req: Seen, n: int) -> Answer:
        path = urlsplit(req.path).path
        if path == "/token":
            return Answer(200, {"token": "tok-1", "endpoint": holder["url"] + "/tenant-7"})
        if req.headers.get("Authorization") != "Bearer tok-1":
            return Answer(401, {})
        if path == "/tenant-7/vms":
            return Answer(200, {"vms": [{"id": "v1", "name": "one"}]})
        return Answer(404, {})

    srv = ScriptServer(script)
    holder["url"] = srv.url
    return srv


def test_a_base_url_from_a_login_result_is_rendered_after_the_login(tmp_path: Path) -> None:
    spec = spec_of(
        tmp_path,
        connection={
            "services": {
                "auth": {"base_url": "{{ endpoints.default.url }}"},
                "api": {"base_url": "{{ login.api }}"},
            },
            "timeout": 5,
        },
        auth=EXCHANGE_AUTH,
        calls={"get_vms": {"service": "api", "path": "/vms", "records": "vms"}},
        collections={
            "vms": {
                "from": "get_vms",
                "attributes": {
                    "ems_ref": "id",
                    "name": "name",
                    "location": "$login.api",
                    "vendor": {"value": "xcloud"},
                },
            }
        },
    )
    with exchange_server() as srv:
        s = ProviderSession(spec, args_for(srv))
        try:
            collected = collect(s, ["get_vms"])
            inventory = parse(spec, collected, context=s.ctx)
        finally:
            s.close()
        assert verify(spec, args_for(srv)).status == "Valid"
    assert [r["id"] for r in collected.calls["get_vms"].records] == ["v1"]
    (vm,) = inventory.objects["vms"].values()
    assert vm.data["location"] == srv.url + "/tenant-7"


def test_a_path_reading_a_login_result(tmp_path: Path) -> None:
    spec = spec_of(
        tmp_path,
        auth=EXCHANGE_AUTH,
        calls={"get_vms": {"path": "{{ login.api }}/vms", "records": "vms"}},
    )
    with exchange_server() as srv:
        s = ProviderSession(spec, args_for(srv))
        try:
            got = collect(s, ["get_vms"]).calls["get_vms"].records
        finally:
            s.close()
    assert got == [{"id": "v1", "name": "one"}]


def test_validate_refuses_a_login_step_whose_base_url_reads_its_own_result(
    tmp_path: Path,
) -> None:
    auth = {
        "type": "login",
        "login": [{**EXCHANGE_AUTH["login"][0], "service": "api"}],
        "headers": {"Authorization": "Bearer {{ login.token }}"},
    }
    with pytest.raises(SpecError):
        spec_of(
            tmp_path,
            connection={
                "services": {
                    "auth": {"base_url": "{{ endpoints.default.url }}"},
                    "api": {"base_url": "{{ login.api }}"},
                },
            },
            auth=auth,
            calls={"get_vms": {"service": "api", "path": "/vms"}},
        )
    found = [str(f).split(": ", 1)[1] for f in check_file(str(tmp_path / "x.yaml"))]
    assert found == [
        "auth.login[0].service: the base URL of service 'api' reads 'login.api', which login "
        "step 'exchange' extracts: a login step can read only what earlier steps extract"
    ]


# -- XML login, re-login and logout ---------------------------------------------------------


class XmlApi:
    """PUT /logon with an XML body answers a token inside XML; each token serves ``uses``
    requests, then answers 401; DELETE /logon/<token> ends it; GET /vms needs X-Session."""

    def __init__(self, uses: int = 100, fail_vms: bool = False) -> None:
        self.uses, self.fail_vms = uses, fail_vms
        self.fail_logout = False
        self.made = 0
        self.tokens: dict[str, int] = {}
        self.closed: list[str] = []
        self.lock = threading.Lock()

    def __call__(self, req: Seen, n: int) -> Answer:
        path = urlsplit(req.path).path
        with self.lock:
            if req.method == "PUT" and path == "/logon":
                if b"<password>s3cret-pw</password>" not in req.body:
                    return Answer(401, b"<error>denied</error>")
                self.made += 1
                token = f"tok{self.made}"
                self.tokens[token] = 0
                body = (
                    f'<?xml version="1.0"?><session xmlns="urn:x"><token>{token}</token></session>'
                )
                return Answer(200, body.encode(), {"Content-Type": "application/xml"})
            token = req.headers.get("X-Session", "")
            if req.method == "DELETE" and self.fail_logout:
                return Answer(403, b"<error>no</error>")
            if req.method == "DELETE" and path == f"/logon/{token}" and token in self.tokens:
                self.closed.append(token)
                del self.tokens[token]
                return Answer(204, b"")
            if token not in self.tokens or self.tokens[token] >= self.uses:
                return Answer(401, b"<error>expired</error>")
            self.tokens[token] += 1
        if path == "/vms":
            if self.fail_vms:
                return Answer(500, b"<error>boom</error>")
            return Answer(200, b"<vms><vm><id>v1</id></vm><vm><id>v2</id></vm></vms>")
        return Answer(404, b"")


XML_AUTH = {
    "type": "login",
    "login": [
        {
            "name": "logon",
            "method": "PUT",
            "path": "/logon",
            "headers": {"Content-Type": "application/xml"},
            "body": {
                "text": "<logon><user>{{ authentications.default.userid }}</user>"
                "<password>{{ authentications.default.password }}</password></logon>"
            },
            "format": "xml",
            "extract": {"session": {"body": "session.token"}},
        }
    ],
    "logout": [{"name": "logoff", "path": "/logon/{{ login.session }}"}],
    "headers": {"X-Session": "{{ login.session }}"},
}
XML_CALLS = {"get_vms": {"path": "/vms", "format": "xml", "records": "vms.vm"}}


def test_an_xml_login_relogs_in_on_401_and_logs_off_at_the_end(tmp_path: Path) -> None:
    spec = spec_of(tmp_path, auth=XML_AUTH, calls=XML_CALLS)
    api = XmlApi(uses=1)
    with ScriptServer(api) as srv:
        s = ProviderSession(spec, args_for(srv))
        try:
            first = collect(s, ["get_vms"]).calls["get_vms"].records
            second = collect(s, ["get_vms"]).calls["get_vms"].records  # tok1 expired
        finally:
            s.close()
        seen = [(r.method, urlsplit(r.path).path) for r in srv.seen]
    assert first == second == [{"id": "v1"}, {"id": "v2"}]
    assert seen == [
        ("PUT", "/logon"),
        ("GET", "/vms"),
        ("GET", "/vms"),  # 401: tok1 used up
        ("PUT", "/logon"),
        ("GET", "/vms"),
        ("DELETE", "/logon/tok2"),  # the session the last login opened
    ]
    assert api.closed == ["tok2"] and s.logout_error is None


def test_logout_runs_after_a_failed_verify(tmp_path: Path) -> None:
    spec = spec_of(tmp_path, auth=XML_AUTH, calls=XML_CALLS)
    api = XmlApi(fail_vms=True)
    with ScriptServer(api) as srv:
        result = verify(spec, args_for(srv))
    assert result.status == "Error" and "answered 500" in result.details
    assert api.closed == ["tok1"] and api.tokens == {}


def test_no_logout_when_the_login_failed(tmp_path: Path) -> None:
    spec = spec_of(tmp_path, auth=XML_AUTH, calls=XML_CALLS)
    api = XmlApi()
    with ScriptServer(api) as srv:
        bad = args_for(srv)
        bad["authentications"]["default"]["password"] = "wrong"
        result = verify(spec, bad)
        methods = [r.method for r in srv.seen]
    assert result.status == "Invalid"
    assert methods == ["PUT"]


def test_a_login_answer_that_is_not_the_declared_format_names_the_step(tmp_path: Path) -> None:
    auth = {**XML_AUTH, "login": [{**XML_AUTH["login"][0], "format": "json"}]}
    spec = spec_of(tmp_path, auth=auth, calls=XML_CALLS)
    with ScriptServer(XmlApi()) as srv:
        result = verify(spec, args_for(srv))
    assert result.status == "Error"
    assert result.details.startswith("login step 'logon' at ")
    assert "response is not valid JSON" in result.details


def test_a_failed_logout_is_kept_and_does_not_fail_what_ran(tmp_path: Path) -> None:
    def script(req: Seen, n: int) -> Answer:
        path = urlsplit(req.path).path
        if path == "/session":
            return Answer(200, b"sess-9", {"Content-Type": "text/plain"})
        if path.startswith("/bye/"):
            return Answer(500, b"")
        if req.headers.get("X-Session") != "sess-9":
            return Answer(401, {})
        return Answer(200, {"vms": [{"id": "v1"}]})

    auth = {
        "type": "login",
        "login": [
            {
                "name": "session",
                "path": "/session",
                "body": {
                    "form": {
                        "u": "{{ authentications.default.userid }}",
                        "p": "{{ authentications.default.password }}",
                    }
                },
                "format": "text",
                "extract": {"session": {"body": "@"}},
            }
        ],
        "logout": [{"name": "bye", "method": "POST", "path": "/bye/{{ login.session }}"}],
        "headers": {"X-Session": "{{ login.session }}"},
    }
    calls = {
        "get_vms": {
            "path": "/vms",
            "records": "vms",
            "when": "{{ login.session.startswith('sess-') }}",
        }
    }
    spec = spec_of(tmp_path, auth=auth, calls=calls)
    with ScriptServer(script) as srv:
        s = ProviderSession(spec, args_for(srv))
        try:
            got = collect(s, ["get_vms"]).calls["get_vms"]
        finally:
            s.close()
        seen = [(r.method, urlsplit(r.path).path) for r in srv.seen]
    assert got.status == "ok" and got.records == [{"id": "v1"}]
    assert seen[-1] == ("POST", "/bye/sess-9")
    assert s.logout_error is not None and "logout step 'bye'" in s.logout_error
    assert "answered 500" in s.logout_error and "sess-9" not in s.logout_error  # masked


def test_a_refresh_logs_out_after_it_fails_and_warns_when_logout_fails(
    tmp_path: Path, engine: Any, keyring: Any
) -> None:
    from miqspec.pipeline import refresh_provider
    from miqspec.store import ProviderStore

    collections = {
        "vms": {
            "from": "get_vms",
            "attributes": {"ems_ref": "id", "name": "id", "vendor": {"value": "xcloud"}},
        }
    }
    spec = spec_of(tmp_path, auth=XML_AUTH, calls=XML_CALLS, collections=collections)
    api = XmlApi(fail_vms=True)
    with ScriptServer(api) as srv:
        ProviderStore(engine).add(spec, "x1", args_for(srv), keyring)
        failed = refresh_provider(engine, "x1", keyring)
        assert not failed.ok and "answered 500" in (failed.error or "")
        assert api.closed == ["tok1"]  # closed although the refresh failed
        api.fail_vms = False
        ok = refresh_provider(engine, "x1", keyring)
        api.fail_logout = True
        warned = refresh_provider(engine, "x1", keyring)
    assert ok.ok, ok.error
    assert api.closed == ["tok1", "tok2"] and not ok.warnings
    assert warned.ok, warned.error
    assert warned.warnings == [
        "the session was not closed: logout step 'logoff': at "
        f"{srv.url}/logon/******** answered 403"
    ]
