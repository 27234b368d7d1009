"""The typed model of a spec's connection, auth and calls: how requests are made.

Takes: nothing at import; its values are built by ``build.build_spec``.
Gives: the frozen dataclasses ``Connection`` (services, TLS, timeouts, deadlines, retries),
``Auth`` with its ``LoginStep``s and ``Extract``s, ``Call`` with its ``Paginate``, ``ForEach``,
``Poll``, ``Fallback``, ``ItemFallback``, ``Embed`` and ``Body``, and ``LOGIN_KINDS``.
Raises nothing; no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from miqspec.errors import Location
from miqspec.spec.expressions import Expression
from miqspec.spec.templating import Template


@dataclass(frozen=True)
class Retry:
    attempts: int = 4
    on: tuple[int, ...] = (429, 500, 502, 503, 504)
    backoff: float = 0.5
    max_backoff: float = 30.0


@dataclass(frozen=True)
class Connection:
    services: Mapping[str, Template]
    verify_ssl: bool | Template
    ca_file: str | None
    timeout: float
    connect_timeout: float
    concurrency: int
    max_pages: int
    retry: Retry
    # origins (scheme://host[:port], scheme://*.domain) URLs from API answers may lead to
    allowed_origins: tuple[str, ...] = ()
    deadline: float | None = None  # one request in all; None: connect_timeout + 2 x timeout
    refresh_deadline: float = 3600.0  # every request of one refresh or verify


@dataclass(frozen=True)
class Body:
    kind: str  # json | form | text
    value: Any


@dataclass(frozen=True)
class Extract:
    var: str
    kind: str  # body | header | cookie
    source: str
    expression: Expression | None


@dataclass(frozen=True)
class LoginStep:
    name: str
    service: str
    method: str
    path: Template
    query: Mapping[str, Any]
    headers: Mapping[str, Template]
    body: Body | None
    extract: tuple[Extract, ...]
    format: str = "json"  # json | xml | text: how ``extract: {body: ...}`` reads the answer
    xml_force_list: tuple[str, ...] = ()


# Kinds a call's own ``auth`` may not use: they log in, which only the spec's auth does.
LOGIN_KINDS = frozenset({"login", "oauth2_client_credentials"})


@dataclass(frozen=True)
class Auth:
    type: str
    params: Mapping[str, Any]
    headers: Mapping[str, Template]
    cookies: Mapping[str, Template]
    query: Mapping[str, Template]
    login: tuple[LoginStep, ...]
    relogin_on: tuple[int, ...]
    logout: tuple[LoginStep, ...] = ()  # closing steps (no extract), run when a session ends


@dataclass(frozen=True)
class Paginate:
    type: str
    params: Mapping[str, Any]
    expressions: Mapping[str, Expression]
    max_pages: int


@dataclass(frozen=True)
class ForEach:
    """``for_each``: the call runs once per record of ``call`` or, with ``each`` levels, once
    per nested item of each record (``where`` filters the items the call runs for)."""

    call: str
    where: Expression | None
    concurrency: int | None
    each: tuple[Expression, ...] = ()


@dataclass(frozen=True)
class Poll:
    """``poll``: the call's request is sent again until ``until`` holds on the answer's body,
    waiting ``interval`` seconds (times ``backoff`` after each wait, at most ``max_interval``),
    for at most ``deadline`` seconds."""

    until: Expression
    interval: float = 1.0
    backoff: float = 1.0
    max_interval: float = 60.0
    deadline: float = 300.0


@dataclass(frozen=True)
class Fallback:
    call: str
    on: tuple[int, ...]


@dataclass(frozen=True)
class Embed:
    """``embed: {as, first}``: a fan-out call's records set as a field of each parent record."""

    field: str
    first: bool


@dataclass(frozen=True)
class Call:
    name: str
    service: str
    method: str
    path: Template
    query: Mapping[str, Any]
    headers: Mapping[str, Template]
    body: Body | None
    format: str  # json | text | xml | headers (the record is the header map)
    records: Expression | None
    paginate: Paginate
    for_each: ForEach | None
    skip_on: tuple[int, ...]
    fallback: Fallback | None
    retry: Retry
    when: Template | None
    timeout: float
    location: Location
    where: Expression | None = None  # call-level record filter (every reader sees the rest)
    embed: Embed | None = None
    url_join: bool = False  # ``url:`` (RFC 3986 join with the base) instead of ``path:``
    auth: Auth | None = None  # the call's own auth, replacing the spec's for its requests
    xml_force_list: tuple[str, ...] = ()  # ``format: xml``: element names that are always lists
    item_fallback: ItemFallback | None = None  # per item of a fan-out: another endpoint
    poll: Poll | None = None


@dataclass(frozen=True)
class ItemFallback:
    """``item_fallback``: a fan-out item whose request answers one of ``on`` is fetched once
    more, for that item only, by ``call`` (the same call with another path, service, ...)."""

    call: Call
    on: tuple[int, ...]
