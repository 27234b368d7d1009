"""Auth kinds: what each adds to a request, and the token/login requests they need. No I/O.

Takes: the spec's (or a call's) ``Auth`` and a template context (region, endpoints,
authentications, settings, provider, login variables; a call's context adds ``parent`` and
``ancestors``). Gives: ``Decoration`` (headers, cookies, query) for a request; a
``Signer`` for kinds that sign the final request (``signer``); the secret values an auth
renders (``secrets_of``); for OAuth2 client credentials the token request to make and how to
read its answer. Raises: ``MappingError`` from templates. The registries ``AUTH_KINDS``
(decoration) and ``AUTH_SIGNERS`` (signing) are keyed by ``auth.type``.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from miqspec.connect import shared_key as auth_shared_key
from miqspec.connect.http import Signer
from miqspec.errors import CredentialsError
from miqspec.spec import Auth, compile_expression, compile_template, render_value


@dataclass
class Decoration:
    headers: dict[str, str] = field(default_factory=dict)
    cookies: dict[str, str] = field(default_factory=dict)
    query: dict[str, str] = field(default_factory=dict)


def _param(auth: Auth, name: str, ctx: Mapping[str, Any]) -> str:
    return compile_template(str(auth.params.get(name, ""))).render(ctx)


def _basic(auth: Auth, ctx: Mapping[str, Any], dec: Decoration) -> None:
    pair = f"{_param(auth, 'username', ctx)}:{_param(auth, 'password', ctx)}"
    dec.headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()


def _bearer(auth: Auth, ctx: Mapping[str, Any], dec: Decoration) -> None:
    dec.headers["Authorization"] = "Bearer " + _param(auth, "token", ctx)


def _api_key(auth: Auth, ctx: Mapping[str, Any], dec: Decoration) -> None:
    name, value = _param(auth, "name", ctx), _param(auth, "value", ctx)
    if auth.params.get("in") == "query":
        dec.query[name] = value
    else:
        dec.headers[name] = value


def _oauth2(auth: Auth, ctx: Mapping[str, Any], dec: Decoration) -> None:
    token = (ctx.get("login") or {}).get("access_token")
    if token:
        dec.headers["Authorization"] = f"Bearer {token}"


def _nothing(auth: Auth, ctx: Mapping[str, Any], dec: Decoration) -> None:
    return None


AUTH_KINDS: dict[str, Callable[[Auth, Mapping[str, Any], Decoration], None]] = {
    "none": _nothing,
    "basic": _basic,
    "bearer": _bearer,
    "api_key": _api_key,
    "oauth2_client_credentials": _oauth2,
    "login": _nothing,
    "azure_shared_key": _nothing,  # signs the final request: see AUTH_SIGNERS
}
# The params of each kind whose rendered values are secrets (masked, never recorded).
SECRET_PARAMS: dict[str, tuple[str, ...]] = {
    "basic": ("password",),
    "bearer": ("token",),
    "api_key": ("value",),
    "oauth2_client_credentials": ("client_secret",),
    "azure_shared_key": ("key",),
}


def _azure_shared_key(auth: Auth, ctx: Mapping[str, Any]) -> Signer:
    account, key = _param(auth, "account", ctx), _param(auth, "key", ctx)
    version = _param(auth, "version", ctx) or auth_shared_key.DEFAULT_VERSION

    def sign(method: str, url: str, headers: Mapping[str, str]) -> dict[str, str]:
        return auth_shared_key.sign(method, url, headers, account, key, version=version)

    return sign


AUTH_SIGNERS: dict[str, Callable[[Auth, Mapping[str, Any]], Signer]] = {
    "azure_shared_key": _azure_shared_key,
}


def signer(auth: Auth, ctx: Mapping[str, Any]) -> Signer | None:
    """What signs each final request of this auth (its params rendered once), or None."""
    make = AUTH_SIGNERS.get(auth.type)
    return make(auth, ctx) if make else None


def secrets_of(auth: Auth, ctx: Mapping[str, Any]) -> list[str]:
    """The rendered values of the auth's secret params (non-empty)."""
    values = (_param(auth, name, ctx) for name in SECRET_PARAMS.get(auth.type, ()))
    return [v for v in values if v]


def decorate(auth: Auth, ctx: Mapping[str, Any]) -> Decoration:
    """Headers, cookies and query parameters every request of this provider carries."""
    dec = Decoration()
    AUTH_KINDS[auth.type](auth, ctx, dec)
    for name, tpl in auth.headers.items():
        dec.headers[name] = tpl.render(ctx)
    for name, tpl in auth.cookies.items():
        dec.cookies[name] = tpl.render(ctx)
    for name, tpl in auth.query.items():
        dec.query[name] = tpl.render(ctx)
    return dec


@dataclass(frozen=True)
class TokenRequest:
    url: str
    data: dict[str, str]
    headers: dict[str, str]


def oauth2_token_request(auth: Auth, ctx: Mapping[str, Any]) -> TokenRequest:
    """The client-credentials token request (RFC 6749 §4.4)."""
    client_id, secret = _param(auth, "client_id", ctx), _param(auth, "client_secret", ctx)
    data = {"grant_type": "client_credentials"}
    headers = {"Accept": "application/json"}
    if auth.params.get("client_auth", "body") == "basic":
        pair = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
        headers["Authorization"] = f"Basic {pair}"
    else:
        data.update(client_id=client_id, client_secret=secret)
    for opt in ("scope", "resource"):
        if auth.params.get(opt):
            data[opt] = _param(auth, opt, ctx)
    data.update(render_value(dict(auth.params.get("extra") or {}), ctx))
    return TokenRequest(_param(auth, "token_url", ctx), data, headers)


def oauth2_read_token(auth: Auth, body: Any) -> tuple[str, float]:
    """Access token and lifetime (seconds) from a token response body."""
    token = compile_expression(auth.params.get("token_path", "access_token")).search(body)
    if not token:
        raise CredentialsError("token response holds no access token")
    expires = compile_expression(auth.params.get("expires_in_path", "expires_in")).search(body)
    try:
        lifetime = float(expires) if expires is not None else 3600.0
    except (TypeError, ValueError):
        lifetime = 3600.0
    return str(token), lifetime
