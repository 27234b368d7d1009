"""A call's own ``auth``: it replaces the spec's auth for that call's requests (fan-out values in
its templates, no spec headers, no re-login), its secrets are masked and never recorded, and
``azure_shared_key`` requests pass a server that checks their signatures."""

from __future__ import annotations

import base64
import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests.adapters

from miqspec.collect.runner import collect
from miqspec.connect.cassettes import Cassette, RecordingAdapter, ReplayAdapter
from miqspec.connect.http import HttpClient
from miqspec.connect.session import ProviderSession
from miqspec.errors import ApiError
from miqspec.spec.build import build_spec
from miqspec.spec.document import load_text
from miqspec.spec.model import Spec

from ..spec.test_checks_extensions import HEAD, findings
from .test_auth_shared_key import verify_received
from .test_connect import session_for, write_spec
from .test_http import Answer, ScriptServer, Seen

TOKEN = "spec-bearer-token-42"
ACCOUNTS = ("acct1", "acct2", "acct3")

SPEC_AUTH = {
    "type": "bearer",
    "token": "{{ authentications.default.token }}",
    "headers": {"X-Tenant": "tenant-7"},
    "query": {"tenant": "tenant-7"},
}
CALLS: dict[str, Any] = {
    "list_accounts": {"path": "/accounts", "records": "accounts"},
    "list_keys": {
        "method": "POST",
        "path": "/accounts/{{ parent.name }}/listKeys",
        "for_each": {"call": "list_accounts"},
    },
    "list_containers": {
        "path": "/blob/{{ ancestors[1].name }}/",
        "query": {"comp": "list", "include": ["metadata", "snapshots"]},
        "records": "containers",
        "for_each": {"call": "list_keys"},
        "auth": {
            "type": "azure_shared_key",
            "account": "{{ ancestors[1].name }}",
            "key": "{{ parent['keys'][0].value }}",
        },
    },
}


def new_keys() -> dict[str, str]:
    return {a: base64.b64encode(os.urandom(64)).decode() for a in ACCOUNTS}


def storage_script(keys: dict[str, str]) -> Any:
    """ARM-like listing and listKeys behind the bearer token; Blob-like listings that check
    the Shared Key signature of the account named in the path."""

    def script(req: Seen, n: int) -> Answer:
        path = urlsplit(req.path).path
        if path.startswith("/blob/"):
            account = path.split("/")[2]
            problem = verify_received(req, account, keys[account])
            if problem:
                return Answer(403, {"error": problem})
            return Answer(200, {"containers": [{"name": f"{account}-vhds"}]})
        if req.headers.get("Authorization") != f"Bearer {TOKEN}":
            return Answer(401, {})
        if path == "/accounts":
            return Answer(200, {"accounts": [{"name": a} for a in ACCOUNTS]})
        account = path.split("/")[2]
        return Answer(200, {"keys": [{"keyName": "key1", "value": keys[account]}]})

    return script


def storage_spec(tmp_path: Path, calls: dict[str, Any] | None = None) -> Spec:
    return write_spec(tmp_path, auth=SPEC_AUTH, calls=calls or CALLS)


def args_for(srv: ScriptServer) -> dict[str, Any]:
    return {
        "endpoints": {"default": {"url": srv.url}},
        "authentications": {"default": {"token": TOKEN}},
    }


def test_a_fan_out_call_signs_with_its_parents_values(tmp_path):
    keys = new_keys()
    spec = storage_spec(tmp_path)
    with ScriptServer(storage_script(keys)) as srv:
        for s in session_for(spec, args_for(srv)):
            result = collect(s, ["list_containers"])
            secrets = s.secrets()
    got = result.calls["list_containers"]
    assert got.status == "ok"
    assert [r["name"] for r in got.records] == [f"{a}-vhds" for a in ACCOUNTS]
    assert [chain[1]["name"] for chain in got.ancestors or []] == list(ACCOUNTS)
    blob = [r for r in srv.seen if r.path.startswith("/blob/")]
    assert len(blob) == len(ACCOUNTS)
    assert all(v in secrets for v in keys.values())  # masked from now on


def test_the_spec_auth_is_absent_on_own_auth_calls_and_present_on_the_others(tmp_path):
    spec = storage_spec(tmp_path)
    with ScriptServer(storage_script(new_keys())) as srv:
        for s in session_for(spec, args_for(srv)):
            collect(s, ["list_containers"])
    own = [r for r in srv.seen if r.path.startswith("/blob/")]
    others = [r for r in srv.seen if not r.path.startswith("/blob/")]
    assert own and others
    for req in others:
        assert req.headers["Authorization"] == f"Bearer {TOKEN}"
        assert req.headers["X-Tenant"] == "tenant-7"
        assert parse_qs(urlsplit(req.path).query)["tenant"] == ["tenant-7"]
    for req in own:
        assert req.headers["Authorization"].startswith("SharedKey ")
        assert "X-Tenant" not in req.headers
        assert "tenant" not in parse_qs(urlsplit(req.path).query)
        assert TOKEN not in repr(req)


def test_an_own_auth_call_does_not_log_in_again_on_401(tmp_path):
    login = {
        "type": "login",
        "login": [{"name": "t", "path": "/login", "extract": {"token": {"body": "token"}}}],
        "headers": {"X-Token": "{{ login.token }}"},
    }
    calls = {
        "plain": {"path": "/plain"},
        "own": {"path": "/own", "auth": {"type": "bearer", "token": "call-token"}},
    }
    spec = write_spec(tmp_path, auth=login, calls=calls)

    def script(req: Seen, n: int) -> Answer:
        return Answer(200, {"token": "t1"}) if req.path == "/login" else Answer(401, {})

    with ScriptServer(script) as srv:
        for s in session_for(spec, {"endpoints": {"default": {"url": srv.url}}}):
            own = s.request("GET", s.url("api", "/own"), auth=spec.calls["own"].auth)
            assert srv.paths.count("/login") == 1
            plain = s.request("GET", s.url("api", "/plain"))
    assert (own.status, plain.status) == (401, 401)
    assert srv.paths == ["/login", "/own", "/plain", "/login", "/plain"]
    sent = {r.path: r.headers for r in srv.seen}
    assert sent["/own"]["Authorization"] == "Bearer call-token"
    assert "X-Token" not in sent["/own"]


def test_a_key_from_a_parent_never_shows_in_an_error(tmp_path):
    keys = new_keys()
    calls = {
        **CALLS,
        "list_containers": {
            **CALLS["list_containers"],
            # the key also travels in the URL here, so an error naming the URL would show it
            "query": {"comp": "list", "echo": "{{ parent['keys'][0].value }}"},
        },
    }
    spec = storage_spec(tmp_path, calls)

    def script(req: Seen, n: int) -> Answer:
        if req.path.startswith("/blob/"):
            return Answer(400, {})  # not retried: the error names the URL it answered
        return storage_script(keys)(req, n)

    with ScriptServer(script) as srv:
        for s in session_for(spec, args_for(srv)):
            with pytest.raises(ApiError, match="answered 400") as err:
                collect(s, ["list_containers"])
    message = str(err.value)
    assert "list_containers" in message and "********" in message
    assert not any(k in message for k in keys.values())
    blob = [r for r in srv.seen if r.path.startswith("/blob/")]
    echoed = {parse_qs(urlsplit(r.path).query)["echo"][0] for r in blob}
    assert echoed and echoed <= set(keys.values())  # the keys were in the URLs


def test_an_api_key_from_a_parent_is_masked_in_errors(tmp_path):
    calls = {
        "list_projects": {"path": "/projects", "records": "projects"},
        "list_items": {
            "path": "/items",
            "for_each": {"call": "list_projects"},
            "auth": {"type": "api_key", "in": "query", "name": "key", "value": "{{ parent.key }}"},
        },
    }
    spec = write_spec(tmp_path, auth=SPEC_AUTH, calls=calls)
    key = "project-key-" + os.urandom(6).hex()

    def script(req: Seen, n: int) -> Answer:
        if req.path.startswith("/projects"):
            return Answer(200, {"projects": [{"key": key}]})
        return Answer(400, {})

    with ScriptServer(script) as srv:
        for s in session_for(spec, args_for(srv)):
            with pytest.raises(ApiError, match="answered 400") as err:
                collect(s, ["list_items"])
    assert parse_qs(urlsplit(srv.seen[-1].path).query)["key"] == [key]  # sent ...
    assert key not in str(err.value)  # ... never shown
    assert "key=********" in str(err.value)


def test_record_keeps_no_key_or_signature_and_the_recording_replays(tmp_path):
    keys = new_keys()
    spec = storage_spec(tmp_path)
    cassette = tmp_path / "storage.yml"
    with ScriptServer(storage_script(keys)) as srv:
        recorder = RecordingAdapter(
            cassette,
            secrets={TOKEN: "AUTHENTICATIONS_DEFAULT_TOKEN"},
            inner=requests.adapters.HTTPAdapter(),
        )
        args = args_for(srv)
        session = ProviderSession(spec, args, HttpClient(adapter=recorder))
        try:
            live = collect(session, ["list_containers"])
        finally:
            session.close()  # saves the cassette
    text = cassette.read_text(encoding="utf-8")
    signatures = [r.headers["Authorization"] for r in srv.seen if r.path.startswith("/blob/")]
    assert len(signatures) == len(ACCOUNTS)
    for value in [*keys.values(), *(s.split(":", 1)[1] for s in signatures), TOKEN]:
        assert value not in text
    shown = re.findall(r"SharedKey (\w+):(\w+)", text)
    assert sorted(shown) == [(a, "MIQSPEC_SHAREDKEY_SIGNATURE") for a in ACCOUNTS]  # any order
    assert len(set(re.findall(r"MIQSPEC_SECRET_\d+", text))) == len(ACCOUNTS)

    # replay: the recorded keys are placeholders, which still sign (decoded leniently)
    replay = ReplayAdapter(
        Cassette.load(cassette, placeholders={TOKEN: "AUTHENTICATIONS_DEFAULT_TOKEN"})
    )
    session = ProviderSession(spec, args, HttpClient(adapter=replay))
    try:
        replayed = collect(session, ["list_containers"])
    finally:
        session.close()
    assert replayed.calls["list_containers"].records == live.calls["list_containers"].records
    assert replay.unused() == []


# -- the model and the validator ---------------------------------------------------------------


def test_the_model_holds_a_calls_own_auth(tmp_path):
    spec = storage_spec(tmp_path)
    own = spec.calls["list_containers"].auth
    assert own is not None and own.type == "azure_shared_key"
    assert set(own.params) == {"account", "key"}
    assert (own.login, own.headers) == ((), {})
    assert spec.calls["list_accounts"].auth is None
    assert spec.auth.type == "bearer"


CALL_AUTH_HEAD = """\
auth: {type: none}
calls:
  p: {path: /p}
"""


@pytest.mark.parametrize(
    ("tail", "where", "words"),
    [
        (
            "  c: {path: /c, auth: {type: bearer, token: '{{ parent.t }}'}}\n",
            "calls.c.auth.token",
            "parent",
        ),
        (
            "  c:\n    path: /c\n    for_each: {call: p}\n"
            "    auth: {type: azure_shared_key, account: '{{ ancestors[1].n }}', key: k}\n",
            "calls.c.auth.account",
            "ancestors[1]",
        ),
        (
            "  c: {path: /c, auth: {type: basic, username: u}}\n",
            "calls.c.auth",
            "password",
        ),
        (
            "  c: {path: /c, auth: {type: api_key, in: body, name: n, value: v}}\n",
            "calls.c.auth.in",
            "body",
        ),
    ],
    ids=["parent-outside-fan-out", "ancestor-too-deep", "missing-param", "bad-value"],
)
def test_the_validator_checks_a_calls_auth_like_the_specs(tail, where, words):
    found = findings(CALL_AUTH_HEAD + tail)
    assert len(found) == 1, found
    assert f" {where}" in found[0] and words in found[0]


def test_a_valid_calls_auth_builds():
    tail = (
        "  c:\n    path: /c\n    for_each: {call: p}\n"
        "    auth: {type: azure_shared_key, account: '{{ parent.n }}', key: '{{ parent.k }}',"
        " version: '2019-02-02'}\n"
    )
    assert findings(CALL_AUTH_HEAD + tail) == []
    spec = build_spec(load_text(HEAD + CALL_AUTH_HEAD + tail, "ext.yaml"))
    own = spec.calls["c"].auth
    assert own is not None and own.params["version"] == "2019-02-02"
