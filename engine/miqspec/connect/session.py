"""An authenticated provider session: URLs from services, login flows, OAuth2 tokens, re-login.

Takes: a ``Spec``, the nested argument hash ManageIQ's UI sends (``provider_region``,
``endpoints.<role>.*``, ``authentications.<type>.*``), already decrypted, and the provider row
when there is one (``$provider``: name, id, guid, top-level form values, spec facts).
Gives: ``ProviderSession.request(...)`` returning ``HttpResponse`` (decorated, and signed when
the auth kind signs, by the spec's auth or the call's own ``auth``); the secrets it knows (form
secrets, login values, values rendered from a call's own auth: for masking and cassette
filtering); ``close`` runs the ``auth.logout`` steps when a login ran (a failure kept as
``logout_error``), then closes the connections. Login steps read their answer as JSON, XML or
text (``connect.login``). Raises ``CredentialsError`` (401/403 from login or a request after
one re-login), ``UnreachableError``, ``ApiError``. Does network I/O through ``http``.
"""

from __future__ import annotations

import contextlib
import functools
import threading
import time
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urljoin

from miqspec.connect import auth as auth_mod
from miqspec.connect.cassettes import ReplayAdapter
from miqspec.connect.context import build_context, provider_facts, secret_values
from miqspec.connect.http import BadBody, HttpClient, HttpResponse
from miqspec.connect.login import read_extracts
from miqspec.connect.memo import RequestMemo, memo_key
from miqspec.connect.origins import Origin, OriginPattern, literal_origin, origin_of, show
from miqspec.errors import (
    ApiError,
    CredentialsError,
    MiqspecError,
    UnreachableError,
    mask_secrets,
)
from miqspec.spec import Auth, Body, LoginStep, Retry, Spec, render_value

__all__ = ["ProviderSession", "build_context", "provider_facts", "secret_values", "spec_origins"]


class ProviderSession:
    """Talks to one provider with its credentials; thread-safe for fan-out requests."""

    def __init__(
        self,
        spec: Spec,
        args: Mapping[str, Any],
        client: HttpClient | None = None,
        provider: Mapping[str, Any] | None = None,
    ) -> None:
        self.spec = spec
        self.ctx = build_context(spec, args, provider)
        self._secrets = secret_values(spec, args)
        self.client = client or HttpClient(pool_size=max(4, spec.connection.concurrency * 2))
        self.client.secrets = self.secrets
        self.client.trusts = self.trusts
        self.timeout = (spec.connection.connect_timeout, spec.connection.timeout)
        # every request of this session (one refresh or verify) ends by this instant
        self.refresh_deadline = time.monotonic() + spec.connection.refresh_deadline
        self._login_lock = threading.Lock()
        self._logged_in = False
        self._expires_at = float("inf")
        self._generation = 0
        self._pending_login: dict[str, Any] = {}
        self._call_secrets: set[str] = set()  # rendered from calls' own auth
        self.logout_error: str | None = None
        self._secrets_lock = threading.Lock()
        self.memo: RequestMemo | None = None  # set for a targeted refresh (connect.memo)
        # origins credentials may go to: the spec's own URLs (``origins``); see ``check_origin``
        self._trusted: set[Origin] = spec_origins(spec)
        self._allowed = tuple(OriginPattern(o) for o in spec.connection.allowed_origins)
        for service in spec.connection.services:  # bases that render before any login
            with contextlib.suppress(MiqspecError):
                self.base(service)

    def secrets(self) -> list[str]:
        values = [*self.ctx["login"].values(), *self._pending_login.values()]
        with self._secrets_lock:
            own = list(self._call_secrets)
        return [*self._secrets, *own, *(str(v) for v in values if isinstance(v, str | int))]

    def _keep_secrets(self, values: list[str]) -> None:
        """Remember secrets rendered from a call's own auth (masked in messages, in every
        spelling: ``errors.mask_secrets``); tell a recorder about new ones."""
        with self._secrets_lock:
            new = [v for v in values if v not in self._call_secrets]
            self._call_secrets.update(new)
        if new:
            self.client.keep_secrets(new)

    @property
    def replaying(self) -> bool:
        """Whether answers come from a recording (then polling does not wait)."""
        adapter = self.client.adapter
        return isinstance(adapter, ReplayAdapter) or isinstance(
            getattr(adapter, "inner", None), ReplayAdapter
        )

    def close(self) -> None:
        """Log out (``auth.logout``, if a login ran), then close the connections. A logout
        failure does not fail what ran: it is kept as ``logout_error`` (one line)."""
        try:
            self.logout()
        except MiqspecError as exc:
            self.logout_error = str(exc)
        finally:
            self.client.close()

    # -- URLs ------------------------------------------------------------------------------
    def base(self, service: str, ctx: Mapping[str, Any] | None = None) -> str:
        """The service's base URL rendered from the spec; its origin becomes trusted."""
        base = self.spec.connection.services[service].render(ctx or self.ctx)
        if not base:
            raise MiqspecError(f"service '{service}' has an empty base URL; set the endpoint")
        self._trusted.add(origin_of(base))
        return base

    def trusts(self, url: str) -> bool:
        """Whether credentials may go to ``url``: an origin of the spec's own URLs, or one its
        ``connection.allowed_origins`` allow."""
        try:
            origin = origin_of(url)
        except ApiError:
            return False
        return origin in self._trusted or any(p.matches(origin) for p in self._allowed)

    def deadline(self, read_timeout: float | None = None) -> float:
        """The instant a request sent now must end by: its own deadline (``deadline``, else
        connect + twice the read timeout), never past the session's ``refresh_deadline``."""
        now = time.monotonic()
        if now >= self.refresh_deadline:
            limit = self.spec.connection.refresh_deadline
            raise UnreachableError(f"the requests of this refresh ran past {limit:g} s in all")
        own = self.spec.connection.deadline
        if own is None:
            own = self.timeout[0] + 2 * (read_timeout or self.timeout[1])
        return min(now + own, self.refresh_deadline)

    def check_origin(self, url: str) -> None:
        """Refuse a URL off the trusted origins (one an API handed back), before sending."""
        if not self.trusts(url):
            origin = origin_of(url)
            trusted = ", ".join(
                [*sorted(show(o) for o in self._trusted), *(p.text for p in self._allowed)]
            )
            raise ApiError(
                f"refusing to send credentials to {show(origin)}: a URL from an API answer "
                f"leads off the provider's origins ({trusted}); list it in "
                "connection.allowed_origins if it belongs to the provider",
                secrets=self.secrets(),
            )

    def url(self, service: str, path: str, ctx: Mapping[str, Any] | None = None) -> str:
        if path.startswith(("http://", "https://")):
            return path
        base = self.base(service, ctx).rstrip("/")
        return base + "/" + path.lstrip("/") if path else base

    def join(self, service: str, link: str, ctx: Mapping[str, Any] | None = None) -> str:
        """``link`` resolved against the service base URL as RFC 3986 resolves a reference;
        the base counts as a directory: ``x/y`` lands under it, ``/x`` at the host root,
        ``//host/x`` on another host, ``https://...`` as given."""
        base = self.base(service, ctx)
        return urljoin(base if base.endswith("/") else base + "/", link) if link else base

    # -- login -----------------------------------------------------------------------------
    def ensure_login(self, *, force: bool = False, generation: int | None = None) -> None:
        """Run the login steps / fetch an OAuth2 token when needed.

        New login values are gathered aside and swapped in at the end, so requests running on
        other threads meanwhile keep rendering their templates with the old values.
        """
        with self._login_lock:
            if generation is not None and generation != self._generation:
                return  # another thread already logged in again
            if self._logged_in and not force and time.monotonic() < self._expires_at:
                return
            login: dict[str, Any] = {}
            self._pending_login = login
            try:
                ctx = {**self.ctx, "login": login}
                expires_at = float("inf")
                auth = self.spec.auth
                for step in auth.login:
                    self._run_login_step(step, ctx, login)
                if auth.type == "oauth2_client_credentials":
                    req = auth_mod.oauth2_token_request(auth, ctx)
                    resp = self.client.send(
                        "POST",
                        req.url,
                        retry=self.spec.connection.retry,
                        data=req.data,
                        headers=req.headers,
                        timeout=self.timeout,
                        deadline_for=self.deadline,
                        retry_statuses=True,
                    )
                    self._check_login_status(resp, "token request")
                    token, lifetime = auth_mod.oauth2_read_token(auth, resp.json())
                    login["access_token"] = token
                    # renew a little before expiry: 10% of the lifetime, at most 30 s
                    expires_at = time.monotonic() + lifetime - min(30.0, lifetime * 0.1)
                self.ctx["login"] = login
                self._expires_at = expires_at
            finally:
                self._pending_login = {}
            self._logged_in = True
            self._generation += 1

    def _run_login_step(
        self, step: LoginStep, ctx: Mapping[str, Any], login: dict[str, Any]
    ) -> None:
        resp = self._send_step(step, ctx, expect_json=False)
        self._check_login_status(resp, f"login step '{step.name}'")
        try:
            login.update(read_extracts(step, resp))
        except BadBody as exc:
            raise ApiError(
                f"login step '{step.name}' at {self.client.where(resp.url)}: {exc}",
                secrets=self.secrets(),
            ) from None

    def _send_step(
        self,
        step: LoginStep,
        ctx: Mapping[str, Any],
        *,
        expect_json: bool,
        decoration: auth_mod.Decoration | None = None,
        deadline_for: Any = None,
    ) -> HttpResponse:
        """Send one login or logout step (its own headers over ``decoration``'s)."""
        url = self.url(step.service, step.path.render(ctx), ctx)
        dec = decoration or auth_mod.Decoration()
        headers = {**dec.headers, **{k: t.render(ctx) for k, t in step.headers.items()}}
        params = {**dec.query, **render_value(dict(step.query), ctx)}
        json_body, data = _body(step.body, ctx)
        return self.client.send(
            step.method,
            url,
            retry=self.spec.connection.retry,
            params=params,
            headers=headers,
            cookies=dec.cookies or None,
            json_body=json_body,
            data=data,
            timeout=self.timeout,
            deadline_for=deadline_for or self.deadline,
            expect_json=expect_json,
        )

    def logout(self) -> None:
        """Run the ``auth.logout`` steps once, if a login ran: each with the auth's headers,
        cookies and query and the login results in its templates; no re-login. Every step is
        tried; the first failure is raised (``ApiError``, ``UnreachableError``). Each request
        has its own deadline (connect + twice the read timeout), past the refresh deadline
        too, so that a refresh that ran out of time still closes its session."""
        steps = self.spec.auth.logout
        if not steps or not self._logged_in or not self.ctx["login"]:
            return
        self._logged_in = False
        ctx = dict(self.ctx)
        dec = auth_mod.decorate(self.spec.auth, ctx)
        own = self.spec.connection.deadline or self.timeout[0] + 2 * self.timeout[1]
        failure: MiqspecError | None = None
        for step in steps:
            try:
                url = self.url(step.service, step.path.render(ctx), ctx)
                self.check_origin(url)
                resp = self._send_step(
                    step,
                    ctx,
                    expect_json=False,
                    decoration=dec,
                    deadline_for=lambda: time.monotonic() + own,
                )
                if not 200 <= resp.status < 300 and resp.status != 404:  # 404: gone already
                    raise ApiError(
                        f"at {self.client.where(resp.url)} answered {resp.status}",
                        secrets=self.secrets(),
                    )
            except MiqspecError as exc:
                if failure is None:
                    text = f"logout step '{step.name}': {exc}"
                    kind = UnreachableError if isinstance(exc, UnreachableError) else ApiError
                    failure = kind(mask_secrets(text, self.secrets()))
        if failure is not None:
            raise failure

    def _check_login_status(self, resp: HttpResponse, what: str) -> None:
        if resp.status in self.spec.invalid_statuses or (
            resp.status == 400 and self.spec.auth.type == "oauth2_client_credentials"
        ):
            raise CredentialsError(
                f"invalid credentials: {what} at "
                f"{self.client.where(resp.url)} answered {resp.status}",
                secrets=self.secrets(),
            )
        if not 200 <= resp.status < 300:
            raise ApiError(
                f"{what} at {self.client.where(resp.url)} answered {resp.status}",
                secrets=self.secrets(),
            )

    # -- requests --------------------------------------------------------------------------
    def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        body: Body | None = None,
        extra_ctx: Mapping[str, Any] | None = None,
        retry: Retry | None = None,
        timeout: float | None = None,
        expect_json: bool = True,
        expect_xml: Iterable[str] | None = None,
        auth: Auth | None = None,
    ) -> HttpResponse:
        """Send with auth decoration (and signing); on a 401 log in again once and resend.

        ``auth`` (a call's own) replaces the spec's auth for this request: its params render
        with the call's context, the spec's headers, cookies and query are not added, and a 401
        does not log in again.
        """
        self.check_origin(url)
        self.ensure_login()
        relogin = self.spec.auth.relogin_on
        for attempt in (1, 2):
            generation = self._generation
            ctx = {**self.ctx, **extra_ctx} if extra_ctx else self.ctx  # after a re-login too
            if auth is None:
                dec = auth_mod.decorate(self.spec.auth, self.ctx)
                sign = auth_mod.signer(self.spec.auth, self.ctx)
            else:
                self._keep_secrets(auth_mod.secrets_of(auth, ctx))
                dec = auth_mod.decorate(auth, ctx)
                sign = auth_mod.signer(auth, ctx)
            json_body, data = _body(body, ctx)
            read_timeout = timeout or self.timeout[1]
            send = functools.partial(
                self.client.send,
                method,
                url,
                retry=retry or self.spec.connection.retry,
                params={**dec.query, **(params or {})},
                headers={**dec.headers, **(headers or {})},
                cookies=dec.cookies or None,
                json_body=json_body,
                data=data,
                expect_json=expect_json,
                expect_xml=expect_xml,
                timeout=(self.timeout[0], read_timeout),
                sign=sign,
                deadline_for=functools.partial(self.deadline, read_timeout),
            )
            if self.memo is None or auth is not None or body is not None or method != "GET":
                resp = send()
            else:  # a targeted refresh: the same read once (connect.memo)
                key = memo_key(method, url, params, headers, expect_json, expect_xml)
                resp = self.memo.fetch(key, send, lambda r: r.status not in relogin)
            if (
                auth is None
                and resp.status in self.spec.auth.relogin_on
                and attempt == 1
                and (self.spec.auth.login or self.spec.auth.type == "oauth2_client_credentials")
            ):
                self.ensure_login(force=True, generation=generation)
                continue
            return resp
        return resp


def spec_origins(spec: Spec) -> set[Origin]:
    """Origins the spec names in plain text: absolute URLs at the start of call and login-step
    paths (service base URLs join as they are rendered; ``allowed_origins`` are patterns)."""
    found: set[Origin] = set()
    texts = [call.path.text for call in spec.calls.values()]
    texts += [step.path.text for step in spec.auth.login]
    for text in texts:
        origin = literal_origin(text)
        if origin is not None:
            found.add(origin)
    return found


def _body(body: Body | None, ctx: Mapping[str, Any]) -> tuple[Any, Any]:
    if body is None:
        return None, None
    value = render_value(body.value, ctx)
    if body.kind == "json":
        return value, None
    if body.kind == "form":
        return None, value
    return None, str(value).encode()


def absolute(base: str, link: str) -> str:
    return urljoin(base, link)
