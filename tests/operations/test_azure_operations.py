"""Azure's VM operations as provider_specs/azure.yaml declares them, against a local HTTP server.

The server (127.0.0.1) answers the OAuth2 token request, the Compute REST API's power
actions (POST .../virtualMachines/<vm>/start|deallocate|powerOff|restart, 202 with an empty
body), DELETE of the VM and the instance view / the VM itself that the waits poll, and records
every request: the test checks the exact method, path, api-version and body of each, the
transitional raw_power_state ManageIQ's Azure provider writes, and the row after a delete.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa

from miqspec.errors import UnsupportedError
from miqspec.pipeline import run_operation
from miqspec.spec.load import load_spec
from miqspec.store.providers import ProviderStore

from ..conftest import REPO

VM = "/subscriptions/sub-1/resourceGroups/rg1/providers/Microsoft.Compute/virtualMachines/vm1"
API = "2017-12-01"  # settings.api_versions.virtual_machine
FINAL = {
    "start": "running",
    "deallocate": "deallocated",
    "powerOff": "stopped",
    "restart": "running",
}


class AzureFake:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.power = "running"
        self.deleted = False


def _handler(fake: AzureFake) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _reply(self, status: int, body: Any = None) -> None:
            data = b"" if body is None else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _record(self) -> str:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            parts = urlsplit(self.path)
            fake.requests.append(
                {"method": self.command, "path": parts.path,
                 "query": parse_qs(parts.query, keep_blank_values=True),
                 "authorization": self.headers.get("Authorization"),
                 "content_length": self.headers.get("Content-Length"), "body": body.decode()}
            )  # fmt: skip
            return parts.path

        def do_POST(self) -> None:
            path = self._record()
            if path == "/tenant-1/oauth2/token":
                self._reply(200, {"access_token": "tok-123", "expires_in": "3600"})
                return
            action = path.rsplit("/", 1)[-1]
            if path == f"{VM}/{action}" and action in FINAL:
                fake.power = FINAL[action]  # ARM's long-running operation, already over
                self._reply(202)
            else:
                self._reply(404, {"error": {"code": "NotFound"}})

        def do_DELETE(self) -> None:
            if self._record() == VM:
                fake.deleted = True
                self._reply(202)
            else:
                self._reply(404, {"error": {"code": "NotFound"}})

        def do_GET(self) -> None:
            path = self._record()
            if fake.deleted and path.startswith(VM):
                self._reply(404, {"error": {"code": "ResourceNotFound"}})
            elif path == f"{VM}/instanceView":
                self._reply(200, {"statuses": [
                    {"code": "ProvisioningState/succeeded", "displayStatus": "Succeeded"},
                    {"code": f"PowerState/{fake.power}", "displayStatus": f"VM {fake.power}"},
                ]})  # fmt: skip
            elif path == VM:
                self._reply(200, {"id": VM, "name": "vm1"})
            else:
                self._reply(404, {"error": {"code": "NotFound"}})

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def azure() -> Iterator[tuple[AzureFake, str]]:
    fake = AzureFake()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def provider(engine: sa.Engine, keyring: Any, tmp_path: Path, azure: tuple[AzureFake, str]) -> int:
    _, url = azure
    text = (REPO / "provider_specs" / "azure.yaml").read_text()
    for setting in (
        "ad_url: https://login.microsoftonline.com",
        "arm_url: https://management.azure.com",
    ):
        assert setting in text
        text = text.replace(setting, setting.split(":")[0] + ": " + url)
    path = tmp_path / "azure.yaml"
    path.write_text(text)
    args = {
        "provider_region": "eastus",
        "uid_ems": "tenant-1",
        "subscription": "sub-1",
        "authentications": {"default": {"userid": "client-1", "password": "s3cret"}},
    }
    ems_id = ProviderStore(engine).add(load_spec(str(path)), "az", args, keyring)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "insert into vms (ems_id, ems_ref, name, raw_power_state, power_state, template,"
                " type, vendor) values (:e, :r, 'vm1', 'VM running', 'on', :t,"
                " 'ManageIQ::Providers::Azure::CloudManager::Vm', 'azure')"
            ),
            {"e": ems_id, "r": "sub-1/rg1/microsoft.compute/virtualmachines/vm1", "t": False},
        )
    return ems_id


def raw_state(engine: sa.Engine) -> tuple[Any, ...]:
    with engine.connect() as conn:
        return tuple(
            conn.execute(sa.text("select raw_power_state, power_state, ems_id from vms")).one()
        )


def actions(fake: AzureFake) -> list[tuple[str, str, dict[str, list[str]], str]]:
    return [
        (r["method"], r["path"], r["query"], r["body"])
        for r in fake.requests
        if r["path"] != "/tenant-1/oauth2/token"
    ]


@pytest.mark.parametrize(
    ("operation", "action", "transitional", "until"),
    [
        ("stop", "deallocate", "VM deallocating", "VM deallocated"),
        ("suspend", "powerOff", "VM stopping", "VM stopped"),
        ("reboot_guest", "restart", "VM restarting", "VM running"),
    ],
)
def test_power_actions_send_the_documented_requests(
    engine: sa.Engine, keyring: Any, azure: tuple[AzureFake, str], provider: int,
    operation: str, action: str, transitional: str, until: str,
) -> None:  # fmt: skip
    fake, _ = azure
    result = run_operation(engine, "az", keyring, "vms", "vm1", operation, wait=True, refresh=False)
    assert result.outcome.raw_power_state == transitional
    assert result.outcome.status == 202 and result.outcome.finished
    assert actions(fake) == [
        ("POST", f"{VM}/{action}", {"api-version": [API]}, ""),
        ("GET", f"{VM}/instanceView", {"api-version": [API]}, ""),
    ]
    posted = next(
        r for r in fake.requests if r["method"] == "POST" and r["path"] != "/tenant-1/oauth2/token"
    )
    assert posted["authorization"] == "Bearer tok-123" and posted["content_length"] == "0"
    assert raw_state(engine)[0] == transitional  # until the refresh reads the new state
    assert f"VM {fake.power}" == until


def test_start_and_delete(
    engine: sa.Engine, keyring: Any, azure: tuple[AzureFake, str], provider: int
) -> None:
    fake, _ = azure
    with pytest.raises(UnsupportedError, match="The VM is powered on"):
        run_operation(engine, "az", keyring, "vms", "vm1", "start", refresh=False)
    assert actions(fake) == []
    run_operation(engine, "az", keyring, "vms", "vm1", "stop", wait=True, refresh=False)
    with engine.begin() as conn:  # what the refresh would read: deallocated
        conn.execute(
            sa.text("update vms set raw_power_state = 'VM deallocated', power_state = 'off'")
        )
    fake.requests.clear()
    result = run_operation(engine, "az", keyring, "vms", "vm1", "start", wait=True, refresh=False)
    assert raw_state(engine)[:2] == ("VM starting", "on")
    assert actions(fake) == [
        ("POST", f"{VM}/start", {"api-version": [API]}, ""),
        ("GET", f"{VM}/instanceView", {"api-version": [API]}, ""),
    ]
    assert result.outcome.finished
    fake.requests.clear()
    result = run_operation(
        engine,
        "az",
        keyring,
        "vms",
        "sub-1/rg1/microsoft.compute/virtualmachines/vm1",
        "destroy",
        wait=True,
    )
    assert actions(fake) == [
        ("DELETE", VM, {"api-version": [API]}, ""),
        ("GET", VM, {"api-version": [API]}, ""),
    ]
    assert result.outcome.removed == "disconnected"
    assert raw_state(engine) == ("unknown", "unknown", None)
