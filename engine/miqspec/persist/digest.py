"""Row digests for persist: tell unchanged objects without loading or comparing their rows.

Takes: the ``Db`` of a persist run, a collection's ``RowPlan`` and owning manager id, and
afterwards the run's saved collections (``Saved``).
Gives: ``Digests`` (one per persist run): ``open(name, plan, owner_id)`` loads the ids and
identity keys of the collection's rows in scope (one select of those columns only) and the
digests stored for them (one row of ``miqspec_digests``), and returns a ``CollectionDigests``
whose ``hit(key, signature)`` is the row id when the stored digest of the row with that key
equals the object's; ``finish`` stores each collection's new digests when they changed.
Raises: ``DatabaseError`` (through ``Db``). Does database I/O.

A row's digest is the signature (``persist.sign``: 64-bit BLAKE2b over the object's attribute
names and values with each reference replaced by the row id and type it resolves to now,
resolved reference defaults and the mapped power state) of the object it was last saved from.
Under one plan fingerprint (the table's columns and types, the collection definition, owner
id, STI type, this digest format and the source of the modules that build rows) equal
signatures give equal rows, so a row whose stored digest matches would compare unchanged: it
is not loaded, compared or written. Digests
are stored only for rows this refresh left equal to what the object builds (inserted, updated,
compared unchanged); a collection whose plan fingerprint changed, rows without a digest, a
digest table missing from the database, and collections with deferred attributes take the
full compare. Rows changed behind miqspec's back are not noticed
until their object changes (``persist(..., digests=False)`` compares everything and stores
fresh digests).
"""

from __future__ import annotations

import base64
import hashlib
import sys
from array import array
from collections.abc import Callable, Iterable, Mapping, Sequence
from itertools import compress, filterfalse
from operator import eq, itemgetter, not_
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from miqspec.parse import InventoryObject
from miqspec.persist.db import Db
from miqspec.persist.items import Item, Kept, Rest, Saved
from miqspec.persist.rows import RowPlan
from miqspec.persist.values import stored_keys

DIGEST_TABLE = "miqspec_digests"
#: the stored digest of a row saved without its object's signature (a collection of carried
#: records saved with no rows in scope): it is carried like any row, and compared in full the
#: first time its object is parsed (signatures are never 0)
UNSIGNED = 0
_FIRST, _SECOND = itemgetter(0), itemgetter(1)
FORMAT = "miqspec-row-digest-2"
_SOURCES = (
    "rows.py",
    "resolve.py",
    "values.py",
    "digest.py",
    "sign.py",
)
_code: str | None = None


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

    def __init__(
        self,
        name: str,
        owner_id: int,
        fp: str,
        rows: list[Any],
        keys: int,
        stored: dict[int, int],
        ancestry: bool,
        all_ids: list[int] | None = None,
    ) -> None:
        self.name, self.owner_id, self.fingerprint = name, owner_id, fp
        rows.sort(key=_FIRST, reverse=True)  # the lowest id wins, as in the compare
        #: every row in scope; ``rows`` (and so ``known``) may hold only some (``lean``)
        row_ids = list(map(_FIRST, rows))
        self.ids = row_ids if all_ids is None else all_ids
        self.lean = all_ids is not None
        #: stored ``ancestry`` paths by id (tables with one), for the resolver
        self.ancestry: dict[int, Any] = {r[0]: r[-1] for r in rows} if ancestry else {}
        column = list(map(_SECOND, rows)) if keys == 1 else []
        if keys == 1 and set(map(type, column)) <= {str}:
            found: list[tuple[Any, ...]] = list(zip(column))  # (value,) tuples, built in C
        else:
            found = stored_keys(rows, range(1, 1 + keys))
        self.known: dict[tuple[Any, ...], int] = dict(zip(found, row_ids, strict=True))
        self.stored = stored
        self._key_of: dict[int, tuple[Any, ...]] | None = None

    def key_of(self) -> dict[int, tuple[Any, ...]]:
        """Row id -> identity key of the rows ``known`` holds (built on first use)."""
        if self._key_of is None:
            self._key_of = dict(zip(self.known.values(), self.known.keys(), strict=True))
        return self._key_of

    def hit(self, key: tuple[Any, ...], signature: int) -> int | None:
        """The id of the stored row with ``key`` when its digest matches ``signature``."""
        rid = self.known.get(key)
        if rid is None:
            return None
        return rid if self.stored.get(rid) == signature else None

    def match(
        self, plan: RowPlan, objs: Sequence[InventoryObject], sign: bool = True
    ) -> tuple[Kept, Rest, int]:
        """Split ``objs`` into the kept (signature equal to the stored digest of the row with
        their key; the first object per key) and the rest, with their signatures, in order;
        and how many unresolved references the kept hold. The per-object work runs in C.
        ``sign`` False and no row in scope: the rest get ``UNSIGNED``, nothing is signed."""
        if not sign and not self.ids:
            return Kept(), self._rest(objs, [UNSIGNED] * len(objs)), 0
        sigs, counts = plan.signatures(objs)
        if not self.known:
            return Kept(), self._rest(objs, sigs), 0
        keys: list[Any] = plan.keys(objs)
        rids: list[Any] = list(map(self.known.get, keys))
        hits = list(map(eq, map(self.stored.get, rids), sigs))
        ids: list[int] = list(compress(rids, hits))
        if len(set(ids)) < len(ids):  # two objects with one key: the first keeps the row
            seen: set[Any] = set()
            for i, rid in enumerate(rids):
                if hits[i]:
                    if rid in seen:
                        hits[i] = False
                    seen.add(rid)
            ids = list(compress(rids, hits))
        kept = Kept(
            list(compress(objs, hits)), list(compress(keys, hits)), ids, list(compress(sigs, hits))
        )
        rest = self._rest(compress(objs, map(not_, hits)), compress(sigs, map(not_, hits)))
        return kept, rest, sum(compress(counts, hits))

    @staticmethod
    def _rest(objs: Iterable[InventoryObject], sigs: Iterable[int | None]) -> Rest:
        return list(zip(objs, sigs, strict=True))

    def unclaimed(self, claimed: Iterable[int]) -> list[int]:
        """Ids of the rows in scope not taken by an unchanged object (loaded in full)."""
        return list(filterfalse(set(claimed).__contains__, self.ids))


class Digests:
    """Digest bookkeeping of one persist run. ``trust`` False: every row is compared (stored
    digests are not used), and the digests are written afresh all the same."""

    def __init__(self, db: Db, trust: bool) -> None:
        self.db = db
        self.trust = trust
        table = db.metadata.tables.get(DIGEST_TABLE)
        if table is not None:
            with db.errors(DIGEST_TABLE):
                if not sa.inspect(db.conn).has_table(DIGEST_TABLE):
                    table = None  # a database not migrated yet: compare everything
        self.table = table
        self.open_: dict[str, CollectionDigests] = {}
        self.written = 0

    def open(
        self,
        name: str,
        plan: RowPlan,
        owner_id: int | None,
        ancestry: str | None,
        lean: set[int] | None = None,
        siblings: set[int] | frozenset[int] = frozenset(),
    ) -> CollectionDigests | None:
        """Load what the fast path of collection ``name`` needs (``ancestry``: the table's
        ancestry column); None when it has none. ``lean``: ids of rows whose keys are not
        needed (rows of carried records nothing refers to): of the rows in scope only the
        ids are read, keys of the others. With ``lean``, the rows in scope are taken as the
        manager's rows of the table (``Db.owner_ids``: read from the owner index alone) less
        ``siblings``, the carried rows of the other collections of the table; rows of other
        scopes among them are filtered out where rows are loaded."""
        if self.table is None or owner_id is None:
            return None
        t = self.table
        fp = fingerprint(plan, owner_id)
        cols = ["id", *plan.key_cols, *([ancestry] if ancestry else [])]
        scope = self.db.scope(name)
        all_ids: list[int] | None = None
        if lean is None or ancestry:
            rows, _ = self.db.select(name, cols, scope)
        else:
            all_ids = self.db.owner_ids(name, siblings)  # any order: ``unclaimed`` reads it
            others = list(filterfalse(lean.__contains__, all_ids))
            rows = self.db.select_ids(name, cols, scope, others, len(all_ids))[0] if others else []
        with self.db.errors(DIGEST_TABLE):
            found = self.db.conn.execute(
                sa.select(t.c.fingerprint, t.c.digests)
                .where(t.c.ems_id == owner_id, t.c.collection == name)
                .order_by(t.c.id.desc())
            ).first()
        stored = unpack(found[1]) if found is not None and found[0] == fp and self.trust else {}
        sums = CollectionDigests(
            name, owner_id, fp, rows, len(plan.key_cols), stored, ancestry is not None, all_ids
        )
        self.open_[name] = sums
        return sums

    def forget(self, name: str, owner_id: int | None) -> None:
        """Drop the digests of a collection saved without them (its rows may change)."""
        t = self.table
        if t is None or owner_id is None or self.db.dry_run:
            return
        with self.db.errors(DIGEST_TABLE):
            self.db.conn.execute(t.delete().where(t.c.ems_id == owner_id, t.c.collection == name))

    def finish(self, saved: Mapping[str, Saved], sweeps: Callable[[str], bool]) -> None:
        """Store the digests of every opened collection whose digests changed (``saved``:
        the run's saved collections; ``sweeps(name)``: whether its unseen rows went)."""
        if self.table is None or self.db.dry_run:
            return
        for name, sums in self.open_.items():
            done = saved.get(name)
            if done is None:
                continue
            items, kept = done.items, done.kept
            if not items and not done.unmatched and len(kept.ids) == len(sums.stored):
                continue  # every object matched its stored digest: nothing changed
            mapping = self._mapping(sweeps(name), sums, items, kept, done.unmatched)
            if mapping != sums.stored:
                self._write(name, sums, mapping)

    @staticmethod
    def _mapping(
        sweeps: bool,
        sums: CollectionDigests,
        items: list[Item],
        kept: Kept,
        unmatched: list[Any],
    ) -> dict[int, int]:
        out: dict[int, int] = {}
        if not sweeps:  # rows not seen stay as they are: so do their digests
            for r in unmatched:
                old = sums.stored.get(r[0])
                if old is not None:
                    out[r[0]] = old
        out.update(zip(kept.ids, kept.sigs, strict=True))
        for item in items:
            if item.sig is not None:
                out[item.id] = item.sig
        return out

    def _write(self, name: str, sums: CollectionDigests, mapping: dict[int, int]) -> None:
        t = self.table
        assert t is not None
        where = sa.and_(t.c.ems_id == sums.owner_id, t.c.collection == name)
        with self.db.errors(DIGEST_TABLE):
            self.db.conn.execute(t.delete().where(where))
            if mapping:
                self.db.conn.execute(
                    t.insert().values(
                        ems_id=sums.owner_id,
                        collection=name,
                        fingerprint=sums.fingerprint,
                        digests=pack(mapping),
                    )
                )
        self.written += 1
