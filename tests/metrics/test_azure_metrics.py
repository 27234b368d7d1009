"""Azure's metrics call as provider_specs/azure.yaml declares it, against a local HTTP server.

The server (127.0.0.1) answers the OAuth2 token request and ``microsoft.insights/metrics`` in
the shape Azure documents (api-version 2018-01-01: ``value[]``, one series per metric name,
``timeseries[].data[]`` with ``timeStamp`` and ``average``) and records every request, so
the test checks the exact request ManageIQ's Azure MetricsCapture sends and the counters it
derives (disk and network: (read + write) / 1024 / 60 KB/s; memory is not in this API).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa

from miqspec.pipeline import capture_metrics
from miqspec.spec.load import load_spec
from miqspec.store.providers import ProviderStore

from ..conftest import REPO

METRICS_PATH = (
    "/subscriptions/sub-1/resourceGroups/rg1/providers/Microsoft.Compute/virtualMachines/{}"
    "/providers/microsoft.insights/metrics"
)
NAMES = "Percentage CPU,Disk Read Bytes,Disk Write Bytes,Network In Total,Network Out Total"


class AzureFake:
    """What the local server answers and the requests it saw."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        minute = datetime.now(UTC).replace(second=0, microsecond=0, tzinfo=None)
        self.base = minute - timedelta(minutes=10)

    def stamp(self, k: int) -> str:
        return (self.base + timedelta(minutes=k)).strftime("%Y-%m-%dT%H:%M:%S") + ".558Z"

    def metrics_body(self, vm: str) -> dict[str, Any]:
        points = {
            "Percentage CPU": [10.5, 20.25, 30.0],
            "Disk Read Bytes": [982252000, 0, 1024],
            "Disk Write Bytes": [982252000, 61440, None],  # a missing value: a gap
            "Network In Total": [10000, 0, 0],
            "Network Out Total": [10000, 0, 0],
        }
        rid = METRICS_PATH.format(vm).split("/providers/microsoft.insights")[0]
        return {
            "cost": 0,
            "timespan": "x",
            "interval": "PT1M",
            "value": [
                {
                    "id": f"{rid}/providers/Microsoft.Insights/metrics/{name}",
                    "type": "Microsoft.Insights/metrics",
                    "name": {"value": name, "localizedValue": name},
                    "unit": "Percent" if name.startswith("Percentage") else "Bytes",
                    "timeseries": [
                        {
                            "metadatavalues": [],
                            "data": [
                                {
                                    "timeStamp": self.stamp(k),
                                    **({} if v is None else {"average": v}),
                                }
                                for k, v in enumerate(values)
                            ],
                        }
                    ],
                }
                for name, values in points.items()
            ],
            "namespace": "Microsoft.Compute/virtualMachines",
            "resourceregion": "eastus",
        }


def _handler(fake: AzureFake) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _reply(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _record(self, body: bytes = b"") -> tuple[str, dict[str, list[str]]]:
            parts = urlsplit(self.path)
            query = parse_qs(parts.query, keep_blank_values=True)
            fake.requests.append(
                {"method": self.command, "path": parts.path, "query": query,
                 "authorization": self.headers.get("Authorization"), "body": body.decode()}
            )  # fmt: skip
            return parts.path, query

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            path, _ = self._record(self.rfile.read(length))
            if path == "/tenant-1/oauth2/token":
                self._reply(200, {"access_token": "tok-123", "expires_in": "3600",
                                  "token_type": "Bearer"})  # fmt: skip
            else:
                self._reply(404, {"error": "no"})

        def do_GET(self) -> None:
            path, _ = self._record()
            for vm in ("vm1", "vm3"):
                if path == METRICS_PATH.format(vm):
                    if vm == "vm3":  # deleted meanwhile
                        self._reply(404, {"error": {"code": "ResourceNotFound"}})
                    else:
                        self._reply(200, fake.metrics_body(vm))
                    return
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


def _spec(tmp_path: Path, url: str) -> Path:
    text = (REPO / "provider_specs" / "azure.yaml").read_text()
    for setting in (
        "ad_url: https://login.microsoftonline.com",
        "arm_url: https://management.azure.com",
    ):
        assert setting in text
        text = text.replace(setting, setting.split(":")[0] + ": " + url)
    path = tmp_path / "azure.yaml"
    path.write_text(text)
    return path


def test_azure_metrics_request_and_counters(engine, keyring, tmp_path, azure) -> None:  # type: ignore[no-untyped-def]
    fake, url = azure
    spec = load_spec(str(_spec(tmp_path, url)))
    args = {
        "provider_region": "eastus",
        "uid_ems": "tenant-1",
        "subscription": "sub-1",
        "authentications": {"default": {"userid": "client-1", "password": "s3cret"}},
    }
    ems_id = ProviderStore(engine).add(spec, "az", args, keyring)
    with engine.begin() as conn:
        for name, state in (("vm1", "on"), ("vm2", "off"), ("vm3", "on")):
            conn.execute(
                sa.text(
                    "insert into vms (ems_id, ems_ref, name, power_state, template, type) "
                    "values (:e, :r, :n, :s, :t, 'ManageIQ::Providers::Azure::CloudManager::Vm')"
                ),
                {"e": ems_id, "r": f"sub-1/rg1/microsoft.compute/virtualmachines/{name}",
                 "n": name, "s": state, "t": False},
            )  # fmt: skip
    before = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    result = capture_metrics(engine, "az", keyring)
    assert (result.targets, result.captured, result.skipped, result.failed) == (2, 1, 1, {})

    token, *gets = fake.requests
    assert (token["method"], token["path"]) == ("POST", "/tenant-1/oauth2/token")
    assert parse_qs(token["body"]) == {
        "grant_type": ["client_credentials"], "client_id": ["client-1"],
        "client_secret": ["s3cret"], "resource": ["https://management.core.windows.net/"],
    }  # fmt: skip
    assert sorted(g["path"] for g in gets) == [
        METRICS_PATH.format("vm1"),
        METRICS_PATH.format("vm3"),
    ]
    for got in gets:
        assert got["method"] == "GET" and got["authorization"] == "Bearer tok-123"
        query = {k: v[0] for k, v in got["query"].items()}
        start, end = query.pop("timespan").split("/")
        assert query == {
            "api-version": "2018-01-01",
            "interval": "PT1M",
            "aggregation": "Average",
            "metricnames": NAMES,
        }
        start_at = datetime.fromisoformat(start.replace("Z", "+00:00")).replace(tzinfo=None)
        end_at = datetime.fromisoformat(end.replace("Z", "+00:00")).replace(tzinfo=None)
        assert end_at - start_at == timedelta(hours=4)  # the default window, first capture
        assert before <= end_at <= before + timedelta(minutes=1)

    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "select m.timestamp, cpu_usage_rate_average, mem_usage_absolute_average, "
                "disk_usage_rate_average, net_usage_rate_average from metrics m join vms v on "
                "v.id = m.resource_id where v.name = 'vm1' order by m.timestamp"
            )
        ).all()
    base = fake.base
    want_times = [base + timedelta(seconds=20 * k) for k in range(7)]  # truncated, 20 s apart
    got_times = [r[0] if isinstance(r[0], datetime) else datetime.fromisoformat(r[0]) for r in rows]
    assert got_times == want_times
    assert [r[1] for r in rows] == [10.5] * 3 + [20.25] * 3 + [30.0]
    assert {r[2] for r in rows} == {None}  # memory: diagnostics storage, not declared
    disk = 2 * 982252000 / 1024 / 60
    assert [r[3] for r in rows] == [disk] * 3 + [61440 / 1024 / 60] * 3 + [None]
    assert [r[4] for r in rows] == [2 * 10000 / 1024 / 60] * 3 + [0] * 4
