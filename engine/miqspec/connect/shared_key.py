"""Azure Storage Shared Key signing (Blob, Queue and File services, version 2009-09-19 and later).

Takes: the final request (method, URL with its query, headers as sent), the storage account
name, the account key (base64 text) and the ``x-ms-version`` to send. Gives: ``sign``, the
headers to add (``x-ms-date`` and ``x-ms-version`` when the request lacks them, and
``Authorization: SharedKey <account>:<signature>``); ``string_to_sign`` (Microsoft's
"Authorize with Shared Key" string) and ``decode_key`` (strict base64, else decoded leniently
as Ruby's ``Base64.decode64`` does, so recorded placeholder keys still sign).
Raises nothing. No I/O.
"""

from __future__ import annotations

import base64
import binascii
import email.utils
import hashlib
import hmac
from collections.abc import Mapping
from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlsplit

DEFAULT_VERSION = "2016-05-31"
SCHEME = "SharedKey"
# The standard headers of the string to sign, in order, after the verb.
STANDARD_HEADERS = (
    "content-encoding",
    "content-language",
    "content-length",
    "content-md5",
    "content-type",
    "date",
    "if-modified-since",
    "if-match",
    "if-none-match",
    "if-unmodified-since",
    "range",
)
_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def decode_key(text: str) -> bytes:
    """The key bytes: strict base64, or (not base64) what Ruby's ``Base64.decode64`` gives:
    characters outside the alphabet skipped, a ``=`` in the third or fourth place of a group
    ends the data, a trailing partial group gives the bytes it holds."""
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        pass
    out = bytearray()
    group: list[int] = []
    for char in text:
        value = _ALPHABET.find(char)
        if value < 0:
            if char == "=" and len(group) >= 2:
                break
            continue
        group.append(value)
        if len(group) == 4:
            a, b, c, d = group
            out += bytes(((a << 2 | b >> 4) & 0xFF, (b << 4 | c >> 2) & 0xFF, (c << 6 | d) & 0xFF))
            group = []
    if len(group) >= 2:
        out.append((group[0] << 2 | group[1] >> 4) & 0xFF)
    if len(group) == 3:
        out.append((group[1] << 4 | group[2] >> 2) & 0xFF)
    return bytes(out)


def canonicalized_resource(account: str, url: str) -> str:
    """``/<account><encoded path>``, then ``\\n<name>:<values>`` per query parameter: names
    lower-cased and sorted, values URL-decoded, sorted and comma-joined."""
    parts = urlsplit(url)
    resource = f"/{account}{parts.path or '/'}"
    params: dict[str, list[str]] = {}
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        params.setdefault(name.lower(), []).append(value)
    for name in sorted(params):
        resource += f"\n{name}:{','.join(sorted(params[name]))}"
    return resource


def canonicalized_headers(headers: Mapping[str, str]) -> str:
    """Every ``x-ms-*`` header as ``name:value\\n``: names lower-cased and sorted, values
    trimmed."""
    found = {k.lower(): str(v).strip() for k, v in headers.items() if k.lower().startswith("x-ms-")}
    return "".join(f"{name}:{found[name]}\n" for name in sorted(found))


def string_to_sign(method: str, url: str, headers: Mapping[str, str], account: str) -> str:
    """The Shared Key string to sign of a request (Content-Length empty when 0)."""
    lower = {k.lower(): str(v) for k, v in headers.items()}
    values = [lower.get(name, "") for name in STANDARD_HEADERS]
    if values[2] == "0":
        values[2] = ""
    return (
        "\n".join([method.upper(), *values])
        + "\n"
        + canonicalized_headers(headers)
        + canonicalized_resource(account, url)
    )


def signature(text: str, key: bytes) -> str:
    """base64(HMAC-SHA256(key, UTF-8 text))."""
    return base64.b64encode(hmac.new(key, text.encode("utf-8"), hashlib.sha256).digest()).decode()


def sign(
    method: str,
    url: str,
    headers: Mapping[str, str],
    account: str,
    key: str,
    *,
    version: str = DEFAULT_VERSION,
    now: datetime | None = None,
) -> dict[str, str]:
    """The headers to add to a request so that it is signed: ``x-ms-date`` (RFC 1123 GMT) and
    ``x-ms-version`` unless ``headers`` has them (any case), and ``Authorization``."""
    names = {k.lower() for k in headers}
    added: dict[str, str] = {}
    if "x-ms-date" not in names:
        added["x-ms-date"] = email.utils.format_datetime(now or datetime.now(UTC), usegmt=True)
    if "x-ms-version" not in names:
        added["x-ms-version"] = version
    text = string_to_sign(method, url, {**headers, **added}, account)
    added["Authorization"] = f"{SCHEME} {account}:{signature(text, decode_key(key))}"
    return added
