"""Call formats ``xml`` and ``headers``: XML bodies as data, header maps as records.

Against real HTTP servers on 127.0.0.1 and through a replayed VCR cassette (``!binary`` body).
"""

from __future__ import annotations

import base64
import codecs
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from miqspec.collect.runner import CallResult, collect
from miqspec.connect.cassettes import Cassette, ReplayAdapter
from miqspec.connect.http import HttpClient
from miqspec.connect.session import ProviderSession
from miqspec.connect.xml_data import XmlError, parse_xml
from miqspec.errors import ApiError
from miqspec.spec.model import Spec

from .test_connect import write_spec
from .test_http import Answer, Script, ScriptServer, Seen

XML = {"Content-Type": "application/xml"}
NS = "http://schemas.example/blob"

LISTING = f"""<?xml version="1.0" encoding="utf-8"?>
<EnumerationResults xmlns="{NS}" xmlns:m="urn:meta" ServiceEndpoint="https://acct.example/">
  <Prefix />
  <Containers>
    <Container>
      <Name>vhds</Name>
      <Properties>
        <Etag>"0x8D68B7"</Etag>
        <LeaseStatus>locked</LeaseStatus>
        <m:Size m:unit="bytes">1024</m:Size>
      </Properties>
      <Metadata></Metadata>
    </Container>
  </Containers>
  <NextMarker />
</EnumerationResults>
"""

CONTAINER = {
    "Name": "vhds",
    "Properties": {
        "Etag": '"0x8D68B7"',
        "LeaseStatus": "locked",
        "Size": {"@unit": "bytes", "#text": "1024"},
    },
    "Metadata": None,
}


# Azure's blob listing: XML pages, one Blob kept a list, paged on NextMarker
LIST_BLOBS = {
    "path": "/vhds",
    "query": {"restype": "container", "comp": "list"},
    "format": "xml",
    "xml": {"force_list": ["Blob"]},
    "records": "EnumerationResults.Blobs.Blob",
    "paginate": {"type": "cursor", "cursor": "EnumerationResults.NextMarker", "param": "marker"},
}


def page(names: list[str], marker: str | None) -> bytes:
    """A blob listing page in Azure's layout (with a UTF-8 BOM)."""
    blobs = "".join(f"<Blob><Name>{n}</Name></Blob>" for n in names)
    nxt = f"<NextMarker>{marker}</NextMarker>" if marker else "<NextMarker />"
    body = f'<EnumerationResults ContainerName="vhds"><Blobs>{blobs}</Blobs>{nxt}'
    body += "</EnumerationResults>"
    return codecs.BOM_UTF8 + body.encode()


class HeadServer(ScriptServer):
    """A ScriptServer that also answers HEAD: the script's status and headers, no body."""

    def __init__(self, script: Script) -> None:
        super().__init__(script)
        owner = self

        def do_head(handler: Any) -> None:
            req = Seen(handler.command, handler.path, dict(handler.headers.items()), b"")
            with owner.lock:
                owner.seen.append(req)
                n = len(owner.seen)
            answer = owner.script(req, n)
            handler.send_response(answer.status)
            for name, value in answer.headers.items():
                handler.send_header(name, value)
            handler.send_header("Content-Length", str(len(answer.payload())))
            handler.end_headers()

        self.server.RequestHandlerClass.do_HEAD = do_head  # type: ignore[attr-defined]


def run_calls(spec: Spec, url: str, roots: list[str]) -> dict[str, CallResult]:
    session = ProviderSession(spec, {"endpoints": {"default": {"url": url}}})
    try:
        return collect(session, roots).calls
    finally:
        session.close()


# -- XML as data ----------------------------------------------------------------------------


def test_xml_elements_attributes_namespaces_and_empty_elements() -> None:
    data = parse_xml(codecs.BOM_UTF8 + LISTING.encode(), ["Container"])
    assert data == {
        "EnumerationResults": {
            "@ServiceEndpoint": "https://acct.example/",
            "Prefix": None,
            "Containers": {"Container": [CONTAINER]},
            "NextMarker": None,
        }
    }
    # without force_list a single element is the element itself
    once = parse_xml(LISTING.encode())
    assert once is not None
    assert once["EnumerationResults"]["Containers"]["Container"] == CONTAINER


def test_xml_repeated_children_mixed_text_and_blank_text() -> None:
    body = b"<r><i>1</i><i/><i>3</i><one>x</one><m k='v'>a<b>c</b> d </m><blank>  </blank></r>"
    assert parse_xml(body, ["one"]) == {
        "r": {
            "i": ["1", None, "3"],
            "one": ["x"],
            "m": {"@k": "v", "b": "c", "#text": "a d"},
            "blank": None,
        }
    }
    assert parse_xml(b"") is None
    assert parse_xml(codecs.BOM_UTF8 + b"<root/>", ["root"]) == {"root": [None]}


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"<a><b></a>", "mismatched tag at line 1, column 9"),
        (b"<a>\n  <b>x</b>\n</a>trailing", "junk after document element at line 3"),
        (b"{}", "not well-formed (invalid token) at line 1, column 1"),
        (
            b'<!DOCTYPE a [<!ENTITY x "xxxxxxxxxx"><!ENTITY y "&x;&x;&x;">]><a>&y;</a>',
            "refused",
        ),
        (b'<!DOCTYPE a [<!ENTITY e SYSTEM "file:///etc/passwd">]><a>&e;</a>', "refused"),
    ],
)
def test_bad_or_hostile_xml_is_one_line_error(body: bytes, words: str) -> None:
    with pytest.raises(XmlError) as err:
        parse_xml(body)
    assert words in str(err.value)
    assert "\n" not in str(err.value)


# -- format: xml against a server -----------------------------------------------------------


def test_xml_listing_records_through_a_call(tmp_path: Path) -> None:
    records = "EnumerationResults.Containers.Container[]"
    with ScriptServer(lambda req, n: Answer(200, codecs.BOM_UTF8 + LISTING.encode(), XML)) as srv:
        spec = write_spec(
            tmp_path,
            calls={
                "listed": {
                    "path": "/containers",
                    "format": "xml",
                    "xml": {"force_list": ["Container"]},
                    "records": records,
                },
                "unforced": {"path": "/containers", "format": "xml", "records": records},
            },
        )
        calls = run_calls(spec, srv.url, ["listed", "unforced"])
    assert spec.calls["listed"].xml_force_list == ("Container",)
    assert calls["listed"].records == [CONTAINER]
    assert calls["unforced"].records == []  # `[]` of a single object: force_list is needed


def test_two_xml_pages_through_a_cursor_on_next_marker(tmp_path: Path) -> None:
    pages = {None: (["a", "b"], "m-2"), "m-2": (["c"], None)}

    def script(req: Seen, n: int) -> Answer:
        marker = parse_qs(urlsplit(req.path).query).get("marker", [None])[0]
        names, nxt = pages[marker]
        return Answer(200, page(names, nxt), XML)

    with ScriptServer(script) as srv:
        spec = write_spec(
            tmp_path,
            calls={"list_blobs": LIST_BLOBS},
        )
        res = run_calls(spec, srv.url, ["list_blobs"])["list_blobs"]
        seen = srv.paths
    expected = [name for names, _ in pages.values() for name in names]
    assert [r["Name"] for r in res.records] == expected
    assert (res.pages, res.requests, res.complete) == (2, 2, True)
    assert [parse_qs(urlsplit(p).query).get("marker") for p in seen] == [None, ["m-2"]]


def test_malformed_xml_is_a_one_line_api_error_naming_the_call(tmp_path: Path) -> None:
    body = b"<EnumerationResults>\n<Containers></EnumerationResults>"
    with ScriptServer(lambda req, n: Answer(200, body, XML)) as srv:
        spec = write_spec(
            tmp_path, calls={"list_containers": {"path": "/containers", "format": "xml"}}
        )
        with pytest.raises(ApiError) as err:
            run_calls(spec, srv.url, ["list_containers"])
    message = str(err.value)
    assert message.startswith(f"list_containers: GET {srv.url}/containers: ")
    assert "response is not valid XML (mismatched tag at line 2, column" in message
    assert "\n" not in message


def test_a_truncated_xml_page_is_retried_like_a_bad_json_one(tmp_path: Path) -> None:
    good = LISTING.encode()
    answers = [good[: len(good) // 2], good]  # the first answer is cut off mid-document
    # (the script sees how many requests arrived, this one included)
    with ScriptServer(lambda req, n: Answer(200, answers[min(n, 2) - 1], XML)) as srv:
        spec = write_spec(
            tmp_path,
            calls={
                "list_containers": {
                    "path": "/containers",
                    "format": "xml",
                    "records": "EnumerationResults.Containers.Container",
                    "xml": {"force_list": ["Container"]},
                    "retry": {"attempts": 2, "backoff": 0},
                }
            },
        )
        res = run_calls(spec, srv.url, ["list_containers"])["list_containers"]
        assert len(srv.seen) == 2
    assert res.records == [CONTAINER] and res.requests == 1


# -- format: headers ------------------------------------------------------------------------


def test_head_call_gives_the_lower_cased_header_map(tmp_path: Path) -> None:
    meta = {
        "x-ms-meta-MicrosoftAzureCompute_OSState": "Generalized",
        "X-Ms-Meta-MicrosoftAzureCompute_OSType": "Linux",
        "ETag": '"0x8D68"',
    }
    with HeadServer(lambda req, n: Answer(200, b"x" * 512, meta)) as srv:
        spec = write_spec(
            tmp_path,
            calls={
                "blob_properties": {"path": "/vhds/a.vhd", "method": "HEAD", "format": "headers"},
                "blob_os_type": {
                    "path": "/vhds/a.vhd",
                    "method": "HEAD",
                    "format": "headers",
                    "records": '"x-ms-meta-microsoftazurecompute_ostype"',
                },
            },
        )
        calls = run_calls(spec, srv.url, ["blob_properties", "blob_os_type"])
        methods = [s.method for s in srv.seen]
    assert methods == ["HEAD", "HEAD"]
    [record] = calls["blob_properties"].records
    assert all(name == name.lower() for name in record)
    assert all(isinstance(value, str) for value in record.values())
    for name, value in meta.items():
        assert record[name.lower()] == value
    assert record["content-length"] == "512"
    assert calls["blob_os_type"].records == ["Linux"]


# -- replay ---------------------------------------------------------------------------------

BASE = "https://acct.blob.example"


def _cassette(path: Path, xml_body: bytes) -> Path:
    """A Ruby VCR cassette: an XML listing as a ``!binary`` body, and a HEAD answer."""
    encoded = base64.encodebytes(xml_body).decode("ascii").rstrip("\n")
    indented = "\n".join("        " + line for line in encoded.splitlines())
    path.write_text(
        f"""---
http_interactions:
- request:
    method: get
    uri: {BASE}/vhds?comp=list&restype=container
    body:
      encoding: US-ASCII
      string: ''
    headers: {{}}
  response:
    status:
      code: 200
      message: OK
    headers:
      Content-Type:
      - application/xml
    body:
      encoding: ASCII-8BIT
      string: !binary |-
{indented}
    http_version:
  recorded_at: Tue, 05 Feb 2019 14:41:56 GMT
- request:
    method: head
    uri: {BASE}/vhds/a.vhd
    body:
      encoding: US-ASCII
      string: ''
    headers: {{}}
  response:
    status:
      code: 200
      message: OK
    headers:
      X-Ms-Meta-MicrosoftAzureCompute_OSState:
      - Generalized
      Content-Length:
      - '0'
    body:
      encoding: UTF-8
      string: ''
    http_version:
  recorded_at: Tue, 05 Feb 2019 14:41:57 GMT
recorded_with: VCR 3.0.3
""",
        encoding="utf-8",
    )
    return path


@pytest.fixture
def replayed(tmp_path: Path) -> Iterator[tuple[Spec, ProviderSession, ReplayAdapter]]:
    body = page(["a.vhd", "b.vhd"], None)
    cassette = Cassette.load(_cassette(tmp_path / "blob.yml", body))
    assert cassette.interactions[0].response_body.startswith(codecs.BOM_UTF8)
    adapter = ReplayAdapter(cassette)
    spec = write_spec(
        tmp_path,
        calls={
            "list_blobs": LIST_BLOBS,
            "blob_properties": {"path": "/vhds/a.vhd", "method": "HEAD", "format": "headers"},
        },
    )
    session = ProviderSession(
        spec, {"endpoints": {"default": {"url": BASE}}}, HttpClient(adapter=adapter)
    )
    try:
        yield spec, session, adapter
    finally:
        session.close()


def test_replay_of_a_binary_xml_body_with_a_bom(replayed: Any) -> None:
    _, session, adapter = replayed
    calls = collect(session, ["list_blobs", "blob_properties"]).calls
    assert [r["Name"] for r in calls["list_blobs"].records] == ["a.vhd", "b.vhd"]
    assert calls["list_blobs"].pages == 1
    [props] = calls["blob_properties"].records
    assert props["x-ms-meta-microsoftazurecompute_osstate"] == "Generalized"
    assert adapter.unused() == []
