"""Save order for persist: the dependency graph of the collections of one refresh.

Takes: the catalogue, the parsed inventory and the names of the collections being saved.
Gives: a ``SaveGraph``: the save order (topological, stable), the attributes that close a cycle
and are therefore written in a later update-only pass, the ``key`` attributes each collection
is looked up by, and the secondary-ref values each collection is looked up by;
``parent_reference`` (the reference an owner-less collection is scoped by) and ``sweeps``
(whether a collection's unseen rows go).
Raises: ``MappingError`` on a reference to an unknown collection or a cycle among attributes
that cannot be deferred (manager_ref parts and parent collections). No I/O.

Rules (inventory_refresh's, see reference §2.3-2.4): collection A depends on B when objects of A
hold a lazy reference into B (a lazy with ``key`` only when the key is itself a reference of B),
and on its ``parent_collections``; a lazy nested in a composite ref (a payload's source inside
the reference to the payload) adds an edge to its own target too. Lookups by a computed
secondary ref (a mapping's ``secondary_refs``) are resolved in memory and need no database
values. Edges of manager_ref attributes and parent collections are
fixed; other edges are added one attribute at a time and an attribute whose edge would close a
cycle (including a self-reference) is deferred instead. Many-to-many attributes make no edges:
join rows are written after every collection is saved.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from miqspec.errors import MappingError
from miqspec.parse import InventoryObject, LazyRef, ParsedInventory
from miqspec.persist.values import secondary_value
from miqspec.spec import Catalogue, CollectionDef, ReferenceDef

PARENT_EDGE = "__parent_collections"
_REF_KINDS = frozenset({LazyRef, InventoryObject, list, tuple})


@dataclass
class SaveGraph:
    """The result of scanning one refresh's objects."""

    order: list[str]
    deferred: dict[str, set[str]] = field(default_factory=dict)
    lazy_keys: dict[str, set[str]] = field(default_factory=dict)
    secondary: dict[tuple[str, str], set[tuple[Any, ...]]] = field(default_factory=dict)
    depends: dict[str, set[str]] = field(default_factory=dict)
    #: (collection, attribute) pairs whose objects hold references
    ref_attrs: set[tuple[str, str]] = field(default_factory=set)
    #: collections whose deferred attributes refer to themselves only (a tree's parent): their
    #: update pass runs right after they are saved, so that later collections read final
    #: ``ancestry`` paths (a VM's node under a resource pool's node)
    early: set[str] = field(default_factory=set)


class _Scan:
    def __init__(
        self,
        catalogue: Catalogue,
        saved: set[str],
        computed: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        self.catalogue = catalogue
        self.saved = saved
        self.edges: dict[tuple[str, str], set[str]] = {}
        self.lazy_keys: dict[str, set[str]] = {}
        self.ref_attrs: set[tuple[str, str]] = set()
        self.secondary: dict[tuple[str, str], set[tuple[Any, ...]]] = {}
        # the mappings' computed secondary refs (found in memory only, never in the database)
        self.computed = computed or {}
        # collections whose manager_ref holds references: refs to them may nest lazies
        self.nesting = {
            n for n, c in catalogue.collections.items() if set(c.manager_ref) & set(c.references)
        }

    def lazy(self, source: str, attr: str, ref: LazyRef) -> None:
        target = self.catalogue.get(ref.collection)
        if target is None:
            raise MappingError(
                f"{source}.{attr}: lazy reference to unknown collection {ref.collection!r}"
            )
        edge = ref.key is None or ref.key in target.references
        if ref.key is not None:
            self.lazy_keys.setdefault(ref.collection, set()).add(ref.key)
        secondary = ref.secondary  # a computed one is found in memory: no database lookup
        if secondary is not None and secondary not in self.computed.get(ref.collection, ()):
            if ref.secondary not in target.secondary_refs:
                raise MappingError(
                    f"{source}.{attr}: collection {ref.collection!r} has no secondary ref "
                    f"{ref.secondary!r}"
                )
            self.secondary.setdefault((ref.collection, secondary), set()).add(
                tuple(secondary_value(v) for v in ref.ref)
            )
        if edge and ref.collection in self.saved:
            self.edges.setdefault((source, attr), set()).add(ref.collection)
        if ref.collection in self.nesting:  # a lazy nested in a composite ref needs its target
            for part in ref.ref:
                if type(part) is LazyRef:
                    self.lazy(source, attr, part)

    def value(self, source: str, attr: str, value: Any, m2m: bool) -> None:
        self.ref_attrs.add((source, attr))
        kind = type(value)
        if kind is LazyRef:
            if m2m:
                self._m2m(source, attr, value)
            else:
                self.lazy(source, attr, value)
        elif kind is InventoryObject:
            if not m2m and value.collection in self.saved:
                self.edges.setdefault((source, attr), set()).add(value.collection)
        elif kind is list or kind is tuple:
            for item in value:
                if type(item) is LazyRef:
                    self._m2m(source, attr, item)

    def _m2m(self, source: str, attr: str, ref: LazyRef) -> None:
        """Record lookups made by a many-to-many link without making a graph edge."""
        saved = self.saved
        self.saved = set()
        try:
            self.lazy(source, attr, ref)
        finally:
            self.saved = saved


def _reaches(depends: Mapping[str, set[str]], start: str, goal: str) -> bool:
    """True when ``start`` depends (transitively) on ``goal``."""
    seen: set[str] = set()
    stack = [start]
    while stack:
        node = stack.pop()
        if node == goal:
            return True
        if node in seen:
            continue
        seen.add(node)
        stack.extend(depends.get(node, ()))
    return False


def _sort(names: list[str], depends: Mapping[str, set[str]]) -> list[str]:
    """Layered topological sort (inventory_refresh's), stable within a layer."""
    done: set[str] = set()
    order: list[str] = []
    pending = list(names)
    while pending:
        layer = [n for n in pending if depends.get(n, set()) <= done]
        if not layer:
            raise MappingError(
                "inventory collections depend on each other in a cycle: " + ", ".join(pending)
            )
        order.extend(layer)
        done.update(layer)
        pending = [n for n in pending if n not in done]
    return order


def plan_save(catalogue: Catalogue, inventory: ParsedInventory, names: Iterable[str]) -> SaveGraph:
    """Scan the objects of ``names`` and return their save order and deferred attributes.
    A carrying collection (``inventory.carried``) is not scanned: it has the edges of every
    plain lazy its mapping declares (``Carried.refs``), which are what its objects, parsed or
    carried, would have, and perhaps more; its lazies have no ``key`` or secondary ref."""
    names = list(names)
    saved = set(names)
    scan = _Scan(catalogue, saved, inventory.secondary)
    for name, carried in inventory.carried.items():
        if name in saved:
            for attr, target in carried.refs:
                scan.ref_attrs.add((name, attr))
                if target in saved:
                    scan.edges.setdefault((name, attr), set()).add(target)
    for name in names:
        if name in inventory.carried:
            continue
        cdef = catalogue.collections[name]
        m2m = cdef.many_to_many
        seen: set[tuple[str, int]] = set()  # the parser shares equal references: scan once
        for obj in inventory.objects.get(name, {}).values():
            for attr, value in obj.data.items():
                if type(value) in _REF_KINDS:
                    once = (attr, id(value))
                    if once not in seen:
                        seen.add(once)
                        scan.value(name, attr, value, attr in m2m)
    depends: dict[str, set[str]] = {n: set() for n in names}
    fixed: list[tuple[str, str, set[str]]] = []
    loose: list[tuple[str, str, set[str]]] = []
    for name in names:
        cdef = catalogue.collections[name]
        parents = {p for p in cdef.parent_collections if p in saved and p != name}
        if parents:
            fixed.append((name, PARENT_EDGE, parents))
        for attr in sorted({a for (s, a) in scan.edges if s == name}):
            targets = scan.edges[(name, attr)]
            (fixed if attr in cdef.manager_ref else loose).append((name, attr, targets))
    for name, attr, targets in fixed:
        for target in targets:
            if target == name or _reaches(depends, target, name):
                raise MappingError(
                    f"{name}.{attr}: manager_ref reference to {target!r} closes a dependency "
                    "cycle that cannot be broken"
                )
            depends[name].add(target)
    deferred: dict[str, set[str]] = {}
    elsewhere: set[str] = set()  # collections with a deferred attribute closing a longer cycle
    for name, attr, targets in loose:
        if any(t == name or _reaches(depends, t, name) for t in targets):
            deferred.setdefault(name, set()).add(attr)
            if any(t != name and _reaches(depends, t, name) for t in targets):
                elsewhere.add(name)
            else:  # a self-reference: its other targets (nested lazies) come first
                depends[name].update(targets - {name})
        else:
            depends[name].update(targets)
    return SaveGraph(
        order=_sort(names, depends),
        deferred=deferred,
        lazy_keys=scan.lazy_keys,
        secondary=scan.secondary,
        depends=depends,
        ref_attrs=scan.ref_attrs,
        early=set(deferred) - elsewhere,
    )


def parent_reference(catalogue: Catalogue, name: str) -> ReferenceDef | None:
    """The reference that scopes an ``owner: none`` collection: to a parent collection first,
    else to another owner-less collection (disks -> hardwares -> vms); manager_ref parts first."""
    cdef = catalogue.collections[name]
    refs = [cdef.references[a] for a in cdef.manager_ref if a in cdef.references]
    refs += [r for a, r in cdef.references.items() if a not in cdef.manager_ref]
    for rdef in refs:
        if any(c in cdef.parent_collections for c in rdef.collections):
            return rdef
    for rdef in refs:
        targets = [catalogue.get(c) for c in rdef.collections]
        if any(t is not None and t.owner == "none" and t.name != name for t in targets):
            return rdef
    return None


def sweeps(cdef: CollectionDef, complete: Mapping[str, bool]) -> bool:
    """True when the rows of ``cdef``'s collection that this refresh did not see go (deleted
    or disconnected): the collection is complete and its ``delete`` is not ``none``."""
    return complete.get(cdef.name, True) and cdef.delete != "none"
