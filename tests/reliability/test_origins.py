"""Credentials stay home: URLs an API hands back, and redirects, never carry them elsewhere.

Two real HTTP servers on 127.0.0.1 (different ports: different origins): the provider, and a
stranger that records what reaches it. Each auth kind that adds a credential (basic, bearer
header, API key header, cookie, API key in the query) is tried with next-page links, Link
headers, per-record URLs and 302/307 redirects.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from miqspec.collect import collect
from miqspec.connect import ProviderSession
from miqspec.errors import ApiError

from ..connect.test_connect import write_spec
from ..connect.test_http import Answer, ScriptServer, Seen

SECRET = "s3cr3t-Pa55"
AUTHS: dict[str, dict[str, Any]] = {
    "basic": {
        "type": "basic",
        "username": "{{ authentications.default.userid }}",
        "password": "{{ authentications.default.password }}",
    },
    "bearer": {"type": "bearer", "token": "{{ authentications.default.password }}"},
    "api_key_header": {
        "type": "api_key",
        "in": "header",
        "name": "X-API-Key",
        "value": "{{ authentications.default.password }}",
    },
    "cookie": {"type": "none", "cookies": {"session": "{{ authentications.default.password }}"}},
    "api_key_query": {
        "type": "api_key",
        "in": "query",
        "name": "api_key",
        "value": "{{ authentications.default.password }}",
    },
}
ARGS = {"authentications": {"default": {"userid": "admin", "password": SECRET}}}


def leaked(seen: list[Seen]) -> list[str]:
    """Every place a stranger saw the secret (plain or inside a Basic pair)."""
    pair = base64.b64encode(f"admin:{SECRET}".encode()).decode()
    found = []
    for s in seen:
        blob = s.path + json.dumps(s.headers) + s.body.decode("latin-1")
        if SECRET in blob or pair in blob:
            found.append(s.path)
    return found


def spec_for(tmp_path: Path, auth: dict[str, Any], call: dict[str, Any], **connection: Any):
    return write_spec(
        tmp_path,
        auth=auth,
        base_url="{{ endpoints.default.url }}",
        calls={"list_things": {"path": "/things", "records": "items", **call}},
        connection=connection or None,
    )


def run(spec: Any, url: str) -> Any:
    session = ProviderSession(spec, {**ARGS, "endpoints": {"default": {"url": url}}})
    try:
        return collect(session, ["list_things"])
    finally:
        session.close()


def page(items: list[Any], **extra: Any) -> Answer:
    return Answer(200, {"items": items, **extra})


@pytest.fixture
def stranger():
    with ScriptServer(lambda req, n: page([{"id": "evil"}])) as server:
        yield server


each_auth = pytest.mark.parametrize("kind", sorted(AUTHS))


@each_auth
def test_a_next_link_to_another_origin_is_refused_naming_both(tmp_path, stranger, kind):
    def provider(req: Seen, n: int) -> Answer:
        return page([{"id": "a"}], next=f"{stranger.url}/things?page=2")

    spec = spec_for(tmp_path, AUTHS[kind], {"paginate": {"type": "next_url", "next": "next"}})
    with ScriptServer(provider) as home, pytest.raises(ApiError) as err:
        run(spec, home.url)
    message = str(err.value)
    assert f"refusing to send credentials to {stranger.url}" in message
    assert home.url in message
    assert SECRET not in message
    assert stranger.seen == []


@each_auth
def test_a_link_header_to_another_origin_is_refused(tmp_path, stranger, kind):
    def provider(req: Seen, n: int) -> Answer:
        link = f'<{stranger.url}/things?page=2>; rel="next"'
        return Answer(200, {"items": [{"id": "a"}]}, headers={"Link": link})

    spec = spec_for(tmp_path, AUTHS[kind], {"paginate": {"type": "link_header"}})
    with ScriptServer(provider) as home, pytest.raises(ApiError, match="refusing to send"):
        run(spec, home.url)
    assert stranger.seen == []


@each_auth
def test_a_next_link_on_the_same_origin_is_followed(tmp_path, kind):
    def provider(req: Seen, n: int) -> Answer:
        if "page=2" in req.path:
            return page([{"id": "b"}])
        return page([{"id": "a"}], next="/things?page=2")

    spec = spec_for(tmp_path, AUTHS[kind], {"paginate": {"type": "next_url", "next": "next"}})
    with ScriptServer(provider) as home:
        result = run(spec, home.url)
    assert [r["id"] for r in result.calls["list_things"].records] == ["a", "b"]
    assert len(leaked(home.seen)) == 2  # the provider itself gets its credentials


@each_auth
@pytest.mark.parametrize("status", [302, 307])
def test_a_redirect_to_another_origin_carries_no_credential(tmp_path, stranger, kind, status):
    def provider(req: Seen, n: int) -> Answer:
        return Answer(status, b"", headers={"Location": f"{stranger.url}/things"})

    spec = spec_for(tmp_path, AUTHS[kind], {})
    with ScriptServer(provider) as home:
        run(spec, home.url)
    assert len(stranger.seen) == 1
    assert leaked(stranger.seen) == []
    headers = {k.lower() for k in stranger.seen[0].headers}
    assert not headers & {"authorization", "x-api-key", "cookie"}


@each_auth
def test_a_redirect_on_the_same_origin_keeps_credentials(tmp_path, kind):
    def provider(req: Seen, n: int) -> Answer:
        if req.path.startswith("/moved"):
            return page([{"id": "a"}])
        return Answer(302, b"", headers={"Location": "/moved/things"})

    spec = spec_for(tmp_path, AUTHS[kind], {})
    with ScriptServer(provider) as home:
        run(spec, home.url)
    # a key in the query is on the first URL only: the provider's Location decides the second
    assert len(leaked(home.seen)) == (1 if kind == "api_key_query" else 2)


def test_a_record_url_to_another_origin_is_refused(tmp_path, stranger):
    def provider(req: Seen, n: int) -> Answer:
        return page([{"id": "a", "href": f"{stranger.url}/detail/a"}])

    spec = write_spec(
        tmp_path,
        auth=AUTHS["bearer"],
        calls={
            "list_things": {"path": "/things", "records": "items"},
            "detail": {"path": "{{ parent.href }}", "for_each": {"call": "list_things"}},
        },
    )
    with ScriptServer(provider) as home:
        session = ProviderSession(spec, {**ARGS, "endpoints": {"default": {"url": home.url}}})
        try:
            with pytest.raises(ApiError, match="refusing to send credentials"):
                collect(session, ["detail"])
        finally:
            session.close()
    assert stranger.seen == []


def test_an_origin_the_spec_allows_is_followed_with_credentials(tmp_path, stranger):
    def provider(req: Seen, n: int) -> Answer:
        return page([{"id": "a"}], next=f"{stranger.url}/things?page=2")

    spec = spec_for(
        tmp_path,
        AUTHS["bearer"],
        {"paginate": {"type": "next_url", "next": "next"}},
        allowed_origins=[stranger.url],
    )
    assert spec.connection.allowed_origins == (stranger.url,)
    with ScriptServer(provider) as home:
        result = run(spec, home.url)
    assert [r["id"] for r in result.calls["list_things"].records] == ["a", "evil"]
    assert len(leaked(stranger.seen)) == 1


@pytest.mark.parametrize(
    ("pattern", "url", "allowed"),
    [
        ("https://*.blob.core.windows.net", "https://acct.blob.core.windows.net/c", True),
        ("https://*.blob.core.windows.net", "https://blob.core.windows.net/c", False),
        ("https://*.blob.core.windows.net", "https://acct.blob.core.windows.net.evil.io", False),
        ("https://*.blob.core.windows.net", "http://acct.blob.core.windows.net/c", False),
        ("https://*.blob.core.windows.net", "https://acct.blob.core.windows.net:444/", False),
        ("https://api.example.com", "https://API.example.com:443/x", True),
        ("https://api.example.com", "https://api.example.com.evil.io/x", False),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8081/", False),
    ],
)
def test_origin_patterns(pattern, url, allowed):
    from miqspec.connect.origins import OriginPattern, origin_of

    assert OriginPattern(pattern).matches(origin_of(url)) is allowed
