"""Typed values passed from parse to persist: inventory objects and lazy references.

Takes/gives plain data only; no I/O, raises nothing.

A ``LazyRef`` names an object of another collection by its manager_ref values (in the order of
that collection's ``manager_ref``), like ManageIQ's ``lazy_find``. Manager_ref values are kept as
the parser produced them; values that are references (a hardware's ``vm_or_template``) are
themselves ``LazyRef``s, so the tuple stays hashable.
"""

from __future__ import annotations

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
class ParsedInventory:
    """Everything one refresh built, by collection, in build order; first build of a ref wins.

    ``complete[c]`` is False when a call feeding collection ``c`` failed or was skipped; such a
    collection never deletes or disconnects rows.
    """

    objects: dict[str, dict[tuple[Any, ...], InventoryObject]] = field(default_factory=dict)
    complete: dict[str, bool] = field(default_factory=dict)

    def build(self, obj: InventoryObject) -> InventoryObject:
        """Add ``obj`` unless an object with the same ref exists; return the kept object."""
        bucket = self.objects.setdefault(obj.collection, {})
        kept = bucket.get(obj.ref)
        if kept is None:
            bucket[obj.ref] = obj
            return obj
        return kept

    def count(self, collection: str) -> int:
        return len(self.objects.get(collection, {}))
