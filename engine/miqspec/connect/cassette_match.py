"""The in-memory side of cassettes: interactions, request matching, secret substitution.

Takes: Ruby VCR ``http_interactions`` entries (as loaded from YAML), request method + URL,
secret maps (real value -> placeholder). Gives: ``Interaction`` and its VCR dict conversions;
``Matcher`` (which recording answers a request: at most once, first unused in file order; one-line
miss descriptions with a "closest unused" hint); ``uri_key`` (ManageIQ's VCR match rule: method +
URI, fragment stripped, scheme/host case-insensitive, default port dropped, query parameters as
a multiset in any order, named parameters ignored); ``Substitution`` (one-pass replacement in
text and bytes), ``scrub`` and ``find_credentials`` for recording (a Shared Key
``Authorization`` keeps its account and gets ``MIQSPEC_SHAREDKEY_SIGNATURE`` for its signature).
Raises ValueError for a malformed interaction (the caller names the file); does no I/O.
"""

from __future__ import annotations

import base64
import difflib
import json
import re
import threading
from collections import Counter, deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, urlsplit

Headers = dict[str, list[str]]
_TEXT_ENCODINGS = {"utf-8", "us-ascii", "ascii-8bit", "ascii", "binary"}
_UNPRINTABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufeff]")
_AUTH_HEADERS = ("authorization", "proxy-authorization")
# Azure Storage signatures (``SharedKey <account>:<signature>``) change with every request.
SIGNED_SCHEMES = ("sharedkey", "sharedkeylite")
SIGNATURE_PLACEHOLDER = "MIQSPEC_SHAREDKEY_SIGNATURE"


class Binary(bytes):
    """Bytes to be written as a ``!binary`` base64 scalar."""


@dataclass(frozen=True)
class Interaction:
    """One recorded request/response pair; bodies are the bytes as recorded."""

    method: str  # lower-case
    uri: str
    request_headers: Headers = field(default_factory=dict)
    request_body: bytes = b""
    status: int = 200
    reason: str = ""
    response_headers: Headers = field(default_factory=dict)
    response_body: bytes = b""
    recorded_at: str = ""
    http_version: str | None = None


def interaction_from_vcr(number: int, item: Any) -> Interaction:
    """The ``number``-th entry of ``http_interactions``; raises ValueError when malformed."""
    try:
        return _interaction(item)
    except KeyError as exc:
        raise ValueError(f"interaction {number} has no {exc.args[0]!r}") from None
    except (TypeError, ValueError, AttributeError) as exc:
        raise ValueError(f"interaction {number} is malformed ({exc})") from None


def _interaction(item: Mapping[str, Any]) -> Interaction:
    request, response = item["request"], item["response"]
    status = response.get("status") or {}
    version = response.get("http_version")
    return Interaction(
        method=str(request["method"]).lower(),
        uri=str(request["uri"]),
        request_headers=_parse_headers(request.get("headers")),
        request_body=_parse_body(request.get("body")),
        status=int(status["code"]),
        reason=str(status.get("message") or ""),
        response_headers=_parse_headers(response.get("headers")),
        response_body=_parse_body(response.get("body")),
        recorded_at=str(item.get("recorded_at") or ""),
        http_version=None if version is None else str(version),
    )


def _parse_headers(raw: Mapping[str, Any] | None) -> Headers:
    headers: Headers = {}
    for name, values in (raw or {}).items():
        items = values if isinstance(values, list) else [values]
        headers[str(name)] = ["" if v is None else str(v) for v in items]
    return headers


def _parse_body(raw: Mapping[str, Any] | None) -> bytes:
    value = (raw or {}).get("string")
    if value is None:
        return b""
    if isinstance(value, bytes):
        return value
    encoding = str((raw or {}).get("encoding") or "utf-8").lower()
    if encoding not in _TEXT_ENCODINGS:
        try:
            return str(value).encode(encoding)
        except (LookupError, UnicodeEncodeError):
            pass
    return str(value).encode("utf-8")


def _dump_body(data: bytes) -> dict[str, object]:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return {"encoding": "ASCII-8BIT", "string": Binary(data)}
    if _UNPRINTABLE.search(text):
        return {"encoding": "ASCII-8BIT", "string": Binary(data)}
    return {"encoding": "UTF-8", "string": text}


def interaction_to_vcr(i: Interaction) -> dict[str, object]:
    """``i`` as a Ruby VCR ``http_interactions`` entry (binary bodies as ``Binary``)."""
    return {
        "request": {
            "method": i.method,
            "uri": i.uri,
            "body": _dump_body(i.request_body),
            "headers": i.request_headers,
        },
        "response": {
            "status": {"code": i.status, "message": i.reason},
            "headers": i.response_headers,
            "body": _dump_body(i.response_body),
            "http_version": i.http_version,
        },
        "recorded_at": i.recorded_at,
    }


PathKey = tuple[str, str, str]  # scheme, host[:port], path
QueryKey = tuple[tuple[str, str], ...]

_DEFAULT_PORTS = {"http": 80, "https": 443}
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")
_WORD = re.compile(r"\w", re.ASCII)
MIN_SECRET_LENGTH = 3  # like errors.mask_secrets: shorter values are not substituted


def _normalize_path(path: str) -> str:
    """Decode escapes of unreserved characters and upper-case the others (RFC 3986 6.2.2)."""

    def fix(match: re.Match[str]) -> str:
        char = chr(int(match.group(1), 16))
        return char if char in _UNRESERVED else "%" + match.group(1).upper()

    return _ESCAPE.sub(fix, path) or "/"


def uri_key(uri: str, ignore_query_params: Iterable[str] = ()) -> tuple[PathKey, QueryKey]:
    """The comparable form of ``uri``: (scheme, host[:port], path) and the sorted query pairs."""
    parts = urlsplit(uri.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = host if port in (None, _DEFAULT_PORTS.get(scheme)) else f"{host}:{port}"
    ignored = set(ignore_query_params)
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    query = tuple(sorted((k, v) for k, v in pairs if k not in ignored))
    return (scheme, netloc, _normalize_path(parts.path)), query


def strip_fragment(uri: str) -> str:
    """``uri`` without its ``#fragment``."""
    return uri.split("#", 1)[0]


def _query_distance(a: QueryKey, b: QueryKey) -> int:
    diff = (Counter(a) - Counter(b)) + (Counter(b) - Counter(a))
    return sum(diff.values())


class Matcher:
    """Hands out recorded interactions by index: each at most once, first unused in file order.

    Thread-safe: the engine's bounded fan-out may call ``claim`` from several threads.
    """

    def __init__(
        self, recorded: Sequence[tuple[str, str]], ignore_query_params: Iterable[str] = ()
    ) -> None:
        self._ignore = tuple(ignore_query_params)
        self._recorded = [(m.lower(), uri) for m, uri in recorded]
        self._used = [False] * len(recorded)
        self._queues: dict[tuple[str, PathKey, QueryKey], deque[int]] = {}
        self._by_path: dict[tuple[str, PathKey], list[int]] = {}
        self._keys: list[tuple[PathKey, QueryKey]] = []
        self._lock = threading.Lock()
        for index, (method, uri) in enumerate(self._recorded):
            path, query = uri_key(strip_fragment(uri), self._ignore)
            self._keys.append((path, query))
            self._queues.setdefault((method, path, query), deque()).append(index)
            self._by_path.setdefault((method, path), []).append(index)

    @property
    def used_count(self) -> int:
        return sum(self._used)

    def unused(self) -> list[int]:
        """Indexes of the recordings not played yet, in file order."""
        return [i for i, used in enumerate(self._used) if not used]

    def claim(self, method: str, uri: str) -> int | None:
        """Mark and return the first unused recording matching ``method`` + ``uri``, or None."""
        path, query = uri_key(strip_fragment(uri), self._ignore)
        with self._lock:
            queue = self._queues.get((method.lower(), path, query))
            if not queue:
                return None
            index = queue.popleft()
            self._used[index] = True
            return index

    def describe_miss(self, method: str, uri: str) -> str:
        """One line saying why ``method`` + ``uri`` has no recording, with the closest unused."""
        method_l = method.lower()
        path, query = uri_key(strip_fragment(uri), self._ignore)
        same_path = self._by_path.get((method_l, path), [])
        unused = [i for i in same_path if not self._used[i]]
        played = len(same_path) - len(unused)
        counts = f"{len(unused)} unused recordings for this method and path"
        if played:
            counts += f", {played} already played"
        text = f"no recorded interaction for {method.upper()} {uri} ({counts})"
        closest = self._closest(method_l, path, query, unused, uri)
        return f"{text}; closest unused: {closest}" if closest else text

    def _closest(
        self, method: str, path: PathKey, query: QueryKey, unused_same_path: list[int], uri: str
    ) -> str | None:
        if unused_same_path:
            best = min(unused_same_path, key=lambda i: _query_distance(query, self._keys[i][1]))
            return self._recorded[best][1]
        candidates = [
            self._recorded[i][1]
            for i, (m, _) in enumerate(self._recorded)
            if m == method and not self._used[i] and self._keys[i][0][:2] == path[:2]
        ]
        found = difflib.get_close_matches(uri, candidates, n=1, cutoff=0.8)
        return found[0] if found else None


def _word_bounded(key: str) -> str:
    pattern = re.escape(key)
    if _WORD.match(key[0]):
        pattern = r"(?<![\w])" + pattern
    if _WORD.match(key[-1]):
        pattern += r"(?![\w])"
    return pattern


class Substitution:
    """Replaces every key of ``mapping`` by its value in one pass, longest key first.

    ``word_bounded``: a key that starts (ends) with a word character only matches where it is not
    preceded (followed) by one, so a placeholder ``secret`` leaves ``client_secret`` alone.
    """

    def __init__(self, mapping: Mapping[str, str], *, word_bounded: bool = False) -> None:
        self.mapping = {k: v for k, v in mapping.items() if k and k != v}
        keys = sorted(self.mapping, key=len, reverse=True)
        patterns = [_word_bounded(k) if word_bounded else re.escape(k) for k in keys]
        joined = "|".join(patterns)
        self._text = re.compile(joined, re.ASCII) if keys else None
        self._data = re.compile(joined.encode("utf-8"), re.ASCII) if keys else None
        self._data_map = {k.encode("utf-8"): v.encode("utf-8") for k, v in self.mapping.items()}

    def __bool__(self) -> bool:
        return bool(self.mapping)

    def text(self, value: str) -> str:
        if self._text is None:
            return value
        return self._text.sub(lambda m: self.mapping[m.group(0)], value)

    def data(self, value: bytes) -> bytes:
        if self._data is None:
            return value
        return self._data.sub(lambda m: self._data_map[m.group(0)], value)


def encoded_forms(secrets: Mapping[str, str]) -> dict[str, str]:
    """``secrets`` (real -> placeholder) plus their URL-, form- and JSON-escaped spellings."""
    forms: dict[str, str] = {}
    for real, placeholder in secrets.items():
        if len(real) < MIN_SECRET_LENGTH or real == placeholder:
            continue
        forms[real] = placeholder
        for encode in (lambda s: quote(s, safe=""), quote_plus, lambda s: json.dumps(s)[1:-1]):
            forms.setdefault(encode(real), encode(placeholder))
    return forms


def hiding(secrets: Mapping[str, str]) -> Substitution:
    """Real values (any spelling) -> placeholders."""
    return Substitution(encoded_forms(secrets))


def revealing(placeholders: Mapping[str, str]) -> Substitution:
    """Placeholders -> real values (word-bounded), from a real -> placeholder map."""
    inverse = {ph: real for real, ph in placeholders.items() if ph and real and real != ph}
    return Substitution(inverse, word_bounded=True)


def _scrub_authorization(value: str, hide: Substitution, secrets: Mapping[str, str]) -> str:
    scheme, _, credentials = value.partition(" ")
    if scheme.lower() in SIGNED_SCHEMES:
        account = credentials.strip().rpartition(":")[0]
        return f"{scheme} {hide.text(account)}:{SIGNATURE_PLACEHOLDER}"
    if scheme.lower() != "basic":
        return hide.text(value)
    try:
        user, sep, password = base64.b64decode(credentials.strip()).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return f"{scheme} {secrets.get(credentials.strip(), 'MIQSPEC_CREDENTIALS')}"
    pair = f"{secrets.get(user, user)}{sep}{secrets.get(password, password)}"
    return f"{scheme} {base64.b64encode(pair.encode()).decode()}"


def _scrub_headers(headers: Headers, hide: Substitution, secrets: Mapping[str, str]) -> Headers:
    scrubbed: Headers = {}
    for name, values in headers.items():
        if name.lower() in _AUTH_HEADERS:
            scrubbed[name] = [_scrub_authorization(v, hide, secrets) for v in values]
        else:
            scrubbed[name] = [hide.text(v) for v in values]
    return scrubbed


def _scrub_one(item: Interaction, hide: Substitution, secrets: Mapping[str, str]) -> Interaction:
    response_body = hide.data(item.response_body)
    response_headers = _scrub_headers(item.response_headers, hide, secrets)
    if response_body != item.response_body:
        for name in response_headers:
            if name.lower() == "content-length":
                response_headers[name] = [str(len(response_body))]
    return replace(
        item,
        uri=hide.text(item.uri),
        request_headers=_scrub_headers(item.request_headers, hide, secrets),
        request_body=hide.data(item.request_body),
        response_headers=response_headers,
        response_body=response_body,
    )


def scrub(items: Sequence[Interaction], secrets: Mapping[str, str]) -> list[Interaction]:
    """``items`` with every secret (real -> placeholder) replaced in URIs, headers and bodies;
    Basic credentials are re-encoded with the placeholders."""
    hide = hiding(secrets)
    return [_scrub_one(item, hide, secrets) for item in items]


def find_credentials(headers: Headers, known: set[str], numbered_from: int = 0) -> dict[str, str]:
    """Authorization credentials in ``headers`` that are not in ``known`` (secrets and
    placeholders), each with a new placeholder ``MIQSPEC_PASSWORD_n`` / ``MIQSPEC_TOKEN_n``."""
    found: dict[str, str] = {}
    for name, values in headers.items():
        if name.lower() not in _AUTH_HEADERS:
            continue
        for value in values:
            scheme, sep, credentials = value.strip().partition(" ")
            if not sep:  # a bare token without an auth scheme
                scheme, credentials = "", scheme
            if scheme.lower() in SIGNED_SCHEMES:
                continue  # a per-request signature: scrubbing replaces it
            secret, kind = credentials.strip(), "TOKEN"
            if scheme.lower() == "basic":
                try:
                    secret = base64.b64decode(secret).decode().partition(":")[2]
                    kind = "PASSWORD"
                except (ValueError, UnicodeDecodeError):
                    pass
            if secret and secret not in known and secret not in found:
                found[secret] = f"MIQSPEC_{kind}_{numbered_from + len(found) + 1}"
    return found
