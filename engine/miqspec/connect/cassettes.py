"""Record and replay HTTP traffic as Ruby VCR cassettes, through the engine's requests session.

Takes: a cassette path (Ruby VCR YAML: ``http_interactions``, ``recorded_with``, ``!binary``
bodies), the query parameters to ignore, and secret maps (real value -> placeholder, like
ManageIQ's ``secrets.defaults.yml``). Gives: ``Cassette`` (load/save), ``ReplayAdapter`` (serves
recordings, see ``cassette_match`` for the match rule) and ``RecordingAdapter`` (forwards to the
network and writes a scrubbed cassette; ``add_secrets`` gives it values learnt while running,
such as keys rendered from a call's own auth), both ``requests`` transport adapters that ``mount``
puts on a session for ``http://`` and ``https://``, so replay goes through the same HTTP layer
as live calls. Raises ``ReplayError`` (exit code 9): unreadable cassette (also YAML whose aliases
would blow it up: ``spec.load_bounded``), unmatched request.
Does I/O: reads and writes cassette files; ``RecordingAdapter`` talks to the network.
"""

from __future__ import annotations

import base64
import codecs
import os
import tempfile
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import Message
from email.utils import format_datetime
from http.client import HTTPMessage
from io import BytesIO
from pathlib import Path
from typing import Any

import requests
import yaml
from requests.adapters import BaseAdapter, HTTPAdapter
from requests.cookies import extract_cookies_to_jar
from requests.structures import CaseInsensitiveDict
from urllib3 import HTTPHeaderDict

from miqspec.connect.cassette_match import (
    MIN_SECRET_LENGTH,
    Binary,
    Headers,
    Interaction,
    Matcher,
    find_credentials,
    hiding,
    interaction_from_vcr,
    interaction_to_vcr,
    revealing,
    scrub,
)
from miqspec.errors import ReplayError
from miqspec.spec import load_bounded
from miqspec.version import __version__

_BaseLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_BaseDumper: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
Timeout = float | tuple[float, float] | tuple[float, None] | None
Cert = bytes | str | tuple[bytes | str, bytes | str] | None


class _Loader(_BaseLoader):
    """Safe loader that reads ``!binary`` as bytes and, like Ruby's Psych for VCR files, only
    resolves ints and nulls implicitly (header values such as ``yes`` or ``1.10`` stay text)."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag.endswith((":int", ":null"))]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_constructor("!binary", lambda loader, node: base64.b64decode(node.value))


class _Dumper(_BaseDumper):
    """Safe dumper writing ``Binary`` as ``!binary`` literal blocks."""


_Dumper.add_representer(
    Binary,
    lambda dumper, data: dumper.represent_scalar(
        "!binary", base64.encodebytes(bytes(data)).decode("ascii").rstrip("\n"), style="|"
    ),
)


@dataclass
class Cassette:
    """A Ruby VCR cassette in memory, with the replay options it was loaded with."""

    path: Path
    interactions: list[Interaction] = field(default_factory=list)
    recorded_with: str = f"miqspec {__version__}"
    ignore_query_params: tuple[str, ...] = ()
    placeholders: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        *,
        ignore_query_params: Sequence[str] = (),
        placeholders: Mapping[str, str] | None = None,
    ) -> Cassette:
        """Read a VCR YAML file. ``placeholders`` maps real values to the recorded ones."""
        file = Path(path)
        try:
            with file.open("rb") as stream:
                data = load_bounded(stream, _Loader)  # alias bombs refused, as in specs
            interactions = [
                interaction_from_vcr(number, item)
                for number, item in enumerate(_interaction_list(data), start=1)
            ]
        except OSError as exc:
            raise ReplayError(f"cannot read cassette {file}: {exc.strerror or exc}") from None
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark is not None else ""
            problem = getattr(exc, "problem", None) or type(exc).__name__
            raise ReplayError(f"cassette {file} is not valid YAML{where}: {problem}") from None
        except ValueError as exc:
            raise ReplayError(f"cassette {file} is not a VCR cassette: {exc}") from None
        recorded_with = data.get("recorded_with") if isinstance(data, dict) else None
        return cls(
            path=file,
            interactions=interactions,
            recorded_with=str(recorded_with or ""),
            ignore_query_params=tuple(ignore_query_params),
            placeholders=dict(placeholders or {}),
        )

    def to_yaml(self) -> str:
        """The cassette in Ruby VCR layout."""
        document = {
            "http_interactions": [interaction_to_vcr(i) for i in self.interactions],
            "recorded_with": self.recorded_with,
        }
        text: str = yaml.dump(
            document,
            Dumper=_Dumper,
            sort_keys=False,
            allow_unicode=True,
            width=100,
            explicit_start=True,
        )
        return text

    def save(self, path: str | os.PathLike[str] | None = None) -> Path:
        """Write the cassette atomically to ``path`` (default: where it was loaded from)."""
        target = Path(path) if path is not None else self.path
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as out:
                out.write(self.to_yaml())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return target


def _interaction_list(data: object) -> list[Any]:
    if not isinstance(data, dict) or not isinstance(data.get("http_interactions"), list):
        raise ValueError("no http_interactions list at the top level")
    return data["http_interactions"]


def mount(session: requests.Session, adapter: BaseAdapter) -> None:
    """Route every ``http://`` and ``https://`` request of ``session`` through ``adapter``."""
    session.mount("http://", adapter)
    session.mount("https://", adapter)


class _RecordedRaw(BytesIO):
    """Stands in for urllib3's response: the body as recorded, never decoded."""

    def __init__(self, body: bytes, headers: HTTPHeaderDict, msg: HTTPMessage, status: int):
        super().__init__(body)
        self.headers = headers
        self.status = status
        self.msg = msg
        self._original_response = self  # requests reads cookies from ``_original_response.msg``

    def read(self, amt: int | None = None, decode_content: bool | None = None) -> bytes:
        return super().read(amt)

    def stream(self, amt: int = 65536, decode_content: bool | None = None) -> Iterator[bytes]:
        while chunk := self.read(amt):
            yield chunk

    def release_conn(self) -> None:
        """Nothing to release."""


def _charset(headers: HTTPHeaderDict) -> str:
    message = Message()
    message["content-type"] = headers.get("Content-Type", "")
    charset = message.get_content_charset() or "utf-8"
    try:
        codecs.lookup(charset)
    except LookupError:
        return "utf-8"
    return charset


class ReplayAdapter(BaseAdapter):
    """Serves a cassette's recordings to a ``requests.Session`` instead of the network."""

    def __init__(self, cassette: Cassette) -> None:
        super().__init__()
        self.cassette = cassette
        self._hide = hiding(cassette.placeholders)
        self._reveal = revealing(cassette.placeholders)
        self._matcher = Matcher(
            [(i.method, i.uri) for i in cassette.interactions], cassette.ignore_query_params
        )

    @property
    def used_count(self) -> int:
        return self._matcher.used_count

    def unused(self) -> list[tuple[str, str]]:
        """(METHOD, uri) of every recording not played yet, in file order."""
        items = self.cassette.interactions
        return [(items[i].method.upper(), items[i].uri) for i in self._matcher.unused()]

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Timeout = None,
        verify: bool | str = True,
        cert: Cert = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        method = (request.method or "GET").upper()
        url = self._hide.text(str(request.url))
        index = self._matcher.claim(method, url)
        if index is None:
            raise ReplayError(
                f"{self._matcher.describe_miss(method, url)}; cassette {self.cassette.path.name}",
                secrets=self.cassette.placeholders.keys(),
            )
        return self._build_response(request, self.cassette.interactions[index])

    def _build_response(
        self, request: requests.PreparedRequest, item: Interaction
    ) -> requests.Response:
        body = self._reveal.data(item.response_body)
        resized = body != item.response_body
        headers, msg = HTTPHeaderDict(), HTTPMessage()
        for name, values in item.response_headers.items():
            for value in values:
                shown = self._reveal.text(value)
                if name.lower() == "content-length" and resized:
                    shown = str(len(body))
                headers.add(name, shown)
                msg[name] = shown
        raw = _RecordedRaw(body, headers, msg, item.status)
        response = requests.Response()
        response.status_code = item.status
        response.reason = item.reason
        response.headers = CaseInsensitiveDict(headers)
        response.encoding = _charset(headers)
        response.raw = raw
        response.url = request.url or ""
        response.request = request
        response.connection = self  # type: ignore[assignment]
        response._content = body
        response._content_consumed = True  # type: ignore[attr-defined]
        extract_cookies_to_jar(response.cookies, request, raw)
        return response

    def close(self) -> None:
        """Nothing to close."""


class RecordingAdapter(BaseAdapter):
    """Forwards requests to ``inner`` (the network) and records them; ``save``/``close`` write
    a Ruby VCR cassette with every secret replaced by its placeholder."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        secrets: Mapping[str, str] | None = None,
        inner: BaseAdapter | None = None,
    ) -> None:
        super().__init__()
        self.path = Path(path)
        self.secrets = dict(secrets or {})
        self.inner = inner if inner is not None else HTTPAdapter()
        self.interactions: list[Interaction] = []
        self._found: dict[str, str] = {}  # credentials seen in Authorization headers
        self._kept: dict[str, str] = {}  # secrets the session learnt while running
        self._lock = threading.Lock()

    def add_secrets(self, values: Sequence[str]) -> None:
        """Values the cassette must not hold (each gets ``MIQSPEC_SECRET_n``); known ones and
        values shorter than ``MIN_SECRET_LENGTH`` are left as they are."""
        with self._lock:
            known = set(self.secrets) | set(self.secrets.values()) | set(self._found)
            for value in values:
                if len(value) >= MIN_SECRET_LENGTH and value not in known | set(self._kept):
                    self._kept[value] = f"MIQSPEC_SECRET_{len(self._kept) + 1}"

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Timeout = None,
        verify: bool | str = True,
        cert: Cert = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        response = self.inner.send(request, stream, timeout, verify, cert, proxies)
        body = response.content  # decoded by requests: recorded without Content-Encoding
        request_headers: Headers = {}
        for name, value in request.headers.items():
            text = value.decode("latin-1") if isinstance(value, bytes) else str(value)
            request_headers.setdefault(name, []).append(text)
        with self._lock:
            known = set(self.secrets) | set(self.secrets.values()) | set(self._found)
            known |= set(self._kept)
            self._found.update(find_credentials(request_headers, known, len(self._found)))
            self.interactions.append(
                Interaction(
                    method=(request.method or "GET").lower(),
                    uri=str(request.url),
                    request_headers=request_headers,
                    request_body=_request_body(request),
                    status=response.status_code,
                    reason=str(response.reason or ""),
                    response_headers=_response_headers(response, len(body)),
                    response_body=body,
                    recorded_at=format_datetime(datetime.now(UTC), usegmt=True),
                )
            )
        return response

    def cassette(self) -> Cassette:
        """The recording so far, scrubbed of secrets."""
        with self._lock:
            secrets = {**self._kept, **self._found, **self.secrets}
            items = list(self.interactions)
        return Cassette(path=self.path, interactions=scrub(items, secrets))

    def save(self) -> Path:
        """Write the scrubbed recording to ``path`` (atomically); returns the path."""
        return self.cassette().save(self.path)

    def close(self) -> None:
        """Save, then close the inner adapter (a session closes each mount, so maybe twice)."""
        self.save()
        self.inner.close()


def _request_body(request: requests.PreparedRequest) -> bytes:
    body = request.body
    if isinstance(body, bytes):
        return body
    return body.encode("utf-8") if isinstance(body, str) else b""


def _response_headers(response: requests.Response, length: int) -> Headers:
    raw_headers = getattr(response.raw, "headers", None)
    multi = raw_headers if isinstance(raw_headers, HTTPHeaderDict) else None
    headers: Headers = {}
    for name in multi if multi is not None else response.headers:
        if name.lower() == "content-encoding":
            continue
        values = multi.getlist(name) if multi is not None else [response.headers[name]]
        if name.lower() == "content-length":
            values = [str(length)]
        headers[name] = [str(v) for v in values]
    return headers
