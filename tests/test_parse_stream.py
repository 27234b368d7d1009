"""parse_stream: simple sources parsed while pages arrive give what parse alone gives."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from miqspec.collect import CallResult, CollectResult, collect
from miqspec.errors import MappingError
from miqspec.model import Spec
from miqspec.objects import ParsedInventory
from miqspec.parse import parse
from miqspec.parse_stream import ParseStream
from miqspec.pipeline import make_session
from miqspec.simulator import Simulator
from miqspec.specs import load_spec

from .test_connect import sim_args
from .test_parse import spec_of

AWESOME = Path(__file__).resolve().parents[1] / "provider_specs" / "awesome_cloud.yaml"

SIMPLE = """
calls:
  get_vms: {path: /vms, records: items}
  get_more: {path: /more, records: items}
collections:
  vms:
    from: get_vms
    attributes: {ems_ref: id, name: "upper(name)"}
  flavors:
    sources:
      - from: get_vms
        attributes: {ems_ref: "join('-', [id, 'f'])", name: name}
      - from: get_more
        attributes: {ems_ref: id, name: "join('', ['x', $provider.name])"}
"""


def objects(inv: ParsedInventory) -> dict[str, list[Any]]:
    return {name: list(objs.values()) for name, objs in inv.objects.items()}


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(instances=23, flavors=7, images=11, page_size=4) as s:
        yield s


def test_a_refresh_parsed_while_collecting_builds_the_same_objects(sim: Simulator) -> None:
    spec = load_spec(str(AWESOME))
    args = {"provider_region": "us-east-1", **sim_args(sim)}
    session = make_session(spec, args)
    roots = [c for m in spec.collections.values() for c in m.calls]
    try:
        with ParseStream(spec) as stream:
            got = collect(session, roots, on_page=stream.feed)
        assert stream.active
        streamed = parse(spec, got, context=session.ctx, streamed=stream)
        alone = parse(spec, got, context=session.ctx)
    finally:
        session.close()
    assert stream.taken >= 3  # flavors, miq_templates, vms at least came from the stream
    assert objects(streamed) == objects(alone)
    assert [len(v) for v in objects(streamed).values()] == [
        len(v) for v in objects(alone).values()
    ]
    assert len(streamed.objects["vms"]) == 23 and streamed.complete == alone.complete


def _records(n: int, prefix: str = "r") -> list[dict[str, Any]]:
    return [{"id": f"{prefix}{i}", "name": f"n{i}"} for i in range(n)]


def test_only_sources_without_scope_are_streamed(tmp_path: Path) -> None:
    spec = spec_of(tmp_path, SIMPLE)
    vms, more = _records(5), _records(2, "m")
    with ParseStream(spec) as stream:
        for page in (vms[:3], vms[3:]):
            stream.feed("get_vms", page)
        stream.feed("get_more", more)  # its source reads $provider: parsed afterwards
    calls = {"get_vms": CallResult("get_vms", vms), "get_more": CallResult("get_more", more)}
    inv = parse(spec, CollectResult(calls), streamed=stream)
    assert stream.taken == 2
    assert objects(inv) == objects(parse(spec, CollectResult(calls)))
    assert [o.data["name"] for o in inv.objects["vms"].values()] == [f"N{i}" for i in range(5)]
    assert [o.ref for o in inv.objects["flavors"].values()][-2:] == [("m0",), ("m1",)]


def test_records_the_stream_did_not_see_are_parsed_again(tmp_path: Path) -> None:
    spec = spec_of(tmp_path, SIMPLE)
    with ParseStream(spec) as stream:
        stream.feed("get_vms", _records(3))
    final = _records(3, "other")  # e.g. a fallback replaced the call's records
    calls = {"get_vms": CallResult("get_vms", final), "get_more": CallResult("get_more", [])}
    inv = parse(spec, CollectResult(calls), streamed=stream)
    assert stream.taken == 0
    assert [o.ref for o in inv.objects["vms"].values()] == [("other0",), ("other1",), ("other2",)]


def test_a_mapping_failure_is_raised_where_parse_raises_it(tmp_path: Path) -> None:
    spec: Spec = spec_of(tmp_path, SIMPLE)
    bad = [{"id": "a", "name": "fine"}, {"id": "b", "name": 5}]  # upper() of a number
    calls = CollectResult({"get_vms": CallResult("get_vms", bad)})
    with pytest.raises(MappingError) as alone:
        parse(spec, calls)
    with ParseStream(spec) as stream:
        stream.feed("get_vms", bad)
    with pytest.raises(MappingError) as streamed:
        parse(spec, calls, streamed=stream)
    assert str(streamed.value) == str(alone.value)
    assert "collections.vms" in str(streamed.value) and "id='b'" in str(streamed.value)


def test_a_stream_not_closed_gives_nothing(tmp_path: Path) -> None:
    spec = spec_of(tmp_path, SIMPLE)
    stream = ParseStream(spec).start()
    try:
        stream.feed("get_vms", _records(2))
        source = spec.collections["vms"].sources[0]
        assert stream.take(source, []) is None
    finally:
        stream.close()
