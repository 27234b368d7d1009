"""Auth kinds: request decoration and the OAuth2 token request/answer (no I/O)."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest

from miqspec.connect.auth import AUTH_KINDS, decorate, oauth2_read_token, oauth2_token_request
from miqspec.connect.session import build_context
from miqspec.errors import CredentialsError, MappingError
from miqspec.spec import schema as schema_mod
from miqspec.spec.model_calls import Auth

from .test_connect import write_spec

USER, PASSWORD = "admin@example", "p@ss:w0rd"


def auth_of(tmp_path: Path, auth: dict[str, Any]) -> tuple[Auth, dict[str, Any]]:
    """The typed auth of a spec using ``auth``, and a context with form values filled in."""
    spec = write_spec(tmp_path, auth=auth)
    args = {
        "endpoints": {"default": {"url": "https://api.example.com"}},
        "authentications": {
            "default": {
                "userid": USER,
                "password": PASSWORD,
                "api_key": "key-123",
                "client_secret": "cs-9",
            }
        },
    }
    return spec.auth, build_context(spec, args)


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_registry_matches_the_schema_variants():
    assert set(AUTH_KINDS) == set(schema_mod.variants("auth"))


def test_none_adds_nothing(tmp_path):
    auth, ctx = auth_of(tmp_path, {"type": "none"})
    dec = decorate(auth, ctx)
    assert (dec.headers, dec.cookies, dec.query) == ({}, {}, {})


def test_basic(tmp_path):
    auth, ctx = auth_of(
        tmp_path,
        {
            "type": "basic",
            "username": "{{ authentications.default.userid }}",
            "password": "{{ authentications.default.password }}",
        },
    )
    header = decorate(auth, ctx).headers["Authorization"]
    scheme, _, encoded = header.partition(" ")
    assert scheme == "Basic"
    assert base64.b64decode(encoded).decode() == f"{USER}:{PASSWORD}"


def test_bearer(tmp_path):
    auth, ctx = auth_of(
        tmp_path, {"type": "bearer", "token": "{{ authentications.default.password }}"}
    )
    assert decorate(auth, ctx).headers == {"Authorization": f"Bearer {PASSWORD}"}


def test_api_key_in_header(tmp_path):
    auth, ctx = auth_of(
        tmp_path,
        {
            "type": "api_key",
            "in": "header",
            "name": "X-Api-Key",
            "value": "{{ authentications.default.api_key }}",
        },
    )
    dec = decorate(auth, ctx)
    assert dec.headers == {"X-Api-Key": "key-123"} and dec.query == {}


def test_api_key_in_query(tmp_path):
    auth, ctx = auth_of(
        tmp_path,
        {
            "type": "api_key",
            "in": "query",
            "name": "apikey",
            "value": "{{ authentications.default.api_key }}",
        },
    )
    dec = decorate(auth, ctx)
    assert dec.query == {"apikey": "key-123"} and dec.headers == {}


LOGIN = {
    "type": "login",
    "login": [
        {
            "name": "iam",
            "path": "/identity/token",
            "body": {"form": {"apikey": "{{ authentications.default.api_key }}"}},
            "extract": {"access_token": {"body": "access_token"}},
        },
        {
            "name": "crn",
            "method": "GET",
            "path": "/resources/{{ login.access_token }}",
            "extract": {"crn": {"body": "crn"}, "ticket": {"cookie": "ticket"}},
        },
    ],
    "headers": {"Authorization": "Bearer {{ login.access_token }}", "Crn": "{{ login.crn }}"},
    "cookies": {"PVEAuthCookie": "{{ login.ticket }}"},
    "query": {"account": "{{ login.crn | urlencode }}"},
}


def test_headers_cookies_and_query_templated_from_login_vars(tmp_path):
    auth, ctx = auth_of(tmp_path, LOGIN)
    ctx["login"] = {"access_token": "at-1", "crn": "crn:v1:a/b", "ticket": "PVE:root@pam:1"}
    dec = decorate(auth, ctx)
    assert dec.headers == {"Authorization": "Bearer at-1", "Crn": "crn:v1:a/b"}
    assert dec.cookies == {"PVEAuthCookie": "PVE:root@pam:1"}
    assert dec.query == {"account": "crn%3Av1%3Aa%2Fb"}
    assert [s.name for s in auth.login] == ["iam", "crn"]
    assert auth.login[0].method == "POST" and auth.login[0].body is not None
    assert auth.login[0].body.kind == "form"
    assert {(e.var, e.kind, e.source) for e in auth.login[1].extract} == {
        ("crn", "body", "crn"),
        ("ticket", "cookie", "ticket"),
    }
    assert auth.relogin_on == (401,)


def test_login_vars_missing_is_a_mapping_error(tmp_path):
    auth, ctx = auth_of(tmp_path, LOGIN)
    with pytest.raises(MappingError, match="login"):
        decorate(auth, ctx)


def oauth(tmp_path: Path, **extra: Any) -> tuple[Auth, dict[str, Any]]:
    return auth_of(
        tmp_path,
        {
            "type": "oauth2_client_credentials",
            "token_url": "{{ endpoints.default.url }}/oauth2/token",
            "client_id": "{{ authentications.default.userid }}",
            "client_secret": "{{ authentications.default.client_secret }}",
            **extra,
        },
    )


def test_oauth2_decoration_uses_the_fetched_token(tmp_path):
    auth, ctx = oauth(tmp_path)
    assert decorate(auth, ctx).headers == {}
    ctx["login"] = {"access_token": "tok-1"}
    assert decorate(auth, ctx).headers == {"Authorization": "Bearer tok-1"}


def test_oauth2_token_request_client_auth_in_body(tmp_path):
    auth, ctx = oauth(tmp_path)
    req = oauth2_token_request(auth, ctx)
    assert req.url == "https://api.example.com/oauth2/token"
    assert req.data == {
        "grant_type": "client_credentials",
        "client_id": USER,
        "client_secret": "cs-9",
    }
    assert "Authorization" not in req.headers
    assert req.headers["Accept"] == "application/json"


def test_oauth2_token_request_client_auth_basic_with_scope_resource_extra(tmp_path):
    auth, ctx = oauth(
        tmp_path,
        client_auth="basic",
        scope="read write",
        resource="https://management.example/",
        extra={"audience": "{{ endpoints.default.url }}", "tenant": "t-1"},
    )
    req = oauth2_token_request(auth, ctx)
    assert req.headers["Authorization"] == "Basic " + b64(f"{USER}:cs-9")
    assert req.data == {
        "grant_type": "client_credentials",
        "scope": "read write",
        "resource": "https://management.example/",
        "audience": "https://api.example.com",
        "tenant": "t-1",
    }


def test_oauth2_read_token_default_paths(tmp_path):
    auth, _ = oauth(tmp_path)
    assert oauth2_read_token(auth, {"access_token": "a", "expires_in": 120}) == ("a", 120.0)
    assert oauth2_read_token(auth, {"access_token": "a", "expires_in": "90"}) == ("a", 90.0)
    assert oauth2_read_token(auth, {"access_token": "a"}) == ("a", 3600.0)
    assert oauth2_read_token(auth, {"access_token": "a", "expires_in": "soon"}) == ("a", 3600.0)


def test_oauth2_read_token_custom_paths(tmp_path):
    auth, _ = oauth(tmp_path, token_path="result.token.value", expires_in_path="result.ttl")
    body = {"result": {"token": {"value": "xyz"}, "ttl": 42}, "access_token": "not-this"}
    assert oauth2_read_token(auth, body) == ("xyz", 42.0)


@pytest.mark.parametrize("body", [{}, {"access_token": ""}, None, {"error": "invalid_client"}])
def test_oauth2_answer_without_a_token(tmp_path, body: Any):
    auth, _ = oauth(tmp_path)
    with pytest.raises(CredentialsError, match="no access token"):
        oauth2_read_token(auth, body)
