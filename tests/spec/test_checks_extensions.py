"""Validator findings for the call-level extensions: embed, where roots, ancestors, url/path,
call_defaults, replay, provider-row form fields and $provider fields. Cases are data: calls (or
extra top-level text) appended to a valid spec, and the expected ``line:col: path: message``
(lines counted from the first appended line)."""

from __future__ import annotations

from pathlib import Path

import pytest

from miqspec.spec.build import build_spec
from miqspec.spec.catalogue import load_catalogue
from miqspec.spec.checks import check_document
from miqspec.spec.document import load_text

HEAD = """\
version: 1
provider:
  name: extcloud
  title: Ext Cloud
  manager_type: cloud
  settings: {page_size: 5}
regions:
  - {name: r1, hostname: h1}
form:
  fields:
    - {component: select, name: provider_region, label: Region, options_from: regions}
    - {component: text-field, name: endpoints.default.url, label: URL}
    - {component: text-field, name: subscription, label: Subscription}
    - {component: switch, name: tenant_mapping_enabled, label: Tenants}
    - {component: text-field, name: own_column, label: Own, column: true}
connection:
  services:
    api: {base_url: "{{ endpoints.default.url }}"}
"""
FIRST = HEAD.count("\n") + 1  # line number of the first appended line


def findings(tail: str) -> list[str]:
    doc = load_text(HEAD + tail, "ext.yaml")
    out = []
    for f in check_document(doc, load_catalogue()):
        assert str(f).startswith(f"ext.yaml:{f.location.line}:{f.location.col}: ")
        out.append(f"{f.location.line - FIRST + 1}:{f.location.col}: {f.path}: {f.message}")
    return out


VALID = """\
call_defaults:
  query: {limit: "{{ settings.page_size }}"}
  headers: {X-Sub: "{{ subscription }}"}
  paginate: {type: cursor, cursor: next_token, param: next_token}
replay:
  ignore_query_params: [api-version]
calls:
  get_vms:
    path: /vms
    records: items
    where: "location == $region.name && $provider.subscription && !$provider.guid"
  get_details:
    url: "{{ parent.links.self }}"
    for_each: {call: get_vms, where: "power_state == 'on' && $settings.page_size"}
    where: "$parent.id == id && $ancestors[0].id == id"
    embed: {as: detail, first: true}
  get_consoles:
    url: "/console/{{ ancestors[1].id }}/{{ parent.id }}?{{ provider.name }}"
    format: text
    paginate: {type: none}
    for_each: {call: get_details, where: "$parent.location == $region.name"}
    embed: {as: console}
  read_vms:
    path: "/vms/{{ parent.detail.id }}"
    for_each: {call: get_vms}
"""


def test_a_spec_using_every_extension_is_valid_and_builds():
    assert findings(VALID) == []
    spec = build_spec(load_text(HEAD + VALID, "ext.yaml"))
    assert spec.replay_ignore_query_params == ("api-version",)
    details = spec.calls["get_details"]
    assert details.embed is not None and (details.embed.field, details.embed.first) == (
        "detail",
        True,
    )
    assert details.url_join and details.where is not None
    assert spec.calls["get_consoles"].paginate.type == "none"
    assert spec.calls["get_vms"].paginate.type == "cursor"
    assert spec.calls["get_vms"].query == {"limit": "{{ settings.page_size }}"}
    assert [f.name for f in spec.form if f.column] == [
        "provider_region",
        "subscription",
        "tenant_mapping_enabled",
        "own_column",
    ]


CASES = [
    pytest.param(
        """\
calls:
  a:
    path: /a
    embed: {as: x}
""",
        [
            "4:5: calls.a.embed: embed needs for_each: the records are set on each record of the "
            "parent call"
        ],
        id="embed-without-for_each",
    ),
    pytest.param(
        """\
calls:
  t: {path: /t, format: text}
  c:
    path: /c
    for_each: {call: t}
    embed: {as: x}
""",
        ["6:5: calls.c.embed: cannot embed into 't': its records are text, not objects"],
        id="embed-into-text",
    ),
    pytest.param(
        """\
calls:
  p: {path: /p}
  c1: {path: /c1, for_each: {call: p}, embed: {as: x}}
  c2: {path: /c2, for_each: {call: p}, embed: {as: x}}
""",
        ["4:52: calls.c2.embed.as: 'p' records get 'x' from 'c1' already; choose another name"],
        id="embed-same-field-twice",
    ),
    pytest.param(
        """\
calls:
  p: {path: /p}
  c: {path: /c, for_each: {call: p}, embed: {as: x-y, firts: true}}
""",
        [
            "3:50: calls.c.embed.as: 'x-y' does not match the pattern ^[A-Za-z_][A-Za-z0-9_]*$",
            "3:55: calls.c.embed.firts: unknown key 'firts' (did you mean 'first'?)",
        ],
        id="embed-schema",
    ),
    pytest.param(
        """\
calls:
  c: {path: /c, for_each: {call: nope}, embed: {as: x}}
""",
        ["2:34: calls.c.for_each.call: unknown call 'nope'"],
        id="embed-unknown-parent",
    ),
    pytest.param(
        """\
calls:
  a: {path: /a, where: "$parent.id && $calls.nope && $region.name && $item.id"}
  b: {path: /b, for_each: {call: a, where: "$parent.id"}}
""",
        [
            "2:25: calls.a.where: expression root '$parent' is not available here "
            "(no for_each call or each: above it)",
            "2:39: calls.a.where: unknown call 'nope' in $calls",
            "3:45: calls.b.for_each.where: expression root '$parent' is not available here (no "
            "for_each call or each: above it)",
        ],
        id="where-roots",
    ),
    pytest.param(
        """\
calls:
  a: {path: /a}
  b: {path: "/b/{{ ancestors[1].id }}", for_each: {call: a}}
  c: {path: "/c/{{ ancestors[0].id }}"}
""",
        [
            "3:20: calls.b.path: 'ancestors[1]' does not exist here: this call has 1 fan-out "
            "level(s) above it (ancestors[0] is the parent)",
            "4:13: calls.c.path: template variable 'ancestors' does not exist here; available: "
            "authentications, endpoints, login, own_column, provider, provider_region, region, "
            "settings, subscription, tenant_mapping_enabled",
        ],
        id="ancestors-depth",
    ),
    pytest.param(
        """\
calls:
  a: {path: /a, url: /b}
  b: {method: GET}
""",
        [
            "2:7: calls.a.path: 'path' cannot be used together with 'url'",
            "3:3: calls.b: a call needs path: (appended to the service base URL) or url: (resolved "
            "against it like a link)",
        ],
        id="path-or-url",
    ),
    pytest.param(
        """\
call_defaults:
  for_each: {call: a}
  query: {x: "{{ parent.id }}"}
  paginate: {type: cursr}
calls:
  a: {path: /a}
""",
        [
            "2:3: call_defaults.for_each: unknown key 'for_each'",
            "3:18: call_defaults.query.x: template variable 'parent' exists only in calls with "
            "for_each",
            "4:20: call_defaults.paginate.type: unknown pagination type 'cursr'; expected one of: "
            "cursor, link_header, next_url, none, offset, page_number",
        ],
        id="call-defaults",
    ),
    pytest.param(
        """\
replay: {ignore_query_params: api-version}
calls:
  a: {path: /a}
""",
        ["1:31: replay.ignore_query_params: must be a list, got string"],
        id="replay",
    ),
    pytest.param(
        """\
calls:
  a:
    path: "/a/{{ provider.titel }}"
    where: "$provider.nme == 'x' && $provider.own_column"
""",
        [
            "3:18: calls.a.path: provider has no field 'titel'; it holds name, id, guid, "
            "spec_name, title, vendor, type and the top-level form fields (did you mean 'title'?)",
            "4:13: calls.a.where: provider has no field 'nme'; it holds name, id, guid, spec_name, "
            "title, vendor, type and the top-level form fields (did you mean 'name'?)",
        ],
        id="provider-fields",
    ),
    pytest.param(
        """\
calls:
  p: {path: /p}
  r: {path: /r, for_each: {call: p}}
  c: {path: /c, for_each: {call: p}, embed: {as: x}, fallback: {call: r}}
""",
        ["3:3: calls.r: calls depend on each other in a cycle: r -> c -> r"],
        id="embed-cycle",
    ),
]


@pytest.mark.parametrize(("tail", "expected"), CASES)
def test_findings(tail: str, expected: list[str]) -> None:
    assert findings(tail) == expected


def test_form_columns(tmp_path: Path) -> None:
    form = HEAD.replace(
        "    - {component: text-field, name: own_column, label: Own, column: true}\n",
        "    - {component: text-field, name: own_column, label: Own, column: true}\n"
        "    - {component: text-field, name: guid, label: G, column: true}\n"
        "    - {component: text-field, name: endpoints.default.port, label: P, column: true}\n"
        "    - {component: text-field, name: unused_one, label: U}\n",
    )
    doc = load_text(form + "calls:\n  a: {path: '/a/{{ endpoints.default.port }}'}\n", "f.yaml")
    got = [
        f"{f.location.line}:{f.location.col}: {f.path}: {f.message}"
        for f in check_document(doc, load_catalogue())
    ]
    lines = form.splitlines()
    at = {
        name: next((i + 1, text) for i, text in enumerate(lines) if f"name: {name}," in text)
        for name in ("guid", "endpoints.default.port", "unused_one")
    }

    def pos(name: str, word: str) -> str:
        line, text = at[name]
        return f"{line}:{text.index(word) + 1}"

    assert got == [
        f"{pos('guid', 'true')}: form.fields[5].column: 'guid' is written by the engine; it "
        "cannot come from the form",
        f"{pos('endpoints.default.port', 'true')}: form.fields[6].column: "
        "'endpoints.default.port' is nested; only top-level form fields can be provider-row "
        "columns",
        f"{pos('unused_one', 'unused_one')}: form.fields[7].name: form field 'unused_one' is "
        "never used by auth or connection",
    ]
