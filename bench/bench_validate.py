"""Benchmark ``miqspec validate`` on a generated 1,000-line valid spec.

Takes: nothing (``--lines N`` to change the size, ``--runs N`` for the repetitions).
Gives: the median time of ``specs.check_file`` in-process and of the CLI end to end (a
subprocess), printed as a few lines; exit 1 when the generated spec is not valid. Writes the
spec to a temporary directory. Target: check_file <= 0.3 s for 1,000 lines.

Run: .venv/bin/python bench/bench_validate.py
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

from miqspec.spec.catalogue import load_catalogue
from miqspec.spec.load import check_file

HEADER = """\
version: 1
provider:
  name: bench_cloud
  title: Bench Cloud
  manager_type: cloud
  refresh_interval: 15m
  settings:
    page_size: 100
    api_version: v2
regions:
  - name: r1
    hostname: r1.bench.example
    description: Region 1
form:
  fields:
    - component: select
      name: provider_region
      options_from: regions
    - component: sub-form
      name: endpoints-subform
      fields:
        - component: validate-provider-credentials
          name: authentications.default.valid
          validationDependencies: [type, zone_id, provider_region]
          fields:
            - {component: text-field, name: endpoints.default.url}
            - {component: text-field, name: authentications.default.userid}
            - {component: password-field, name: authentications.default.password}
connection:
  services:
    api:
      base_url: "{{ endpoints.default.url or ('https://' ~ region.hostname) }}/api"
  timeout: 30
auth:
  type: login
  login:
    - name: token
      method: POST
      path: /auth
      body:
        json:
          user: "{{ authentications.default.userid }}"
          password: "{{ authentications.default.password }}"
      extract:
        token: {body: token}
  headers:
    Authorization: "Bearer {{ login.token }}"
verify:
  call: call_0
"""


def _call(i: int) -> list[str]:
    lines = [
        f"  call_{i}:",
        f'    path: "/{{{{ settings.api_version }}}}/things_{i}"',
        '    query: {limit: "{{ settings.page_size }}", region: "{{ region.name }}"}',
        "    records: \"items[?state != 'deleted']\"",
        "    paginate: {type: cursor, cursor: meta.next_token, param: token}",
        "    skip_on: [404]",
    ]
    if i % 4 == 3:
        lines += [
            f'    for_each: {{call: call_{i - 1}, where: "enabled && $settings.page_size > `0`"}}',
            f'    headers: {{X-Parent: "{{{{ parent.id }}}}-{i}"}}',
        ]
    return lines


def _source(call: int, columns: Mapping[str, str]) -> list[str]:
    out = [
        f"      - from: call_{call}",
        '        where: "!deleted"',
        "        attributes:",
        "          ems_ref: id",
        '          name: {expr: "coalesce(name, id)"}',
    ]
    extra = [c for c in sorted(columns) if c not in ("ems_ref", "name")][:4]
    forms = [
        'to_string(meta."{c}")',
        "{{value: null}}",
        '{{template: "{{{{ item.id }}}}-x"}}',
        '{{expr: "lower(status)", map: {{a: b}}, default: x}}',
    ]
    for n, column in enumerate(extra):
        out.append(f"          {column}: " + forms[n % len(forms)].format(c=column))
    return out


def generate(lines: int) -> str:
    """A valid spec of about ``lines`` lines: calls, then collections with several sources."""
    catalogue = load_catalogue()
    targets = [
        c
        for c in sorted(catalogue.collections.values(), key=lambda c: c.name)
        if c.manager_ref == ("ems_ref",) and c.owner == "ems_id" and "name" in c.columns
    ]
    n_calls = max(8, lines // 20)
    body = [*HEADER.splitlines(), "calls:"]
    for i in range(n_calls):
        body += _call(i)
    body.append("collections:")
    call = 0
    for target in targets:
        if len(body) >= lines:
            break
        body += [f"  {target.name}:", "    sources:"]
        for _ in range(3):
            body += _source(call % n_calls, target.columns)
            call += 1
    return "\n".join(body) + "\n"


def _median(fn: object, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        spec = Path(tmp) / "bench_cloud.yaml"
        spec.write_text(generate(args.lines), encoding="utf-8")
        n_lines = len(spec.read_text(encoding="utf-8").splitlines())
        start = time.perf_counter()
        findings = check_file(str(spec))
        first = time.perf_counter() - start
        if findings:
            for f in findings[:20]:
                print(f, file=sys.stderr)
            print(f"generated spec is not valid ({len(findings)} findings)", file=sys.stderr)
            return 1
        warm = _median(lambda: check_file(str(spec)), args.runs)
        cli = [str(Path(sys.executable).with_name("miqspec")), "validate", str(spec)]
        end_to_end = _median(
            lambda: subprocess.run(cli, check=True, capture_output=True), max(3, args.runs // 2)
        )
    print(f"spec: {n_lines} lines")
    print(f"check_file first call (cold caches): {first * 1000:.0f} ms")
    print(f"check_file median of {args.runs}: {warm * 1000:.0f} ms (target <= 300 ms)")
    print(f"miqspec validate (subprocess) median: {end_to_end * 1000:.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
