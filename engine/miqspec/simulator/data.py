"""Deterministic data of the Awesome Cloud simulator: generation, cursor pages and mutations.

Takes: sizes (instances, flavors, images) and a seed. Gives: a ``Dataset`` holding the regions,
availability zones, instance types (flavors), images and instances as lists of plain dicts,
cursor pages over them and deterministic mutations. Ids are uuid5 values derived from the seed
and the item's index, so two datasets built with the same arguments (and mutated the same way)
are identical. Lists and dicts are never edited in place once published (copy-on-write): a
mutation builds new lists and swaps them in, so readers on other threads always see a
consistent snapshot without locking. Raises ``InvalidToken`` for a next_token it did not issue.
Does no I/O.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import random
import threading
import time
import uuid
from bisect import bisect_right
from dataclasses import dataclass
from typing import Any, NamedTuple

Item = dict[str, Any]

REGIONS: tuple[Item, ...] = (
    {"name": "us-east-1", "hostname": "us-east-1.awesome.cloud", "description": "US East 1"},
)
ZONE_IDS = ("us-east-1a", "us-east-1b", "us-east-1c")
POWER_STATES = ("running", "stopped", "suspended")
PAGINATED = ("instance_types", "images", "instances")
EPOCH = 1_609_459_200  # 2021-01-01T00:00:00Z: created_at values count from here
GIB = 1024**3

_FAMILIES = (("t3", 1), ("m5", 4), ("c5", 2), ("r5", 8), ("a1", 2), ("x1", 16), ("i3", 8))
_SIZES = ("nano", "micro", "small", "medium", "large", "xlarge", "2xlarge", "4xlarge", "8xlarge")
_DISTROS = ("ubuntu-22.04", "debian-12", "rhel-9", "fedora-39", "alpine-3.19")
_WINDOWS = ("windows-2019", "windows-2022")


class InvalidToken(ValueError):
    """A next_token this dataset did not issue (or one issued for another collection)."""


@dataclass(frozen=True)
class Snapshot:
    """The data as it is now; the lists are copies, the dicts are shared and read-only."""

    regions: list[Item]
    availability_zones: list[Item]
    flavors: list[Item]
    images: list[Item]
    instances: list[Item]


class _Table(NamedTuple):
    items: list[Item]
    keys: list[int]  # ascending creation index of each item: the cursor position


class _IdMaker:
    """uuid5(namespace(seed), name), computed directly from sha1 (same value, less overhead)."""

    def __init__(self, seed: int | str) -> None:
        self._prefix = uuid.uuid5(uuid.NAMESPACE_URL, f"awesome-cloud-simulator/{seed}").bytes

    def make(self, name: str) -> tuple[str, bytes]:
        digest = hashlib.sha1(self._prefix + name.encode()).digest()
        h = digest.hex()
        variant = "89ab"[int(h[16], 16) & 3]
        return f"{h[:8]}-{h[8:12]}-5{h[13:16]}-{variant}{h[17:20]}-{h[20:32]}", digest


def namespace_for(seed: int | str) -> uuid.UUID:
    """The uuid5 namespace of a seed: item ids are ``uuid5(namespace, "<kind>/<index>")``."""
    return uuid.UUID(bytes=_IdMaker(seed)._prefix)


def iso8601(epoch_seconds: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch_seconds))


def _flavor(ids: _IdMaker, index: int) -> Item:
    uid, _ = ids.make(f"instance_type/{index}")
    family, gib_per_cpu = _FAMILIES[index % len(_FAMILIES)]
    size_index = (index // len(_FAMILIES)) % len(_SIZES)
    generation = index // (len(_FAMILIES) * len(_SIZES))
    name = f"{family}.{_SIZES[size_index]}" + (f".g{generation}" if generation else "")
    n_cpus = 2 ** max(size_index - 2, 0)
    return {
        "id": uid,
        "name": name,
        "n_cpus": n_cpus,
        "ram": n_cpus * gib_per_cpu * GIB // (4 if size_index < 2 else 1),
        "disk_size": (size_index + 1) * 8 * GIB,
    }


def _image(ids: _IdMaker, index: int) -> Item:
    uid, digest = ids.make(f"image/{index}")
    windows = digest[0] % 5 == 0
    names = _WINDOWS if windows else _DISTROS
    return {
        "id": uid,
        "name": f"{names[digest[1] % len(names)]}-{index:05d}",
        "os": "windows" if windows else "linux",
        "public": digest[2] % 2 == 0,
        "created_at": iso8601(EPOCH + index * 3600 + digest[3]),
    }


def _instance(ids: _IdMaker, index: int, flavor_ids: list[str], image_ids: list[str]) -> Item:
    uid, d = ids.make(f"instance/{index}")
    n = index + 1
    return {
        "id": uid,
        "name": f"instance-{index:06d}",
        "availability_zone": ZONE_IDS[d[0] % len(ZONE_IDS)],
        "power_state": POWER_STATES[0 if d[1] < 180 else (1 if d[1] < 230 else 2)],
        "flavor": flavor_ids[(d[2] << 8 | d[3]) % len(flavor_ids)] if flavor_ids else None,
        "image": image_ids[(d[4] << 8 | d[5]) % len(image_ids)] if image_ids else None,
        "private_ip": f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}",
        "public_ip": f"198.{18 + ((n >> 16) & 1)}.{(n >> 8) & 255}.{n & 255}" if d[6] & 1 else None,
        "created_at": iso8601(EPOCH + index * 60 + d[7]),
    }


def _table(items: list[Item], keys: list[int] | None = None) -> _Table:
    return _Table(items, keys if keys is not None else list(range(len(items))))


def encode_token(name: str, key: int) -> str:
    return base64.urlsafe_b64encode(f"{name}:{key}".encode()).decode().rstrip("=")


def decode_token(name: str, token: str) -> int:
    """The cursor position in ``token``; raises InvalidToken unless it was issued for ``name``."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        kind, _, key = raw.partition(":")
        if kind != name:
            raise InvalidToken(f"next_token was not issued for {name}")
        return int(key)
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise InvalidToken("invalid next_token") from exc


class Dataset:
    """The simulator's data; safe to read from many threads while one mutates."""

    def __init__(self, instances: int, flavors: int, images: int, seed: int | str = 0) -> None:
        self.seed = seed
        self._ids = _IdMaker(seed)
        self._lock = threading.Lock()
        flavor_items = [_flavor(self._ids, i) for i in range(flavors)]
        image_items = [_image(self._ids, i) for i in range(images)]
        flavor_ids = [f["id"] for f in flavor_items]
        image_ids = [i["id"] for i in image_items]
        instance_items = [_instance(self._ids, i, flavor_ids, image_ids) for i in range(instances)]
        self._zones = [{"id": z, "name": z, "state": "available"} for z in ZONE_IDS]
        self._initial: dict[str, _Table] = {
            "instance_types": _table(flavor_items),
            "images": _table(image_items),
            "instances": _table(instance_items),
        }
        self._initial_next_index = instances
        self._by_id: tuple[_Table, dict[str, Item]] | None = None
        self.reset()

    def reset(self) -> None:
        """Back to the data as generated (mutations forgotten, their numbering restarts)."""
        with self._lock:
            self._tables = dict(self._initial)
            self._next_index = self._initial_next_index
            self._generation = 0

    def regions(self) -> list[Item]:
        return [dict(r) for r in REGIONS]

    def availability_zones(self) -> list[Item]:
        return list(self._zones)

    def snapshot(self) -> Snapshot:
        tables = self._tables
        return Snapshot(
            regions=self.regions(),
            availability_zones=self.availability_zones(),
            flavors=list(tables["instance_types"].items),
            images=list(tables["images"].items),
            instances=list(tables["instances"].items),
        )

    def instance(self, instance_id: str) -> Item | None:
        """The instance with this id as served now, or None."""
        table = self._tables["instances"]
        cached = self._by_id
        if cached is None or cached[0] is not table:
            cached = self._by_id = (table, {item["id"]: item for item in table.items})
        return cached[1].get(instance_id)

    def one(self, name: str, item_id: str) -> Item | None:
        """The item of ``name`` (instances, instance_types, images) with this id, or None."""
        if name == "instances":
            return self.instance(item_id)
        return next((i for i in self._tables[name].items if i["id"] == item_id), None)

    def start_token(self, name: str) -> str:
        """A token that points before the first item of ``name`` (used by endless pages)."""
        return encode_token(name, -1)

    def page(self, name: str, limit: int, token: str | None) -> tuple[list[Item], str | None]:
        """Up to ``limit`` items of ``name`` after ``token``'s position, and the next token."""
        table = self._tables[name]
        after = decode_token(name, token) if token else -1
        start = bisect_right(table.keys, after)
        end = start + limit
        items = table.items[start:end]
        next_token = encode_token(name, table.keys[end - 1]) if end < len(table.items) else None
        return items, next_token

    def mutate(
        self,
        add: int = 0,
        change: int = 0,
        remove: int = 0,
        remove_flavors: int = 0,
        power: int = 0,
        change_flavors: int = 0,
        change_images: int = 0,
    ) -> dict[str, list[str]]:
        """Apply one deterministic mutation; returns the affected ids.

        Order: remove flavors, remove instances, change instances (among those left: the power
        state moves running -> stopped -> suspended -> running and the name gets a ``-m<n>``
        suffix), add instances (new ids continuing the index; flavors drawn from those left).
        Then ``power`` instances change power state only, and ``change_flavors`` flavors and
        ``change_images`` images get a ``-m<n>`` name suffix.
        Counts larger than what exists are clamped. Which items are hit is drawn from a random
        generator seeded with the seed and the mutation's number.
        """
        if min(add, change, remove, remove_flavors, power, change_flavors, change_images) < 0:
            raise ValueError("mutation counts must not be negative")
        with self._lock:
            self._generation += 1
            generation = self._generation
            rng = random.Random(f"{self.seed}/mutation/{generation}")
            flavors = self._tables["instance_types"]
            gone_flavors = _pick(rng, len(flavors.items), remove_flavors)
            removed_flavors = [flavors.items[p]["id"] for p in sorted(gone_flavors)]
            flavors = _without(flavors, gone_flavors)
            table = self._tables["instances"]
            gone = _pick(rng, len(table.items), remove)
            removed = [table.items[p]["id"] for p in sorted(gone)]
            table = _without(table, gone)
            items, keys = list(table.items), list(table.keys)
            changed = []
            for pos in sorted(_pick(rng, len(items), change)):
                old = items[pos]
                state = _next_power(old["power_state"])
                name = f"instance-{keys[pos]:06d}-m{generation}"
                items[pos] = {**old, "power_state": state, "name": name}
                changed.append(old["id"])
            flavor_ids = [f["id"] for f in flavors.items]
            image_ids = [i["id"] for i in self._tables["images"].items]
            added = []
            for _ in range(add):
                index = self._next_index
                self._next_index += 1
                items.append(_instance(self._ids, index, flavor_ids, image_ids))
                keys.append(index)
                added.append(items[-1]["id"])
            powered = _power(rng, items, power)
            flavors, changed_flavors = _renamed(rng, flavors, change_flavors, generation)
            images, changed_images = _renamed(
                rng, self._tables["images"], change_images, generation
            )
            self._tables = {
                **self._tables,
                "instance_types": flavors,
                "images": images,
                "instances": _Table(items, keys),
            }
        return {
            "added": added,
            "changed": changed,
            "removed": removed,
            "removed_flavors": removed_flavors,
            "powered": powered,
            "changed_flavors": changed_flavors,
            "changed_images": changed_images,
        }

    def update_instance(self, instance_id: str, fields: Item | None) -> Item | None:
        """Replace instance ``instance_id``'s fields by ``fields`` merged over them, or remove
        it (``fields`` None); gives the new item (None: removed, or no such instance).
        Copy-on-write like ``mutate`` (operations of ``simulator.operations``)."""
        with self._lock:
            table = self._tables["instances"]
            pos = next((i for i, it in enumerate(table.items) if it["id"] == instance_id), None)
            if pos is None:
                return None
            items, keys = list(table.items), list(table.keys)
            if fields is None:
                del items[pos], keys[pos]
                new = None
            else:
                new = items[pos] = {**items[pos], **fields}
            self._tables = {**self._tables, "instances": _Table(items, keys)}
        return new

    def add_instance(self, fields: Item) -> Item:
        """A new instance (id and index continuing the dataset's, ``fields`` over the generated
        ones) appended to the instances; gives it (provisioning of ``simulator.operations``)."""
        with self._lock:
            table = self._tables["instances"]
            index = self._next_index
            self._next_index += 1
            flavor_ids = [f["id"] for f in self._tables["instance_types"].items]
            image_ids = [i["id"] for i in self._tables["images"].items]
            item = {**_instance(self._ids, index, flavor_ids, image_ids), **fields}
            self._tables = {
                **self._tables,
                "instances": _Table([*table.items, item], [*table.keys, index]),
            }
        return item


def _next_power(state: str) -> str:
    """The power state a mutation moves an instance to: running -> stopped -> suspended ->
    running; one in the middle of an operation (starting, deleting, ...) goes to running."""
    if state not in POWER_STATES:
        return POWER_STATES[0]
    return POWER_STATES[(POWER_STATES.index(state) + 1) % len(POWER_STATES)]


def _pick(rng: random.Random, size: int, count: int) -> set[int]:
    return set(rng.sample(range(size), min(count, size))) if count > 0 and size > 0 else set()


def _without(table: _Table, positions: set[int]) -> _Table:
    if not positions:
        return table
    keep = [p for p in range(len(table.items)) if p not in positions]
    return _Table([table.items[p] for p in keep], [table.keys[p] for p in keep])


def _power(rng: random.Random, items: list[Item], count: int) -> list[str]:
    """Move ``count`` instances (in place in ``items``, a fresh list) to their next power state."""
    out = []
    for pos in sorted(_pick(rng, len(items), count)):
        old = items[pos]
        state = _next_power(old["power_state"])
        items[pos] = {**old, "power_state": state}
        out.append(old["id"])
    return out


def _renamed(
    rng: random.Random, table: _Table, count: int, generation: int
) -> tuple[_Table, list[str]]:
    """``table`` with ``count`` items renamed ``<name>-m<generation>`` (a new table)."""
    picked = sorted(_pick(rng, len(table.items), count))
    if not picked:
        return table, []
    items = list(table.items)
    for pos in picked:
        base = str(items[pos]["name"]).split("-m")[0]
        items[pos] = {**items[pos], "name": f"{base}-m{generation}"}
    return _Table(items, list(table.keys)), [items[p]["id"] for p in picked]
