"""The only user of ``requests``: sessions, timeouts, retries with backoff, error classification.

Takes: request parts (method, URL, params, headers, body), a retry policy and optionally a
signer that sees each request as it will be sent (method, final URL, headers) and gives headers
to set; values a recording transport must not write (``HttpClient.keep_secrets``).
Gives: ``HttpResponse`` (status, headers, body bytes; on demand the body decoded as JSON, see
``json_body``, or as XML data, see ``xml_data``, and the header map with lower-cased names).
Raises: ``UnreachableError`` (connection refused, DNS, TLS, timeout, dropped connection after
retries), ``ApiError`` (HTTP errors that retries did not cure, undecodable JSON; ``BadBody``
from ``HttpResponse.xml`` for a body that is not XML). Secrets are
masked in every message. Does network I/O (or replays through a mounted cassette adapter).
Logs each request at DEBUG on the ``miqspec.http`` logger: method, URL (secrets masked), status,
time and body size.
"""

from __future__ import annotations

import datetime
import email.utils
import json
import logging
import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
import requests.adapters
import tenacity
import urllib3

from miqspec.connect.body import MAX_BODY, BodyTooLarge, read_body
from miqspec.connect.json_body import decode as decode_json
from miqspec.connect.origins import origin_of
from miqspec.connect.xml_data import XmlError, parse_xml
from miqspec.errors import ApiError, MiqspecError, UnreachableError, mask_secrets
from miqspec.spec import Retry


@dataclass
class HttpResponse:
    status: int
    headers: Mapping[str, str]
    body: bytes
    url: str
    cookies: Mapping[str, str] = field(default_factory=dict)
    _json: Any = None
    _decoded: bool = False
    _xml: tuple[tuple[str, ...], Any] | None = None  # (force_list, data) of the last parse

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        if not self._decoded:
            try:
                self._json = decode_json(self.body) if self.body.strip() else None
            except json.JSONDecodeError as exc:
                raise BadBody(f"response is not valid JSON ({exc.msg} at byte {exc.pos})") from None
            except ValueError:
                raise BadBody("response is not valid JSON (undecodable bytes)") from None
            except RecursionError:
                raise BadBody("response is not valid JSON (nested too deeply)") from None
            self._decoded = True
        return self._json

    def xml(self, force_list: Iterable[str] = ()) -> Any:
        """The body as XML data (``xml_data.parse_xml``; parsed once per ``force_list``);
        ``BadBody`` if it is not XML."""
        names = tuple(force_list)
        if self._xml is not None and self._xml[0] == names:
            return self._xml[1]
        try:
            data = parse_xml(self.body, names)
        except XmlError as exc:
            raise BadBody(f"response is not valid XML ({exc})") from None
        self._xml = (names, data)
        return data

    def header_map(self) -> dict[str, str]:
        """The response headers, names lower-cased, values as strings."""
        return {name.lower(): str(value) for name, value in self.headers.items()}


class BadBody(ApiError):
    """A response body that could not be decoded (retried as transient)."""


class RetryableStatus(ApiError):
    def __init__(self, message: str, status: int, retry_after: float | None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


LOG = logging.getLogger("miqspec.http")


def safe_url(url: str, secrets: Iterable[str | None] = ()) -> str:
    """The URL without userinfo and fragment, with secret values masked."""
    parts = urlsplit(url)
    netloc = parts.netloc.rpartition("@")[2]  # keeps IPv6 brackets and the port as written
    return mask_secrets(urlunsplit((parts.scheme, netloc, parts.path, parts.query, "")), secrets)


def retry_after_seconds(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta seconds or an HTTP date); None if unusable."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:  # "-0000" dates: RFC 5322 says UTC
            when = when.replace(tzinfo=datetime.UTC)
        return max(0.0, when.timestamp() - time.time())
    return max(0.0, seconds) if math.isfinite(seconds) else None


# (method, final URL with its query, headers as they will be sent) -> headers to set.
Signer = Callable[[str, str, Mapping[str, str]], Mapping[str, str]]


#: headers a redirect to an untrusted origin keeps; every other one (auth, API keys, cookies,
#: signatures, anything a spec added) is dropped
REDIRECT_SAFE_HEADERS = frozenset(
    {"user-agent", "accept", "accept-encoding", "connection", "content-type", "content-length"}
)


def same_origin(a: str, b: str) -> bool:
    try:
        return origin_of(a) == origin_of(b)
    except ApiError:
        return False


class _Session(requests.Session):
    """requests' session, but a redirect to an origin the client does not trust carries no
    credential at all (requests itself strips only ``Authorization``)."""

    def __init__(self, trusts: Callable[[str], bool]) -> None:
        super().__init__()
        self.trusts = trusts

    def rebuild_auth(
        self, prepared_request: requests.PreparedRequest, response: requests.Response
    ) -> None:
        new = prepared_request.url or ""
        old = response.request.url or ""
        if same_origin(old, new) or self.trusts(new):
            return
        for name in list(prepared_request.headers):
            if name.lower() not in REDIRECT_SAFE_HEADERS:
                del prepared_request.headers[name]


class HttpClient:
    """A pooled session with per-request timeouts and retry policy.

    ``trusts(url)`` says whether credentials may follow a redirect to ``url`` (default: only
    to the same origin); a ``ProviderSession`` sets it to its own origin rule."""

    def __init__(
        self,
        *,
        verify: bool | str = True,
        pool_size: int = 8,
        secrets: Callable[[], Iterable[str | None]] = lambda: (),
        adapter: requests.adapters.BaseAdapter | None = None,
        sleep: Callable[[float], None] = time.sleep,
        max_body: int = MAX_BODY,
    ) -> None:
        self.trusts: Callable[[str], bool] = lambda url: False
        self.session = _Session(lambda url: self.trusts(url))
        self.session.verify = verify
        self.session.trust_env = False
        self.adapter = adapter or requests.adapters.HTTPAdapter(
            pool_connections=pool_size, pool_maxsize=pool_size, max_retries=0
        )
        self.session.mount("http://", self.adapter)
        self.session.mount("https://", self.adapter)
        self.secrets = secrets
        self.sleep = sleep
        self.max_body = max_body
        self.lock = threading.Lock()
        self.requests_made = 0

    def close(self) -> None:
        self.session.close()

    def send_once(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        json_body: Any = None,
        data: Any = None,
        cookies: Mapping[str, str] | None = None,
        timeout: tuple[float, float] = (10.0, 60.0),
        sign: Signer | None = None,
        deadline: float | None = None,
    ) -> HttpResponse:
        """One request, no retries; connection problems become ``UnreachableError``.

        ``sign`` gets the prepared request (method, URL with its query, headers as they will be
        sent) and gives headers to set on it, e.g. a signature over them. ``deadline`` (a
        ``time.monotonic()`` instant; default: connect + twice the read timeout from now) bounds
        the whole request, body included: a body dripped slowly is cut off there.
        """
        if deadline is None:
            deadline = time.monotonic() + timeout[0] + 2 * timeout[1]
        with self.lock:
            self.requests_made += 1
        started = time.monotonic()
        try:
            prepared = self.session.prepare_request(
                requests.Request(
                    method,
                    url,
                    params=params,
                    headers=headers,
                    json=json_body,
                    data=data,
                    cookies=dict(cookies) if cookies else None,
                )
            )
            if sign is not None:
                prepared.headers.update(
                    sign(prepared.method or method, prepared.url or url, dict(prepared.headers))
                )
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise requests.exceptions.Timeout()
            limits = (min(timeout[0], remaining), min(timeout[1], remaining))
            resp = self.session.send(prepared, timeout=limits, allow_redirects=True, stream=True)
            try:
                body = read_body(resp, deadline, timeout[1], self.max_body)
            except BodyTooLarge:
                raise ApiError(
                    f"{self.where(url)} answered more than {self.max_body:,} bytes "
                    "(the limit of one response body)"
                ) from None
            finally:
                resp.close()
        except MiqspecError:
            raise
        except requests.exceptions.SSLError:
            raise UnreachableError(f"TLS error talking to {self.where(url)}") from None
        except requests.exceptions.Timeout:
            raise UnreachableError(f"timed out talking to {self.where(url)}") from None
        except (
            requests.exceptions.ConnectionError,
            requests.exceptions.ChunkedEncodingError,
        ) as exc:
            reason = _connection_reason(exc)
            if reason == "timed out":  # a read timeout while the body was streaming in
                raise UnreachableError(f"timed out talking to {self.where(url)}") from None
            raise UnreachableError(f"cannot reach {self.where(url)}: {reason}") from None
        except requests.exceptions.RequestException as exc:
            raise ApiError(f"request to {self.where(url)} failed: {type(exc).__name__}") from None
        except UnicodeEncodeError:  # a header from a template, or a token the API sent
            raise ApiError(
                f"request to {self.where(url)} not sent: a header value is not Latin-1 text"
            ) from None
        except urllib3.exceptions.ReadTimeoutError:
            raise UnreachableError(f"timed out talking to {self.where(url)}") from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            reason = _connection_reason(exc)
            raise UnreachableError(f"cannot reach {self.where(url)}: {reason}") from None
        if LOG.isEnabledFor(logging.DEBUG):
            where, took = self.where(prepared.url or url), time.monotonic() - started
            LOG.debug(
                "%s %s %d %.3fs %d bytes",
                prepared.method or method,
                where,
                resp.status_code,
                took,
                len(body),
                extra={
                    "method": prepared.method or method,
                    "url": where,
                    "status": resp.status_code,
                    "seconds": round(took, 3),
                    "bytes": len(body),
                },
            )
        return HttpResponse(
            resp.status_code, resp.headers, body, resp.url, cookies=resp.cookies.get_dict()
        )

    def where(self, url: str) -> str:
        return safe_url(url, self.secrets())

    def keep_secrets(self, values: Iterable[str]) -> None:
        """Tell the transport adapter about values it must not write: a recording adapter
        (one with ``add_secrets``) replaces them with placeholders."""
        add = getattr(self.adapter, "add_secrets", None)
        if callable(add):
            add(list(values))

    def send(
        self,
        method: str,
        url: str,
        *,
        retry: Retry,
        expect_json: bool = True,
        expect_xml: Iterable[str] | None = None,
        retry_statuses: bool = True,
        deadline_for: Callable[[], float] | None = None,
        **kwargs: Any,
    ) -> HttpResponse:
        """A request with retries on connection errors, ``retry.on`` statuses and bad bodies
        (JSON with ``expect_json``; XML with ``expect_xml``, the names to force into lists).

        Waits honour ``Retry-After``; otherwise exponential backoff capped at
        ``retry.max_backoff``. Non-retryable statuses are returned to the caller.
        ``deadline_for()`` gives each attempt's deadline (see ``send_once``).
        """

        def attempt() -> HttpResponse:
            if deadline_for is not None:  # each attempt its own deadline (within the session's)
                kwargs["deadline"] = deadline_for()
            resp = self.send_once(method, url, **kwargs)
            if retry_statuses and resp.status in retry.on:
                raise RetryableStatus(
                    f"{method} {self.where(url)} answered {resp.status} after "
                    f"{retry.attempts} attempt(s)",
                    resp.status,
                    retry_after_seconds(resp.headers.get("Retry-After")),
                )
            if expect_json and 200 <= resp.status < 300:
                resp.json()
            if expect_xml is not None and 200 <= resp.status < 300:
                resp.xml(expect_xml)
            return resp

        def wait(state: tenacity.RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            if isinstance(exc, RetryableStatus) and exc.retry_after is not None:
                return min(exc.retry_after, retry.max_backoff)
            return float(min(retry.backoff * (2 ** (state.attempt_number - 1)), retry.max_backoff))

        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(max(1, retry.attempts)),
            wait=wait,
            retry=tenacity.retry_if_exception_type((UnreachableError, RetryableStatus, BadBody)),
            sleep=self.sleep,
            reraise=True,
        )
        try:
            return retrying(attempt)
        except BadBody as exc:
            raise ApiError(f"{method} {self.where(url)}: {exc}") from None


def _connection_reason(exc: BaseException) -> str:
    text = str(exc)
    for needle, reason in (
        ("Name or service not known", "unknown host"),
        ("nodename nor servname", "unknown host"),
        ("Temporary failure in name resolution", "unknown host"),
        ("Failed to resolve", "unknown host"),
        ("Connection refused", "connection refused"),
        ("RemoteDisconnected", "connection closed without a response"),
        ("Connection aborted", "connection dropped"),
        ("Connection reset", "connection reset"),
        ("IncompleteRead", "response cut short"),
        ("timed out", "timed out"),
    ):
        if needle in text:
            return reason
    return "connection error"
