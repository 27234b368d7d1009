"""Sending one request of an operation or of provisioning through the provider's session.

Takes: the provider's ``ProviderSession``, an ``OpRequest``, the template variables it adds
(``target``: the stored row; provisioning: ``options`` and ``task``), the statuses that are
answers rather than failures (``done_on`` of a wait) and a label naming the request in
messages (``operations.vms.start``).
Gives: ``send`` -> ``Answer`` (status, decoded JSON body or None, the URL without its query).
Every request has the session's deadline and bounded read (``connect.http``); credentials
go only to the spec's origins (the session checks each URL).
Raises: ``CredentialsError`` (the spec's invalid statuses), ``ApiError`` (any other non-2xx
status not in ``answers``, naming the request, the status and the API's own error text, at
most 300 characters; an undecodable body), ``UnreachableError``, ``MappingError`` (a
template failing). Does network I/O through the session.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from miqspec.connect import BadBody, ProviderSession
from miqspec.errors import ApiError, CredentialsError
from miqspec.spec import OpRequest, render_value

ERROR_TEXT_MAX = 300


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any
    url: str


def api_message(body: Any) -> str:
    """The API's own words for a failure (``error``, ``message``, ``error.message``)."""
    if isinstance(body, dict):
        for key in ("error", "message", "detail"):
            value = body.get(key)
            if isinstance(value, dict):
                value = value.get("message") or value.get("code")
            if isinstance(value, str) and value.strip():
                return " ".join(value.split())[:ERROR_TEXT_MAX]
    return ""


def send(
    session: ProviderSession,
    request: OpRequest,
    extra: Mapping[str, Any],
    label: str,
    answers: Iterable[int] = (),
) -> Answer:
    """Send ``request`` once (its ``retry`` applies) and give the answer (module doc)."""
    session.ensure_login()
    ctx = {**session.ctx, **extra}
    target = request.path.render(ctx)
    url = (
        session.join(request.service, target, ctx)
        if request.url_join
        else session.url(request.service, target, ctx)
    )
    params = {k: v for k, v in render_value(dict(request.query), ctx).items() if v is not None}
    headers = {k: t.render(ctx) for k, t in request.headers.items()}
    resp = session.request(
        request.method,
        url,
        params=params,
        headers=headers,
        body=request.body,
        extra_ctx=dict(extra),
        retry=request.retry,
        timeout=request.timeout,
    )
    where = f"{label}: {request.method} {session.client.where(resp.url)}"
    secrets = session.secrets()
    if resp.status in session.spec.invalid_statuses:
        raise CredentialsError(
            f"invalid credentials: {where} answered {resp.status}", secrets=secrets
        )
    try:
        body = resp.json() if resp.body.strip() else None
    except BadBody as exc:
        if 200 <= resp.status < 300:
            raise ApiError(f"{where}: {exc}", secrets=secrets) from None
        body = None
    if resp.status in set(answers):
        return Answer(resp.status, body, url)
    if not 200 <= resp.status < 300:
        said = api_message(body)
        err = ApiError(
            f"{where} answered {resp.status}" + (f": {said}" if said else ""), secrets=secrets
        )
        err.status = resp.status  # type: ignore[attr-defined]
        raise err
    return Answer(resp.status, body, url)
