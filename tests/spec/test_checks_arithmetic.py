"""Validator findings for arithmetic, ``let``, missing commas and spec functions that recurse or
read ``$calls``: ``file:line:col`` as every other finding. Cases are data: text appended to a
valid spec head, and the expected ``line:col: path: message`` (lines counted from the first
appended line)."""

from __future__ import annotations

import pytest

from miqspec.spec.catalogue import load_catalogue
from miqspec.spec.checks import check_document
from miqspec.spec.document import load_text

HEAD = """\
version: 1
provider:
  name: arithcloud
  title: Arith Cloud
  manager_type: cloud
connection:
  services:
    api: {base_url: "https://api.example"}
calls:
  get_folders: {path: /folders, records: items}
  get_vms: {path: /vms, records: items}
"""
FIRST = HEAD.count("\n") + 1


def findings(tail: str) -> list[str]:
    doc = load_text(HEAD + tail, "arith.yaml")
    out = []
    for f in check_document(doc, load_catalogue()):
        assert str(f).startswith(f"arith.yaml:{f.location.line}:{f.location.col}: ")
        out.append(f"{f.location.line - FIRST + 1}:{f.location.col}: {f.path}: {f.message}")
    return out


VALID = """\
functions:
  folder_path:
    params: [id]
    expr: >-
      let $f = find_by($calls.get_folders, 'id', id) in
      if($f, concat(folder_path($f.parent), [$f.name]), `[]`)
collections:
  vms:
    from: get_vms
    attributes:
      ems_ref: id
      name: "join('/', folder_path(folder))"
      description: "let $gib = memory / 1024 in join(' ', [to_string($gib), 'GiB'])"
  hardwares:
    from: get_vms
    attributes:
      vm_or_template: {lazy: vms, ref: id}
      memory_mb: "memory * 1024"
      cpu_total_cores: "cores * sockets"
      cpu_speed: "round(mhz)"
      disk_capacity: "(maxdisk - disk) * 1024 * 1024"
"""


def test_arithmetic_let_and_recursion_validate() -> None:
    assert findings(VALID) == []


CASES = [
    pytest.param(
        VALID.replace("memory * 1024", "memory * 'x'"),
        ["18:28: collections.hardwares.attributes.memory_mb: JMESPath syntax error: "
         "'*' needs numbers; this operand is a string"],
        id="string-operand",
    ),
    pytest.param(
        VALID.replace("[to_string($gib), 'GiB']", "[to_string($gib) 'GiB']"),
        ["13:76: collections.vms.attributes.description: JMESPath syntax error: "
         "expected ',' or ']', got 'GiB'"],
        id="missing-comma-in-list",
    ),
    pytest.param(
        VALID.replace("round(mhz)", "if(mhz == `1` cores, sockets)"),
        ["20:33: collections.hardwares.attributes.cpu_speed: JMESPath syntax error: "
         "expected ',' or ')', got 'cores'"],
        id="missing-comma",
    ),
    pytest.param(
        VALID.replace("$calls.get_folders", "$calls.get_folder"),
        ["5:24: functions.folder_path.expr: unknown call 'get_folder' in $calls.get_folder "
         "(did you mean 'get_folders'?)"],
        id="unknown-call-in-a-body",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("tail", "expected"), CASES)
def test_findings(tail: str, expected: list[str]) -> None:
    assert findings(tail) == expected


def test_a_function_reading_calls_counts_where_it_is_called() -> None:
    tail = (
        VALID.replace("calls:\n", "calls:\n")
        + "  availability_zones:\n    items: \"[{id: 'z'}]\"\n    attributes:\n"
        + ('      ems_ref: id\n      name: "folder_path(id)[0]"\n')
    )
    assert findings(tail) == []  # items: may read $calls, and so may the function it calls
    call_level = HEAD.replace(
        "get_vms: {path: /vms, records: items}",
        'get_vms: {path: /vms, records: "items", for_each: {call: get_folders, '
        'where: "folder_path(id) == `[]`"}}',
    )
    doc = load_text(call_level + VALID, "arith.yaml")
    messages = [f.message for f in check_document(doc, load_catalogue())]
    assert not any("folder_path" in m for m in messages), messages


ITEMS = """\
collections:
  availability_zones:
    items: "[{id: 'default', name: 'Default'}, {id: 'b', name: 'B', kind: 'x'}]"
    attributes:
      ems_ref: id
      name: "join('-', [name, kind || 'none'])"
      type: PhysicalZone
  flavors:
    items: "`[{\\"id\\": \\"f1\\"}]`"
    attributes:
      ems_ref: id
      name: {expr: Small}
  cloud_tenants:
    items: "$settings.tenants"
    attributes:
      ems_ref: id
      name: Anything
"""


def test_a_bare_word_where_the_items_are_literal_is_reported() -> None:
    assert findings(ITEMS) == [
        "7:13: collections.availability_zones.attributes.type: 'PhysicalZone' is no field of "
        "the records items: gives (they have id, kind, name); a constant is written "
        "{value: PhysicalZone}",
        "12:20: collections.flavors.attributes.name.expr: 'Small' is no field of the records "
        "items: gives (they have id); a constant is written {value: Small}",
    ]  # items read from settings: the shape is not known, nothing reported


def test_a_root_read_through_a_function_is_reported_at_the_call() -> None:
    tail = VALID + (
        "  ems_folders:\n    from: get_vms\n"
        '    secondary_refs: {by_path: "x && folder_path(id)"}\n'
        "    attributes: {uid_ems: id}\n"
    )
    assert findings(tail) == [
        "24:37: collections.ems_folders.secondary_refs.by_path: expression root '$calls' is "
        "not available here (read by the spec function folder_path())"
    ]


def test_fields_text_and_header_records_cannot_have_are_reported() -> None:
    tail = """\
  get_banner: {path: /banner, format: text}
  get_blob: {path: /blob, method: HEAD, format: headers}
collections:
  ext_management_system:
    from: get_banner
    attributes: {api_version: "version", guid: "@"}
  disks:
    from: get_blob
    attributes:
      device_name: '"x-ms-meta-name"'
      size: '"Content-Length"'
      hardware: {lazy: hardwares, ref: '"x-ms-meta-vm"'}
"""
    lines = findings(tail)
    assert (
        "6:31: collections.ext_management_system.attributes.api_version: 'version' is no field: "
        "the record of a format: text call is the body string (read it as @)"
    ) in lines
    assert (
        "11:13: collections.disks.attributes.size: 'Content-Length' is no header name: a "
        'format: headers call\'s names are lower-cased (read "content-length")'
    ) in lines
    assert len(lines) == 2, lines  # "@" and lower-case names are fine
