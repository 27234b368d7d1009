"""Record carry: which collections may skip parsing records the last refresh parsed as they are.

Takes: a ``Spec`` (which collections qualify), a call's records (their digests), and the
record map the last refresh stored for a collection (record digest -> row id).
Gives: ``carry_plans(spec)`` (collection -> ``CarryPlan``: its call, its lazies' attributes
and target collections, its map's fingerprint, the record fields its objects are built from
when every expression reads named fields only); ``record_digests(records, fields)`` (unsigned
64-bit XXH3 of each record's marshalled value, or of those fields' values, in C; None for a
record marshal cannot write);
``page_digests`` (the same, reusing the stored digests of pages whose bytes are unchanged);
and ``split(records, digests, stored)`` (the carried row ids with their digests, and the
records to parse). Raises nothing. No I/O.

A collection qualifies when what a record gives depends on that record alone and nothing
else reads its objects: one source reading a call's records (no ``each``, no roots such as
``$provider`` or ``$calls``, no templates, no computed secondary refs, no ``tags``; a
collection with several sources, ``merge:`` ones too, never qualifies); no many-to-many or
``ancestry`` attribute set; a manager_ref of plain values; its lazies plain (no ``key``, no
``by``: persist gathers what those look up from the objects); no lazy in the spec that takes
a ``key`` of its objects or finds them ``by`` a secondary ref (both read the object itself);
not the provider's own row, not a lookup-only collection.
Its map's fingerprint covers the spec's document (as loaded), the collection's catalogue
definition and the engine's source, so any edit to the mapping or the code parses every
record again. When every expression of the source reads named fields only (paths, literals,
arithmetic and calls over them), a record's digest covers only the top-level fields they read:
a change elsewhere in the record (a timestamp the mapping ignores) parses nothing.
Whether a carried record's row is still what its object would give is persist's
question (``persist.carry``).
"""

from __future__ import annotations

import hashlib
import json
import marshal
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from itertools import compress, repeat
from operator import is_, is_not
from typing import Any

from xxhash import xxh3_64_intdigest

from miqspec.cache import engine_hash
from miqspec.spec import LAZY_ALIASES, Attribute, Source, Spec, source_expressions

FORMAT = "miqspec-record-digest-2"
EMS_TABLE = "ext_management_systems"


@dataclass(frozen=True)
class Carry:
    """What parse needs to carry records: the plans, each collection's stored record map
    (record digest -> row id; empty: digests are taken, nothing is carried) and page map
    (page digest -> the digests of its records: an unchanged page's are not taken again)."""

    plans: dict[str, CarryPlan]
    stored: dict[str, dict[int, int]]
    pages: dict[str, dict[int, list[int]]] = field(default_factory=dict)


@dataclass(frozen=True)
class CarryPlan:
    """How a qualifying collection carries records: its call, its reference attributes with the
    collection each points at (their rows must be unchanged for a carried row to be; persist's
    save order has these edges), its map's fingerprint, and whether any lazy of the spec points
    at it (else persist needs no identity key of its carried rows)."""

    collection: str
    call: str
    refs: tuple[tuple[str, str], ...]
    fingerprint: str
    referenced: bool = True  # some lazy of the spec points at the collection
    fields: tuple[str, ...] | None = None  # what a record digest covers (None: all of it)


def carry_plans(spec: Spec) -> dict[str, CarryPlan]:
    """The collections of ``spec`` whose records may be carried (see the module docstring)."""
    looked_into, pointed_at = _read_objects(spec)
    # an alias lazy is resolved on the objects built (parse.aliases): its collections build all
    aliased = {m for a in pointed_at & set(LAZY_ALIASES) for m in LAZY_ALIASES[a]}
    text = _spec_text(spec)
    plans: dict[str, CarryPlan] = {}
    for name, mapping in spec.collections.items():
        sources = mapping.all_sources or mapping.sources
        cdef = spec.catalogue.collections[name]
        if len(sources) != 1 or name in looked_into | aliased or cdef.table == EMS_TABLE:
            continue  # (the provider's own row is always built)
        if cdef.delete == "archive" or cdef.archive_on_change:
            continue  # rows are archived, not kept: every record is compared (persist.fast)
        if cdef.owner == "none" and cdef.delete == "none":
            continue  # a lookup-only collection: other collections find its objects in memory
        source = sources[0]
        if not _pure(source) or set(cdef.manager_ref) & set(cdef.references):
            continue
        names = {a.name for a in source.attributes}
        if names & set(cdef.many_to_many) or any(
            cdef.references[a].kind == "ancestry" for a in names & set(cdef.references)
        ):
            continue
        lazies = [(a.name, inner) for a in source.attributes for inner in _walk(a) if inner.lazy]
        if any(
            inner.key or inner.by or inner.kind != "lazy" or inner.lazy in LAZY_ALIASES
            for _, inner in lazies
        ):
            continue  # what persist looks up for these comes from scanning the objects
        refs = tuple(dict.fromkeys((attr, inner.lazy or "") for attr, inner in lazies))
        parts = (FORMAT, engine_hash(), text, name, source.call, repr(cdef))
        fp = hashlib.sha1(repr(parts).encode(), usedforsecurity=False).hexdigest()
        plans[name] = CarryPlan(
            name, source.call, refs, fp, name in pointed_at, _fields_read(source)
        )
    return plans


def record_digests(
    records: Sequence[Any], fields: tuple[str, ...] | None = None
) -> list[int | None]:
    """A 64-bit digest per record (equal records, equal digests), None where marshal fails.
    ``fields``: the digest covers only these top-level fields of each record (a missing one
    counts as null), when every record is a JSON object; else the whole record."""
    values: Sequence[Any] = records
    if fields:
        try:
            values = list(zip(*(map(dict.get, records, repeat(f)) for f in fields), strict=True))
        except TypeError:  # a record that is not an object: whole records
            values = records
    try:
        return list(map(xxh3_64_intdigest, map(marshal.dumps, values, repeat(2))))
    except ValueError:  # a value marshal cannot write: the records one by one
        return [_one(v) for v in values]


def page_digests(
    records: Sequence[Any],
    pages: Sequence[tuple[int, int]] | None,
    stored: dict[int, list[int]],
    fields: tuple[str, ...] | None = None,
) -> tuple[list[int | None], list[tuple[int, list[int]]], bool]:
    """``record_digests(records, fields)``, taken page by page where ``pages`` (the call's page
    digests and record counts) covers the records: a page ``stored`` knows gives its stored
    digests. Also (page digest, its record digests) of every page, and whether any page was
    not in ``stored``."""
    if pages is None or sum(n for _, n in pages) != len(records):
        return record_digests(records, fields), [], True
    out: list[int | None] = []
    fresh: list[tuple[int, list[int]]] = []
    changed = len(pages) != len(stored)
    start = 0
    for page, count in pages:
        got: list[int | None] | None = stored.get(page)  # type: ignore[assignment]
        if got is None or len(got) != count:
            got = record_digests(records[start : start + count], fields)
            changed = True
        out.extend(got)
        if None not in got:
            fresh.append((page, got))  # type: ignore[arg-type]
        start += count
    return out, fresh, changed


def split(
    records: Sequence[Any], digests: Sequence[int | None], stored: dict[int, int]
) -> tuple[list[tuple[int, int]], list[tuple[Any, int | None]]]:
    """(digest, row id) of the records found in ``stored`` (each row once, first record
    first) and (record, digest) of the others, in record order."""
    if not stored:
        return [], list(zip(records, digests, strict=True))
    get: Any = stored.get  # a None digest finds nothing
    rids: list[Any] = list(map(get, digests))
    misses = list(map(is_, rids, repeat(None)))
    rest = list(compress(zip(records, digests, strict=True), misses))
    hits = list(map(is_not, rids, repeat(None)))
    found: Any = compress(digests, hits)  # digests that found a row: never None
    pairs: dict[int, int] = dict(zip(compress(rids, hits), found, strict=True))
    return [(dg, rid) for rid, dg in pairs.items()], rest


def _one(record: Any) -> int | None:
    try:
        return xxh3_64_intdigest(marshal.dumps(record, 2))
    except ValueError:
        return None


def _pure(source: Source) -> bool:
    """True when the source's objects depend on each record alone."""
    if not source.call or source.each or source.items is not None or source.secondary_refs:
        return False
    if source.tags is not None:  # labels are read from every record (persist.tags)
        return False
    if any(e.roots for e in source_expressions(source)):
        return False
    return not any(_templates(a) for a in source.attributes)


def _fields_read(source: Source) -> tuple[str, ...] | None:
    """The top-level fields of a record its objects are built from, when every expression of
    the source reads named fields only (paths, literals, arithmetic and calls over them:
    ``Expression.fields``; None: any part of the record may count)."""
    fields: set[str] = set()
    for expr in source_expressions(source):
        if expr.fields is None:
            return None
        fields |= expr.fields
    return tuple(sorted(fields))


def _templates(attr: Attribute) -> bool:
    if attr.template is not None:
        return True
    return any(isinstance(p, Attribute) and _templates(p) for _, p in attr.ref_parts)


def _walk(attr: Attribute) -> Iterator[Attribute]:
    yield attr
    for _, part in attr.ref_parts:
        if isinstance(part, Attribute):
            yield from _walk(part)


def _read_objects(spec: Spec) -> tuple[set[str], set[str]]:
    """Collections whose objects some lazy reads (a ``key`` of them or ``by`` a secondary
    ref: a carried record has no object to read), and collections some lazy points at."""
    found: set[str] = set()
    pointed: set[str] = set()
    for mapping in spec.collections.values():
        for source in mapping.all_sources or mapping.sources:
            for attr in source.attributes:
                for a in _walk(attr):
                    if a.lazy:
                        pointed.add(a.lazy)
                        if a.key or a.by:
                            found.add(a.lazy)
    return found, pointed


def _spec_text(spec: Spec) -> str:
    """A hash of the document the spec model was built from (not the file as it is now: it
    may have been edited since)."""
    if spec.raw:
        text = json.dumps(spec.raw, sort_keys=True, default=repr)
        return hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()
    return repr(spec)  # no document: the model itself (never equal across processes)


__all__ = [
    "Carry",
    "CarryPlan",
    "carry_plans",
    "page_digests",
    "record_digests",
    "split",
]
