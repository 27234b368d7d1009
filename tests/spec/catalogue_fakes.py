"""A local JSON API for the catalogue tests (tests/spec/test_catalogue_manageiq.py).

``JsonApi`` serves ``routes`` (path -> body, changeable between refreshes) on 127.0.0.1 and
records the paths asked for; ``provider`` adds a spec's provider against it and refreshes.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from miqspec.pipeline import refresh_provider
from miqspec.spec.load import load_spec
from miqspec.store.providers import ProviderStore


class JsonApi:
    """The bodies served by path and the paths asked for."""

    def __init__(self, routes: dict[str, Any]) -> None:
        self.routes = routes
        self.paths: list[str] = []
        self.url = ""


def _handler(api: JsonApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?")[0]
            api.paths.append(path)
            found = path in api.routes
            data = json.dumps(api.routes[path] if found else {"error": "not found"}).encode()
            self.send_response(200 if found else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def serve(routes: dict[str, Any]) -> Iterator[JsonApi]:
    api = JsonApi(routes)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(api))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    api.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield api
    finally:
        server.shutdown()
        server.server_close()


# The form, connection and auth every test spec shares (basic auth against the local API).
HEADER = """\
version: 1
provider:
  name: {name}
  title: {title}
  manager_type: {manager_type}
  refresh_interval: 0
form:
  fields:
    - component: text-field
      name: endpoints.default.url
      label: API URL
    - component: text-field
      name: authentications.default.userid
      label: User
    - component: password-field
      name: authentications.default.password
      label: Password
      type: password
connection:
  services:
    api:
      base_url: "{{{{ endpoints.default.url }}}}"
auth:
  type: basic
  username: "{{{{ authentications.default.userid }}}}"
  password: "{{{{ authentications.default.password }}}}"
"""


def write_spec(tmp_path: Path, name: str, manager_type: str, body: str) -> Path:
    path = tmp_path / f"{name}.yaml"
    title = " ".join(p.capitalize() for p in name.split("_"))
    path.write_text(HEADER.format(name=name, title=title, manager_type=manager_type) + body)
    return path


def add_provider(engine: sa.Engine, keyring: Any, spec_path: Path, api: JsonApi) -> int:
    spec = load_spec(str(spec_path))
    args = {
        "endpoints": {"default": {"url": api.url}},
        "authentications": {"default": {"userid": "admin", "password": "s3cret"}},
    }
    return ProviderStore(engine).add(spec, spec.provider.name, args, keyring)


def refresh(engine: sa.Engine, keyring: Any, name: str) -> Any:
    result = refresh_provider(engine, name, keyring)
    assert result.ok, (result.error, result.warnings)
    return result


def rows(engine: sa.Engine, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(sql), params).all()]
