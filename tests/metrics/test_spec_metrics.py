"""The metrics: section: schema, validator findings (file:line:col) and the typed model."""

from __future__ import annotations

from pathlib import Path

from miqspec.spec import check_file, load_spec

from ..conftest import AWESOME

CALLS = """
calls:
  get_vms: {path: /vms, records: items}
  get_vm_metrics:
    path: "/vms/{{ target.ems_ref }}/metrics"
    query: {from: "{{ metrics.start }}", to: "{{ metrics.end }}"}
    records: value
"""
BASE = f"""version: 1
provider: {{name: acme, title: Acme, manager_type: cloud}}
connection:
  services: {{api: {{base_url: "https://acme.example/api"}}}}
{CALLS}
collections:
  vms:
    from: get_vms
    attributes: {{ems_ref: id, name: name}}
"""


def findings(tmp_path: Path, metrics: str, base: str = BASE) -> list[str]:
    path = tmp_path / "acme.yaml"
    path.write_text(base + metrics)
    return [f"{f.location.line}:{f.location.col}: {f.path}: {f.message}" for f in check_file(path)]


def test_shipped_awesome_cloud_declares_metrics() -> None:
    spec = load_spec(str(AWESOME))
    assert spec.metrics is not None
    assert spec.metrics.collection == "vms"
    assert spec.metrics.resource_type == "VmOrTemplate"
    assert spec.metrics.interval == 60
    assert spec.metrics.window == 4 * 3600
    assert spec.metrics.capture_threshold == 50 * 60
    assert set(spec.metrics.counters) == {
        "cpu_usage_rate_average",
        "mem_usage_absolute_average",
        "disk_usage_rate_average",
        "net_usage_rate_average",
    }


def test_a_valid_section_with_named_series(tmp_path: Path) -> None:
    good = """
metrics:
  targets: {collection: vms, where: "power_state == 'on' && $settings.x != 'y'"}
  call: get_vm_metrics
  interval: 5m
  window: 2h
  capture_threshold: 10m
  samples:
    each: "timeseries[].data[]"
    timestamp: timeStamp
    name: "$parent.name.value"
    value: average
  counters:
    cpu_usage_rate_average: '"Percentage CPU"'
"""
    base = BASE.replace("manager_type: cloud}", "manager_type: cloud, settings: {x: z}}")
    assert findings(tmp_path, good, base) == []
    spec = load_spec(str(tmp_path / "acme.yaml"))
    assert spec.metrics is not None
    assert (spec.metrics.interval, spec.metrics.window) == (300, 7200)
    assert spec.metrics.capture_threshold == 600
    assert spec.metrics.name is not None and spec.metrics.each is not None


def test_errors_are_located(tmp_path: Path) -> None:
    bad = """
metrics:
  targets: {collection: flavors, where: "$parent.x"}
  call: get_vmz
  bulk: true
  interval: 1 minute
  samples: {timestamp: "ts[", value: v}
  counters:
    cpu_usage_rate_average: "$item.cpu"
    cpu_ready: x
"""
    got = findings(tmp_path, bad)
    m = BASE.count("\n") + 2  # the line of "metrics:"
    expected = [
        f"{m + 1}:25: metrics.targets.collection: 'flavors' cannot be a capture target: table "
        "flavors has no last_perf_capture_on; targets are vms, hosts, ems_clusters, storages",
        f"{m + 1}:42: metrics.targets.where: expression root '$parent' is not available here "
        "(no for_each call or each: above it)",
        f"{m + 2}:9: metrics.call: unknown call 'get_vmz' (did you mean 'get_vms'?)",
        f"{m + 3}:3: metrics.bulk: bulk: true needs samples.target (the ems_ref of the target "
        "each point is for)",
        f"{m + 4}:13: metrics.interval: '1 minute' does not match the pattern ^[0-9]+(s|m|h)?$",
        f"{m + 5}:28: metrics.samples.timestamp: JMESPath syntax error: incomplete expression",
        f"{m + 5}:31: metrics.samples.value: 'value' needs 'name'",
        f"{m + 8}:5: metrics.counters.cpu_ready: 'cpu_ready' is not allowed; expected one of: "
        "cpu_usage_rate_average, mem_usage_absolute_average, disk_usage_rate_average, "
        "net_usage_rate_average",
    ]
    assert [g for g in got if g.split(":")[2].strip().startswith("metrics")] == expected


def test_metrics_call_templates_read_target_and_metrics_only_there(tmp_path: Path) -> None:
    section = """
metrics:
  targets: {collection: vms}
  call: get_vm_metrics
  samples: {timestamp: ts}
  counters: {cpu_usage_rate_average: cpu}
"""
    assert findings(tmp_path, section) == []
    # without the section, target and metrics are unknown template variables
    got = findings(tmp_path, "")
    assert any("template variable 'target' does not exist here" in g for g in got), got
    bulk = section.replace("call: get_vm_metrics", "call: get_vm_metrics\n  bulk: true").replace(
        "samples: {timestamp: ts}", "samples: {timestamp: ts, target: vm}"
    )
    got = findings(tmp_path, bulk)
    assert any("template variable 'target' does not exist" in g for g in got), got
