"""Row digests for persist: tell unchanged objects without loading or comparing their rows.

Takes: the ``Db`` of a persist run, a collection's ``RowPlan`` and owning manager id, and
afterwards the collection's saved items.
Gives: ``Digests`` (one per persist run): ``open(name, plan, owner_id)`` loads the ids and
identity keys of the collection's rows in scope (one select of those columns only) and the
digests stored for them (one row of ``miqspec_digests``), and returns a ``CollectionDigests``
whose ``hit(key, signature)`` is the row id when the stored digest of the row with that key
equals the object's; ``finish`` stores each collection's new digests when they changed.
Raises: ``DatabaseError`` (through ``Db``). Does database I/O.

A digest is ``RowPlan.signature(obj)`` (64 bits of SHA-1 over the object's attribute names and
values with each reference replaced by the row id (and type) it resolves to now, resolved
reference defaults and the mapped power state) bound to the row's id. Under one plan fingerprint (the
table's columns and types, the collection definition, owner id, STI type, this digest format
and the source of the modules that build rows) equal signatures give equal rows, so a row whose
stored digest matches would compare unchanged: it is not loaded, compared or written. Digests
are stored only for rows this refresh left equal to what the object builds (inserted, updated,
compared unchanged); a collection whose plan fingerprint changed, rows without a digest, a
digest table missing from the database, and collections with deferred attributes take the
full compare. Rows changed behind miqspec's back are not noticed
until their object changes (``persist(..., digests=False)`` compares everything).
"""

from __future__ import annotations

import base64
import hashlib
import sys
from array import array
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from .persist_values import stored_keys

if TYPE_CHECKING:
    from .persist import Item, Persister
    from .persist_db import Db
    from .persist_rows import RowPlan

DIGEST_TABLE = "miqspec_digests"
FORMAT = "miqspec-row-digest-1"
_SOURCES = ("persist_rows.py", "persist_resolve.py", "persist_values.py", "persist_digest.py")
_code: str | None = None


def digest(signature: int, row_id: int) -> int:
    """The stored digest of a row: the object's signature bound to the row's id."""
    return signature ^ row_id


def _code_version() -> str:
    """A hash of the modules that decide what row an object gives (edits re-verify rows)."""
    global _code
    if _code is None:
        h = hashlib.sha1(FORMAT.encode(), usedforsecurity=False)
        for name in _SOURCES:
            try:
                h.update(Path(__file__).with_name(name).read_bytes())
            except OSError:
                h.update(name.encode())
        _code = h.hexdigest()
    return _code


def fingerprint(plan: RowPlan, owner_id: int) -> str:
    """What the plan contributes to every row of the collection, as one hash."""
    parts = (
        _code_version(),
        plan.table.name,
        [(c.name, repr(c.type)) for c in plan.table.columns],
        repr(plan.cdef),
        owner_id,
        plan.sti_type,
        sorted(plan.base.items(), key=repr),
        sorted(plan.deferred),
        plan.power_states is not None,
    )
    return hashlib.sha1(repr(parts).encode(), usedforsecurity=False).hexdigest()


def pack(mapping: dict[int, int]) -> str:
    ids, sums = array("q", mapping.keys()), array("q", mapping.values())
    if sys.byteorder == "big":
        ids.byteswap()
        sums.byteswap()
    return base64.b64encode(ids.tobytes() + sums.tobytes()).decode("ascii")


def unpack(text: str | None) -> dict[int, int]:
    """The mapping ``pack`` wrote; empty when the text is not one (every row is compared)."""
    try:
        raw = base64.b64decode(text or "", validate=True)
    except ValueError:
        return {}
    if len(raw) % 16:
        return {}
    half = len(raw) // 2
    ids, sums = array("q"), array("q")
    ids.frombytes(raw[:half])
    sums.frombytes(raw[half:])
    if sys.byteorder == "big":
        ids.byteswap()
        sums.byteswap()
    return dict(zip(ids, sums, strict=True))


class CollectionDigests:
    """The stored rows of one collection in scope and their digests."""

    def __init__(self, name: str, owner_id: int, fp: str, rows: list[Any], keys: int,
                 stored: dict[int, int], ancestry: bool) -> None:
        self.name, self.owner_id, self.fingerprint = name, owner_id, fp
        rows.sort(key=lambda r: r[0], reverse=True)  # the lowest id wins, as in the compare
        self.ids = [r[0] for r in rows]
        #: stored ``ancestry`` paths by id (tables with one), for the resolver
        self.ancestry: dict[int, Any] = {r[0]: r[-1] for r in rows} if ancestry else {}
        column = [r[1] for r in rows] if keys == 1 else []
        if keys == 1 and set(map(type, column)) <= {str}:
            found: list[tuple[Any, ...]] = list(zip(column))  # (value,) tuples, built in C
        else:
            found = stored_keys(rows, range(1, 1 + keys))
        self.known: dict[tuple[Any, ...], int] = dict(zip(found, self.ids, strict=True))
        self.stored = stored

    def hit(self, key: tuple[Any, ...], signature: int) -> int | None:
        """The id of the stored row with ``key`` when its digest matches ``signature``."""
        rid = self.known.get(key)
        if rid is None:
            return None
        want = self.stored.get(rid)
        return rid if want is not None and want == digest(signature, rid) else None

    def unclaimed(self, claimed: Iterable[int]) -> list[int]:
        """Ids of the rows in scope not taken by an unchanged object (loaded in full)."""
        taken = set(claimed)
        return [rid for rid in self.ids if rid not in taken]


class Digests:
    """Digest bookkeeping of one persist run (``enabled`` False: every row is compared)."""

    def __init__(self, db: Db, enabled: bool) -> None:
        self.db = db
        table = db.metadata.tables.get(DIGEST_TABLE) if enabled else None
        if table is not None:
            with db.errors(DIGEST_TABLE):
                if not sa.inspect(db.conn).has_table(DIGEST_TABLE):
                    table = None  # a database not migrated yet: compare everything
        self.table = table
        self.open_: dict[str, CollectionDigests] = {}
        self.written = 0

    def open(self, name: str, plan: RowPlan, owner_id: int | None, ancestry: str | None
             ) -> CollectionDigests | None:
        """Load what the fast path of collection ``name`` needs (``ancestry``: the table's
        ancestry column); None when it has none."""
        if self.table is None or owner_id is None:
            return None
        t = self.table
        fp = fingerprint(plan, owner_id)
        cols = ["id", *plan.key_cols, *([ancestry] if ancestry else [])]
        rows, _ = self.db.select(name, cols, self.db.scope(name))
        with self.db.errors(DIGEST_TABLE):
            found = self.db.conn.execute(
                sa.select(t.c.fingerprint, t.c.digests)
                .where(t.c.ems_id == owner_id, t.c.collection == name)
                .order_by(t.c.id.desc())
            ).first()
        stored = unpack(found[1]) if found is not None and found[0] == fp else {}
        sums = CollectionDigests(name, owner_id, fp, rows, len(plan.key_cols), stored,
                                 ancestry is not None)
        self.open_[name] = sums
        return sums

    def finish(self, p: Persister) -> None:
        """Store the digests of every opened collection whose digests changed."""
        if self.table is None or self.db.dry_run:
            return
        for name, sums in self.open_.items():
            saved = p.saved.get(name)
            if saved is None:
                continue
            items = saved.items
            if (not saved.unmatched and len(items) == len(sums.stored)
                    and all(i.row is None for i in items)):
                continue  # every object matched its stored digest: nothing changed
            mapping = self._mapping(p, name, sums, items, saved.unmatched)
            if mapping != sums.stored:
                self._write(name, sums, mapping)

    def _mapping(self, p: Persister, name: str, sums: CollectionDigests, items: list[Item],
                 unmatched: list[Any]) -> dict[int, int]:
        cdef = p.catalogue.collections[name]
        sweeps = p.inventory.complete.get(name, True) and cdef.delete != "none"
        out: dict[int, int] = {}
        if not sweeps:  # rows not seen stay as they are: so do their digests
            for r in unmatched:
                old = sums.stored.get(r[0])
                if old is not None:
                    out[r[0]] = old
        for item in items:
            if item.row is None:  # matched its stored digest
                out[item.id] = sums.stored[item.id]
            elif item.sig is not None:
                out[item.id] = digest(item.sig, item.id)
        return out

    def _write(self, name: str, sums: CollectionDigests, mapping: dict[int, int]) -> None:
        t = self.table
        assert t is not None
        where = sa.and_(t.c.ems_id == sums.owner_id, t.c.collection == name)
        with self.db.errors(DIGEST_TABLE):
            self.db.conn.execute(t.delete().where(where))
            if mapping:
                self.db.conn.execute(t.insert().values(
                    ems_id=sums.owner_id, collection=name, fingerprint=sums.fingerprint,
                    digests=pack(mapping)))
        self.written += 1
