"""Azure Shared Key signing: Microsoft's documented examples, hand-built requests, key decoding,
and a real server on 127.0.0.1 that recomputes each signature from what it received."""

from __future__ import annotations

import base64
import email.utils
import hashlib
import hmac
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlsplit

import pytest

from miqspec.connect.http import HttpClient
from miqspec.connect.shared_key import (
    DEFAULT_VERSION,
    canonicalized_resource,
    decode_key,
    sign,
    string_to_sign,
)
from miqspec.spec.model_calls import Retry

from .test_http import Answer, ScriptServer, Seen

# Azurite's published development key: any valid base64 key serves.
KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
ACCOUNT = "myaccount"
STANDARD = (
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


def hmac_b64(key: bytes, text: str) -> str:
    return base64.b64encode(hmac.new(key, text.encode(), hashlib.sha256).digest()).decode()


# -- Microsoft's "Authorize with Shared Key" examples ------------------------------------------


def test_the_documented_get_container_metadata_string_to_sign():
    # The document's example request and its string to sign, written out field by field.
    url = "https://myaccount.blob.core.windows.net/mycontainer?restype=container&comp=metadata&timeout=20"
    headers = {"x-ms-date": "Fri, 26 Jun 2015 23:39:12 GMT", "x-ms-version": "2015-02-21"}
    documented = (
        "GET\n"  # verb
        + "\n" * 11  # the eleven standard headers, all empty
        + "x-ms-date:Fri, 26 Jun 2015 23:39:12 GMT\nx-ms-version:2015-02-21\n"
        + "/myaccount/mycontainer\ncomp:metadata\nrestype:container\ntimeout:20"
    )
    assert string_to_sign("GET", url, headers, ACCOUNT) == documented
    added = sign("GET", url, headers, ACCOUNT, KEY)
    expected = f"SharedKey {ACCOUNT}:{hmac_b64(base64.b64decode(KEY), documented)}"
    assert added == {"Authorization": expected}  # date and version were given: not added


@pytest.mark.parametrize(
    ("url", "documented"),
    [
        (
            "https://myaccount.blob.core.windows.net/mycontainer?restype=container&comp=metadata",
            "/myaccount/mycontainer\ncomp:metadata\nrestype:container",
        ),
        (
            "https://myaccount.blob.core.windows.net/mycontainer?restype=container&comp=list"
            "&include=snapshots&include=metadata&include=uncommittedblobs",
            "/myaccount/mycontainer\ncomp:list\ninclude:metadata,snapshots,uncommittedblobs"
            "\nrestype:container",
        ),
        (
            "https://myaccount-secondary.blob.core.windows.net/mycontainer/myblob",
            "/myaccount/mycontainer/myblob",
        ),
    ],
    ids=["get-container-metadata", "list-blobs-repeated-include", "secondary-location"],
)
def test_the_documented_canonicalized_resources(url, documented):
    assert canonicalized_resource(ACCOUNT, url) == documented


def test_query_names_are_lower_cased_and_values_url_decoded():
    url = "https://a.blob.core.windows.net/c%20d?Comp=list&prefix=a%2Fb&marker="
    assert canonicalized_resource("a", url) == "/a/c%20d\ncomp:list\nmarker:\nprefix:a/b"


# -- hand-built requests -----------------------------------------------------------------------


def test_standard_headers_in_order_and_content_length_zero_is_empty():
    headers = {
        "Content-Type": "application/xml",
        "Content-Length": "0",
        "Range": "bytes=0-9",
        "If-Match": '"etag"',
        "Content-MD5": "md5==",
        "X-MS-Meta-B": "  two ",
        "x-ms-meta-a": "one",
        "x-ms-date": "d",
    }
    text = string_to_sign("put", "https://acct.blob.core.windows.net/c/b", headers, "acct")
    lines = text.split("\n")
    lower = {k.lower(): v for k, v in headers.items()}
    expected_std = ["" if n == "content-length" else lower.get(n, "") for n in STANDARD]
    assert lines[0] == "PUT"
    assert lines[1:12] == expected_std
    assert lines[12:15] == ["x-ms-date:d", "x-ms-meta-a:one", "x-ms-meta-b:two"]
    assert lines[15] == "/acct/c/b"
    with_length = string_to_sign("PUT", "https://h/c", {"Content-Length": "12"}, "acct")
    assert with_length.split("\n")[3] == "12"


def test_sign_adds_date_and_version_unless_the_request_has_them():
    now = datetime(2018, 11, 6, 15, 53, 1, tzinfo=UTC)
    added = sign("GET", "https://acct.blob.core.windows.net/?comp=list", {}, "acct", KEY, now=now)
    assert added["x-ms-date"] == email.utils.format_datetime(now, usegmt=True)
    assert added["x-ms-date"] == "Tue, 06 Nov 2018 15:53:01 GMT"
    assert added["x-ms-version"] == DEFAULT_VERSION
    text = string_to_sign("GET", "https://acct.blob.core.windows.net/?comp=list", added, "acct")
    assert added["Authorization"] == f"SharedKey acct:{hmac_b64(base64.b64decode(KEY), text)}"
    own = {"X-Ms-Date": "Mon, 01 Jan 2018 00:00:00 GMT", "X-MS-VERSION": "2020-10-02"}
    again = sign("GET", "https://acct.blob.core.windows.net/", own, "acct", KEY, version="x")
    assert set(again) == {"Authorization"}
    assert "x-ms-version:2020-10-02\n" in string_to_sign("GET", "https://h/", own, "acct")


def test_the_date_is_rfc_1123_gmt_and_now():
    added = sign("GET", "https://acct.blob.core.windows.net/", {}, "acct", KEY)
    when = email.utils.parsedate_to_datetime(added["x-ms-date"])
    assert added["x-ms-date"].endswith(" GMT")
    assert abs(when.timestamp() - time.time()) < 5


# -- key decoding ------------------------------------------------------------------------------


def test_a_base64_key_decodes_strictly():
    assert decode_key(KEY) == base64.b64decode(KEY, validate=True)


@pytest.mark.parametrize(
    ("text", "same_as"),
    [
        # Ruby's Base64.decode64 skips characters outside the alphabet ...
        ("AZURE_STORAGE_KEY1", "AZURESTORAGEKEY1"),
        ("AZURE_STORAGE_KEY2", "AZURESTORAGEKEY2"),
        ("MIQSPEC_SECRET_1", "MIQSPECSECRET1=="),
        # ... decodes a trailing partial group ...
        ("abc", "abc="),
        ("abcde", "abcd"),
        # ... and stops at padding in the third or fourth place of a group
        ("ab=cdef", "ab=="),
        ("abc=defg", "abc="),
        ("", ""),
    ],
)
def test_a_key_that_is_not_base64_decodes_like_ruby(text, same_as):
    assert decode_key(text) == base64.b64decode(same_as)


def test_a_placeholder_key_still_signs():
    added = sign("GET", "https://a.blob.core.windows.net/", {}, "a", "AZURE_STORAGE_KEY1")
    text = string_to_sign("GET", "https://a.blob.core.windows.net/", added, "a")
    expected = hmac_b64(base64.b64decode("AZURESTORAGEKEY1"), text)
    assert added["Authorization"] == f"SharedKey a:{expected}"


# -- a real server recomputes the signature from what it received ------------------------------


def verify_received(req: Seen, account: str, key: str) -> str | None:
    """Why the request's Shared Key signature is wrong (None when it is right), recomputed
    from the method, path, query and headers this server received."""
    headers = {k.lower(): v for k, v in req.headers.items()}
    auth = headers.get("authorization", "")
    if not auth.startswith(f"SharedKey {account}:"):
        return f"no SharedKey authorization: {auth!r}"
    if "x-ms-version" not in headers:
        return "no x-ms-version"
    sent = email.utils.parsedate_to_datetime(headers.get("x-ms-date", ""))
    if abs(sent.timestamp() - time.time()) > 900:
        return "x-ms-date is not now"
    standard = [headers.get(name, "") for name in STANDARD]
    if standard[2] == "0":
        standard[2] = ""
    ms = sorted((k, v.strip()) for k, v in headers.items() if k.startswith("x-ms-"))
    parts = urlsplit(req.path)
    grouped: dict[str, list[str]] = {}
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        grouped.setdefault(name.lower(), []).append(value)
    resource = f"/{account}{parts.path}" + "".join(
        f"\n{name}:{','.join(sorted(grouped[name]))}" for name in sorted(grouped)
    )
    text = (
        req.method
        + "\n"
        + "\n".join(standard)
        + "\n"
        + "".join(f"{k}:{v}\n" for k, v in ms)
        + resource
    )
    wanted = hmac_b64(base64.b64decode(key), text)
    got = auth.split(":", 1)[1]
    return None if hmac.compare_digest(got, wanted) else f"bad signature for {text!r}"


def signing_server(account: str, key: str) -> ScriptServer:
    def script(req: Seen, n: int) -> Answer:
        problem = verify_received(req, account, key)
        return Answer(403, {"error": problem}) if problem else Answer(200, {"ok": True})

    return ScriptServer(script)


@pytest.mark.parametrize(
    ("method", "params", "kwargs"),
    [
        ("GET", {"comp": "list", "include": ["snapshots", "metadata"], "prefix": "a b/c"}, {}),
        ("PUT", {"restype": "container"}, {}),  # no body: Content-Length 0
        ("PUT", {"comp": "metadata"}, {"json_body": {"name": "é"}}),  # length and type signed
        ("DELETE", {}, {"headers": {"x-ms-meta-Note": "two  spaces ", "If-Match": '"1"'}}),
    ],
    ids=["get-query", "put-empty", "put-json", "delete-headers"],
)
def test_the_server_accepts_what_the_client_signed(method, params, kwargs):
    with signing_server("acct", KEY) as srv:
        client = HttpClient()

        def signer(m: str, url: str, headers: Mapping[str, str]) -> dict[str, str]:
            return sign(m, url, headers, "acct", KEY)

        try:
            resp = client.send(
                method,
                srv.url + "/container/blob%20name",
                retry=Retry(attempts=1),
                params=params,
                sign=signer,
                **kwargs,
            )
        finally:
            client.close()
    assert resp.status == 200, resp.text
    assert len(srv.seen) == 1


def test_the_server_rejects_a_wrong_key():
    other = base64.b64encode(b"another key").decode()
    with signing_server("acct", KEY) as srv:
        client = HttpClient()
        try:
            resp = client.send(
                "GET",
                srv.url + "/c",
                retry=Retry(attempts=1),
                expect_json=False,
                sign=lambda m, url, headers: sign(m, url, headers, "acct", other),
            )
        finally:
            client.close()
    assert resp.status == 403
    assert "bad signature" in resp.text
