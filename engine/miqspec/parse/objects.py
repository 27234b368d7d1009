"""Typed values passed from parse to persist: inventory objects and lazy references.

Takes/gives plain data only; no I/O, raises nothing.

A ``LazyRef`` names an object of another collection by its manager_ref values (in the order of
that collection's ``manager_ref``), like ManageIQ's ``lazy_find``. Manager_ref values are kept as
the parser produced them; values that are references (a hardware's ``vm_or_template``) are
themselves ``LazyRef``s, so the tuple stays hashable.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class LazyRef:
    """A reference to an object of ``collection`` whose ``manager_ref`` equals ``ref``.

    ``key``: take that attribute of the found object instead of the object itself (ManageIQ's
    ``lazy_find(ref, key: :attr)``). ``default``: the value when the reference resolves to
    nothing (or the key is nil). ``secondary``: the name of a secondary ref of the target
    collection (e.g. ``by_uid_ems``) whose attributes ``ref`` holds instead of manager_ref.
    """

    collection: str
    ref: tuple[Any, ...]
    key: str | None = None
    default: Any = None
    secondary: str | None = None


@dataclass(slots=True)
class InventoryObject:
    """One object built by a mapping: its collection, its manager_ref values and attributes.

    ``data`` values are plain values, ``LazyRef``s, or lists of ``LazyRef`` (many-to-many).
    ``data`` holds the manager_ref attributes too.
    """

    collection: str
    ref: tuple[Any, ...]
    data: dict[str, Any]


@dataclass
class Carried:
    """The records of one collection left unparsed because the last refresh parsed each of them,
    as they are, into a row (``parse_carry``). ``pairs``: (record digest, row id) of those;
    ``parsed``: (record digest, manager_ref) of the records parsed into objects;
    ``refs`` ((attribute, target collection) of its lazies) and ``fingerprint``: the
    collection's ``CarryPlan``'s; ``stored``: the map the last refresh stored. ``expand()``
    parses every record of the collection after all (its objects are then what a plain parse
    builds, and ``pairs`` is empty)."""

    refs: tuple[tuple[str, str], ...]
    fingerprint: str
    stored: dict[int, int]
    pairs: list[tuple[int, int]]
    parsed: list[tuple[int, tuple[Any, ...]]]
    expand: Callable[[], None]
    referenced: bool = True  # some lazy points at the collection (``CarryPlan.referenced``)
    #: (page digest, its records' digests) of the call's pages, and whether they differ from
    #: the stored page map (``parse_carry.page_digests``)
    pages: list[tuple[int, list[int]]] = field(default_factory=list)
    pages_changed: bool = True


@dataclass
class ParsedInventory:
    """Everything one refresh built, by collection, in build order; first build of a ref wins
    (a ``merge: true`` source merges into it instead: ``SourceParser.one``).

    ``complete[c]`` is False when a call feeding collection ``c`` failed or was skipped; such a
    collection never deletes or disconnects rows. ``secondary`` holds the mappings' computed
    secondary refs (``secondary_refs: {name: <expression>}``): each key is the tuple of the
    expression's value(s) as manager_ref strings; lookups ``by: name`` find objects here only.
    """

    objects: dict[str, dict[tuple[Any, ...], InventoryObject]] = field(default_factory=dict)
    complete: dict[str, bool] = field(default_factory=dict)
    #: computed secondary refs: collection -> ref name -> key -> first object built with it
    secondary: dict[str, dict[str, dict[tuple[Any, ...], InventoryObject]]] = field(
        default_factory=dict
    )
    #: collections whose record digests were taken (``Carried``): some records may be unparsed
    carried: dict[str, Carried] = field(default_factory=dict)
    #: records that gave no object: collection -> reason -> count (filtered by ``where``: not)
    dropped: dict[str, dict[str, int]] = field(default_factory=dict)
    #: labels of the objects of collections with ``tags:``: collection -> manager_ref ->
    #: (name, value) pairs (sorted, distinct); persist maps them to tags (``persist.tags``)
    labels: dict[str, dict[tuple[Any, ...], tuple[tuple[str, str], ...]]] = field(
        default_factory=dict
    )

    def drop(self, collection: str, reason: str) -> None:
        """Count one record of ``collection`` that gave no object, for ``reason``."""
        reasons = self.dropped.setdefault(collection, {})
        reasons[reason] = reasons.get(reason, 0) + 1

    def build(self, obj: InventoryObject) -> InventoryObject:
        """Add ``obj`` unless an object with the same ref exists; return the kept object."""
        bucket = self.objects.setdefault(obj.collection, {})
        kept = bucket.get(obj.ref)
        if kept is None:
            bucket[obj.ref] = obj
            return obj
        return kept

    def declare_secondary(self, collection: str, name: str) -> dict[tuple[Any, ...], Any]:
        """The index of computed secondary ref ``name`` of ``collection`` (created empty)."""
        return self.secondary.setdefault(collection, {}).setdefault(name, {})

    def index_secondary(self, obj: InventoryObject, name: str, key: tuple[Any, ...]) -> None:
        """Index ``obj`` under ``key`` for secondary ref ``name``; the first object wins."""
        self.declare_secondary(obj.collection, name).setdefault(key, obj)

    def find_secondary(
        self, collection: str, name: str, key: tuple[Any, ...]
    ) -> InventoryObject | None:
        """The first object of ``collection`` built with computed secondary ``key``."""
        return self.secondary.get(collection, {}).get(name, {}).get(key)

    def computed_secondary(self, collection: str, name: str | None) -> bool:
        """True when ``name`` is a computed secondary ref of ``collection`` in this refresh."""
        return name is not None and name in self.secondary.get(collection, {})

    def count(self, collection: str) -> int:
        """Objects built, and records carried unparsed, for ``collection``."""
        carried = self.carried.get(collection)
        extra = len(carried.pairs) if carried is not None else 0
        return len(self.objects.get(collection, {})) + extra
