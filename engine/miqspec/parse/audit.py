"""What a parse lost without failing: records that gave no object, attributes always null.

Takes: a ``Spec`` and the ``ParsedInventory`` parse built from it.
Gives: ``parse_warnings`` -> one line per collection with dropped records (counts per
reason: manager_ref null, manager_ref built before with other values; a record a ``where``
filtered out, or one giving an object equal to one built before, is not a drop), and one per
mapped attribute that is null on every object of its collection (with the attribute's spec
file:line:col). Per collection, not per record: an attribute check stops at the first object
with a value. A collection with records carried unparsed (record carry) is not checked for
nulls: the objects built are then only the changed records.
``attribute_location``: the file:line:col of a collection's attribute rule. No I/O, raises
nothing.
"""

from __future__ import annotations

from miqspec.parse.objects import ParsedInventory
from miqspec.spec import Attribute, Spec


def parse_warnings(spec: Spec, inventory: ParsedInventory) -> list[str]:
    """Dropped records and all-null attributes of ``inventory``, one line each."""
    out: list[str] = []
    for name, mapping in spec.collections.items():
        reasons = inventory.dropped.get(name)
        if reasons:
            total = sum(reasons.values())
            detail = ", ".join(f"{count} {why}" for why, count in sorted(reasons.items()))
            out.append(f"{name}: {total} record(s) dropped ({detail})")
        objects = inventory.objects.get(name) or {}
        carried = inventory.carried.get(name)
        if not objects or (carried is not None and carried.pairs):
            continue
        seen: dict[str, Attribute] = {}
        for source in mapping.all_sources or mapping.sources:
            for attr in source.attributes:
                if attr.kind != "const" and attr.name not in seen:
                    seen[attr.name] = attr
        values = [o.data for o in objects.values()]
        for attr_name, attr in seen.items():
            if all(data.get(attr_name) is None for data in values):
                out.append(
                    f"{name}.{attr_name}: null on all {len(values)} object(s) "
                    f"({attr.location}: does the API have what it reads?)"
                )
    return out


def attribute_location(spec: Spec, collection: str, attribute: str) -> str:
    """Where the spec sets ``collection``'s ``attribute`` (file:line:col of the first rule),
    or that the catalogue's default gave it."""
    mapping = spec.collections.get(collection)
    for source in (mapping.all_sources or mapping.sources) if mapping else ():
        for attr in source.attributes:
            if attr.name == attribute:
                return str(attr.location)
    return f"catalogue default of {collection}.{attribute}"
