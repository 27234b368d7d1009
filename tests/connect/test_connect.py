"""Provider sessions against the simulator and tiny servers: login, re-login, OAuth2, basic."""

from __future__ import annotations

import base64
import json
import re
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml

from miqspec.connect.session import ProviderSession, build_context, secret_values
from miqspec.errors import ApiError, CredentialsError, MiqspecError, UnreachableError
from miqspec.simulator import Simulator
from miqspec.spec.load import load_spec
from miqspec.spec.model import Spec

from ..conftest import AWESOME
from .test_http import Answer, ScriptServer, Seen, free_port

SECRET_NAMES = ("password", "secret", "client_secret", "token", "api_key")
FAST_RETRY = {"attempts": 3, "backoff": 0.01, "max_backoff": 0.05}

SIM_LOGIN = {
    "type": "login",
    "login": [
        {
            "name": "token",
            "path": "/auth/tokens",
            "body": {
                "json": {
                    "access_key": "{{ authentications.default.userid }}",
                    "secret_key": "{{ authentications.default.password }}",
                }
            },
            "extract": {"token": {"body": "token"}},
        }
    ],
    "headers": {"Authorization": "Bearer {{ login.token }}"},
}


def write_spec(
    tmp_path: Path,
    *,
    auth: dict[str, Any] | None = None,
    calls: dict[str, Any] | None = None,
    base_url: str = "{{ endpoints.default.url }}",
    connection: dict[str, Any] | None = None,
    regions: list[dict[str, Any]] | None = None,
    settings: dict[str, Any] | None = None,
    name: str = "spec.yaml",
) -> Spec:
    """Write a small valid spec (form fields derived from what it reads) and load it."""
    data: dict[str, Any] = {
        "version": 1,
        "provider": {
            "name": "testcloud",
            "title": "Test Cloud",
            "manager_type": "cloud",
            "settings": settings or {},
        },
        "connection": {
            "services": {"api": {"base_url": base_url}},
            "retry": FAST_RETRY,
            "timeout": 5,
            "connect_timeout": 2,
            **(connection or {}),
        },
        "auth": auth or {"type": "none"},
        "calls": calls or {"list_regions": {"path": "/regions", "records": "regions"}},
    }
    if regions is not None:
        data["regions"] = regions
    text = yaml.safe_dump(data, sort_keys=False)
    fields: list[dict[str, Any]] = []
    if regions:
        fields.append(
            {
                "component": "select",
                "name": "provider_region",
                "label": "Region",
                "options_from": "regions",
            }
        )
    for fname in sorted(set(re.findall(r"\b(?:endpoints|authentications)\.\w+\.\w+", text))):
        secret = fname.rsplit(".", 1)[1] in SECRET_NAMES
        fields.append(
            {
                "component": "password-field" if secret else "text-field",
                "name": fname,
                "label": fname,
            }
        )
    if fields:
        data["form"] = {"fields": fields}
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return load_spec(str(path))


def sim_args(sim: Simulator, *, password: str | None = None) -> dict[str, Any]:
    return {
        "endpoints": {"default": {"url": sim.url}},
        "authentications": {
            "default": {
                "userid": sim.options.access_key,
                "password": password or sim.options.secret_key,
            }
        },
    }


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(instances=12, flavors=4, images=5, page_size=5) as s:
        yield s


@pytest.fixture
def sim_spec(tmp_path: Path) -> Spec:
    return write_spec(tmp_path, auth=SIM_LOGIN)


def session_for(spec: Spec, args: dict[str, Any]) -> Iterator[ProviderSession]:
    s = ProviderSession(spec, args)
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def session(sim_spec: Spec, sim: Simulator) -> Iterator[ProviderSession]:
    yield from session_for(sim_spec, sim_args(sim))


def logins(sim: Simulator) -> int:
    return sim.stats().get("/v1/auth/tokens", 0)


# -- context and URLs ----------------------------------------------------------------------


def test_context_holds_region_form_values_settings_and_provider():
    spec = load_spec(str(AWESOME))
    ctx = build_context(
        spec,
        {
            "provider_region": "us-east-1",
            "authentications": {"default": {"userid": "AK"}},
            "settings": {"page_size": 5},
        },
    )
    assert ctx["region"]["hostname"] == spec.region("us-east-1").hostname  # type: ignore[union-attr]
    assert ctx["endpoints"] == {"default": {"url": None}}
    assert ctx["authentications"]["default"]["userid"] == "AK"
    assert ctx["authentications"]["default"]["password"] is None
    assert ctx["settings"]["page_size"] == 5
    assert ctx["provider"]["title"] == spec.provider.title
    assert ctx["login"] == {}


def test_secret_values_come_from_the_form_secret_fields():
    spec = load_spec(str(AWESOME))
    args = {"authentications": {"default": {"userid": "AK", "password": "pw-123"}}}
    assert secret_values(spec, args) == ["pw-123"]


def test_base_url_from_endpoint_url_or_region_hostname():
    spec = load_spec(str(AWESOME))
    region = spec.region("us-east-1")
    assert region is not None
    with_url = ProviderSession(
        spec, {"provider_region": "us-east-1", "endpoints": {"default": {"url": "http://h:1/v1/"}}}
    )
    from_region = ProviderSession(spec, {"provider_region": "us-east-1"})
    try:
        assert with_url.url("compute", "/regions") == "http://h:1/v1/regions"
        assert from_region.url("compute", "regions") == f"https://{region.hostname}/v1/regions"
        assert from_region.url("compute", "https://other/x") == "https://other/x"
    finally:
        with_url.close()
        from_region.close()


def test_region_hostname_reaches_the_simulator(tmp_path, sim):
    host = urlsplit(sim.url).netloc
    spec = write_spec(
        tmp_path,
        auth=SIM_LOGIN,
        regions=[{"name": "local", "hostname": host}],
        base_url="{{ endpoints.default.url or ('http://' ~ region.hostname ~ '/v1') }}",
    )
    args = sim_args(sim)
    args["endpoints"] = {}
    args["provider_region"] = "local"
    for s in session_for(spec, args):
        resp = s.request("GET", s.url("api", "/regions"))
        assert resp.status == 200 and resp.json() == {"regions": sim.data.regions}


def test_empty_base_url_is_an_error(tmp_path):
    spec = write_spec(tmp_path, base_url="{{ endpoints.default.url or '' }}")
    for s in session_for(spec, {}):
        with pytest.raises(MiqspecError, match="service 'api' has an empty base URL"):
            s.url("api", "/x")


# -- login flows against the simulator ---------------------------------------------------


def test_login_gives_a_token_and_requests_carry_it(session, sim):
    url = session.url("api", "/regions")
    assert session.request("GET", url).json() == {"regions": sim.data.regions}
    token = session.ctx["login"]["token"]
    assert isinstance(token, str) and token
    assert session.request("GET", url).status == 200
    assert logins(sim) == 1
    assert token in session.secrets()


def test_revoked_token_logs_in_again_once(session, sim):
    url = session.url("api", "/regions")
    assert session.request("GET", url).status == 200
    old = session.ctx["login"]["token"]
    assert sim.revoke_tokens() == 1
    assert session.request("GET", url).status == 200
    assert logins(sim) == 2
    assert session.ctx["login"]["token"] != old
    assert sim.stats()["/v1/regions"] == 3  # ok, 401, ok


def test_a_401_that_persists_relogs_in_only_once(session, sim):
    url = session.url("api", "/regions")
    session.ensure_login()
    sim.set_faults(fail_always_status=401, path="/v1/regions")
    assert session.request("GET", url).status == 401
    assert logins(sim) == 2
    assert sim.stats()["/v1/regions"] == 2


def test_concurrent_requests_share_one_relogin(session, sim):
    url = session.url("api", "/regions")
    session.ensure_login()
    sim.revoke_tokens()
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(lambda _: session.request("GET", url).status, range(16)))
    assert statuses == [200] * 16
    assert logins(sim) == 2


def test_login_values_stay_usable_while_a_relogin_runs(session, sim):
    from miqspec.connect.auth import decorate

    session.ensure_login()
    old = session.ctx["login"]["token"]
    sim.set_faults(latency_ms=300, path="/auth/tokens")
    relogin = threading.Thread(target=session.ensure_login, kwargs={"force": True})
    relogin.start()
    try:
        deadline = time.monotonic() + 2
        while sim.stats().get("/v1/auth/tokens", 0) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        # the second login request is in flight: other threads still render the old token
        assert decorate(session.spec.auth, session.ctx).headers["Authorization"] == f"Bearer {old}"
    finally:
        relogin.join()
    assert session.ctx["login"]["token"] != old


def test_wrong_secret_is_invalid_credentials(sim_spec, sim):
    wrong = "not-the-secret-key"
    for s in session_for(sim_spec, sim_args(sim, password=wrong)):
        with pytest.raises(
            CredentialsError, match=r"invalid credentials: login step 'token' .* answered 401"
        ) as err:
            s.request("GET", s.url("api", "/regions"))
    assert wrong not in str(err.value)
    assert err.value.exit_code == 3


def test_unreachable_endpoint(sim_spec):
    args = {
        "endpoints": {"default": {"url": f"http://127.0.0.1:{free_port()}/v1"}},
        "authentications": {"default": {"userid": "a", "password": "b-secret"}},
    }
    for s in session_for(sim_spec, args):
        with pytest.raises(UnreachableError, match="connection refused"):
            s.request("GET", s.url("api", "/regions"))


def test_login_step_results_from_body_header_and_cookie(tmp_path):
    auth = {
        "type": "login",
        "login": [
            {
                "name": "ticket",
                "path": "/access/ticket",
                "body": {
                    "form": {
                        "username": "{{ authentications.default.userid }}",
                        "password": "{{ authentications.default.password }}",
                    }
                },
                "extract": {
                    "ticket": {"body": "data.ticket"},
                    "csrf": {"header": "X-Csrf"},
                    "sid": {"cookie": "sid"},
                },
            }
        ],
        "headers": {"CSRFPreventionToken": "{{ login.csrf }}"},
        "cookies": {"PVEAuthCookie": "{{ login.ticket }}", "sid": "{{ login.sid }}"},
        "query": {"session": "{{ login.sid }}"},
    }

    def script(req: Seen, n: int) -> Answer:
        if req.path == "/access/ticket":
            form = parse_qs(req.body.decode())
            if form != {"username": ["root"], "password": ["pa55word"]}:
                return Answer(401)
            return Answer(
                200,
                {"data": {"ticket": f"PVE:{n}"}},
                {"X-Csrf": f"csrf-{n}", "Set-Cookie": f"sid=s{n}; Path=/"},
            )
        return Answer(200, {"headers": req.headers, "path": req.path})

    with ScriptServer(script) as srv:
        spec = write_spec(tmp_path, auth=auth)
        args = {
            "endpoints": {"default": {"url": srv.url}},
            "authentications": {"default": {"userid": "root", "password": "pa55word"}},
        }
        for s in session_for(spec, args):
            echo = s.request("GET", s.url("api", "/nodes")).json()
    assert echo["headers"]["CSRFPreventionToken"] == "csrf-1"
    # the session's own cookie jar also sends sid: the same value, so one set
    assert set(echo["headers"]["Cookie"].split("; ")) == {"PVEAuthCookie=PVE:1", "sid=s1"}
    assert echo["path"] == "/nodes?session=s1"


def test_login_step_without_the_expected_value(tmp_path):
    auth = {
        **SIM_LOGIN,
        "login": [{**SIM_LOGIN["login"][0], "extract": {"token": {"body": "no_such_field"}}}],
    }
    with ScriptServer(lambda req, n: Answer(200, {"token": "x"})) as srv:
        spec = write_spec(tmp_path, auth=auth)
        args = {
            "endpoints": {"default": {"url": srv.url}},
            "authentications": {"default": {"userid": "u", "password": "p"}},
        }
        for s in session_for(spec, args):
            with pytest.raises(CredentialsError, match="gave no body 'no_such_field'"):
                s.ensure_login()


# -- OAuth2 client credentials against a token server of our own ---------------------------


class TokenServer(ScriptServer):
    """Issues ``tok-<n>`` tokens with a given lifetime; /data needs the latest one."""

    def __init__(self, expires_in: float = 3600, client_secret: str = "cs-secret") -> None:
        self.issued: list[str] = []
        self.token_requests: list[Seen] = []
        self.expires_in = expires_in
        self.client_secret = client_secret
        super().__init__(self.answer)

    def answer(self, req: Seen, n: int) -> Answer:
        if req.path == "/oauth/token":
            self.token_requests.append(req)
            form = {k: v[0] for k, v in parse_qs(req.body.decode()).items()}
            secret = form.get("client_secret")
            if "Authorization" in req.headers:
                pair = base64.b64decode(req.headers["Authorization"].split()[1]).decode()
                secret = pair.partition(":")[2]
            if secret != self.client_secret or form.get("grant_type") != "client_credentials":
                return Answer(400, {"error": "invalid_client"})
            self.issued.append(f"tok-{len(self.issued) + 1}")
            return Answer(
                200,
                {
                    "access_token": self.issued[-1],
                    "token_type": "Bearer",
                    "expires_in": self.expires_in,
                },
            )
        if req.headers.get("Authorization") != f"Bearer {self.issued[-1] if self.issued else ''}":
            return Answer(401, {"error": "invalid_token"})
        return Answer(200, {"value": [1, 2]})


def oauth_spec(tmp_path: Path, **extra: Any) -> Spec:
    auth = {
        "type": "oauth2_client_credentials",
        "token_url": "{{ endpoints.default.url }}/oauth/token",
        "client_id": "{{ authentications.default.userid }}",
        "client_secret": "{{ authentications.default.client_secret }}",
        **extra,
    }
    return write_spec(tmp_path, auth=auth)


def oauth_args(srv: ScriptServer, secret: str = "cs-secret") -> dict[str, Any]:
    return {
        "endpoints": {"default": {"url": srv.url}},
        "authentications": {"default": {"userid": "app-1", "client_secret": secret}},
    }


def test_oauth2_token_is_reused_until_expiry_then_fetched_again(tmp_path):
    with TokenServer(expires_in=0.5) as srv:
        spec = oauth_spec(tmp_path, scope="api://default/.default")
        for s in session_for(spec, oauth_args(srv)):
            url = s.url("api", "/data")
            assert [s.request("GET", url).status for _ in range(3)] == [200] * 3
            assert srv.issued == ["tok-1"]
            time.sleep(0.5)
            assert s.request("GET", url).status == 200
            assert srv.issued == ["tok-1", "tok-2"]
    form = parse_qs(srv.token_requests[0].body.decode())
    assert form["client_id"] == ["app-1"] and form["client_secret"] == ["cs-secret"]
    assert form["scope"] == ["api://default/.default"]
    assert "Authorization" not in srv.token_requests[0].headers


def test_oauth2_long_lived_token_is_reused(tmp_path):
    with TokenServer(expires_in=3600) as srv:
        for s in session_for(oauth_spec(tmp_path), oauth_args(srv)):
            for _ in range(5):
                assert s.request("GET", s.url("api", "/data")).status == 200
    assert srv.issued == ["tok-1"]


def test_oauth2_basic_client_auth_and_extra_parameters(tmp_path):
    with TokenServer() as srv:
        spec = oauth_spec(
            tmp_path,
            client_auth="basic",
            resource="https://management/",
            extra={"audience": "{{ authentications.default.userid }}-aud"},
        )
        for s in session_for(spec, oauth_args(srv)):
            assert s.request("GET", s.url("api", "/data")).json() == {"value": [1, 2]}
    req = srv.token_requests[0]
    assert req.headers["Authorization"] == "Basic " + base64.b64encode(b"app-1:cs-secret").decode()
    form = parse_qs(req.body.decode())
    assert "client_secret" not in form and "client_id" not in form
    assert form["resource"] == ["https://management/"] and form["audience"] == ["app-1-aud"]


def test_oauth2_401_fetches_a_new_token_once(tmp_path):
    with TokenServer() as srv:
        for s in session_for(oauth_spec(tmp_path), oauth_args(srv)):
            url = s.url("api", "/data")
            assert s.request("GET", url).status == 200
            srv.issued.append("tok-elsewhere")  # the server now wants a token we do not hold
            assert s.request("GET", url).status == 200
    assert srv.issued[-1] == "tok-3" and len(srv.token_requests) == 2


def test_oauth2_rejected_client_is_invalid_credentials(tmp_path):
    with TokenServer() as srv:
        for s in session_for(oauth_spec(tmp_path), oauth_args(srv, secret="wrong-secret")):
            with pytest.raises(CredentialsError, match=r"token request .* answered 400") as err:
                s.request("GET", s.url("api", "/data"))
    assert "wrong-secret" not in str(err.value)


# -- static auth kinds over the wire ---------------------------------------------------------


def test_basic_auth(tmp_path):
    expected = "Basic " + base64.b64encode(b"admin:pa:ss").decode()
    with ScriptServer(
        lambda req, n: Answer(200) if req.headers.get("Authorization") == expected else Answer(401)
    ) as srv:
        spec = write_spec(
            tmp_path,
            auth={
                "type": "basic",
                "username": "{{ authentications.default.userid }}",
                "password": "{{ authentications.default.password }}",
            },
        )
        good = {
            "endpoints": {"default": {"url": srv.url}},
            "authentications": {"default": {"userid": "admin", "password": "pa:ss"}},
        }
        for s in session_for(spec, good):
            assert s.request("GET", s.url("api", "/x")).status == 200
        bad = json.loads(json.dumps(good))
        bad["authentications"]["default"]["password"] = "nope"
        for s in session_for(spec, bad):
            assert s.request("GET", s.url("api", "/x")).status == 401  # no login to re-run
    assert len(srv.seen) == 2


def test_api_key_in_query_is_sent_and_masked(tmp_path):
    key = "k3y-value-123"
    with ScriptServer(lambda req, n: Answer(500)) as srv:
        spec = write_spec(
            tmp_path,
            auth={
                "type": "api_key",
                "in": "query",
                "name": "apikey",
                "value": "{{ authentications.default.api_key }}",
            },
        )
        args = {
            "endpoints": {"default": {"url": srv.url}},
            "authentications": {"default": {"api_key": key}},
        }
        for s in session_for(spec, args):
            with pytest.raises(ApiError, match="answered 500") as err:
                s.request("GET", s.url("api", "/x"))
    assert srv.paths[0] == f"/x?apikey={key}"
    assert key not in str(err.value)


def test_spec_timeout_applies_to_login_steps_and_requests(tmp_path):
    auth = {
        "type": "login",
        "login": [{"name": "t", "path": "/login", "extract": {"token": {"body": "token"}}}],
        "headers": {"X-Token": "{{ login.token }}"},
    }
    slow_login = [True]

    def script(req: Seen, n: int) -> Answer:
        if req.path == "/login":
            return Answer(200, {"token": "t1"}, delay=1.0 if slow_login[0] else 0)
        return Answer(200, {}, delay=1.0 if req.path == "/slow" else 0)

    spec = write_spec(tmp_path, auth=auth, connection={"timeout": 0.2, "retry": {"attempts": 1}})
    with ScriptServer(script) as srv:
        for s in session_for(spec, {"endpoints": {"default": {"url": srv.url}}}):
            with pytest.raises(UnreachableError, match=r"timed out talking to .*/login"):
                s.ensure_login()
            slow_login[0] = False
            assert s.request("GET", s.url("api", "/fast")).status == 200
            started = time.perf_counter()
            with pytest.raises(UnreachableError, match=r"timed out talking to .*/slow"):
                s.request("GET", s.url("api", "/slow"))
            assert time.perf_counter() - started < 0.9
