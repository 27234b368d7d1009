"""Object signatures for persist: 64 bits that determine the row an object gives under a plan.

Takes: a ``RowPlan`` (this is its base class: the methods read the plan's handlers and
resolve references through it) and inventory objects.
Gives: ``signature(obj)`` and ``signatures(objs)`` (the same values for many objects, computed
column by column so that serializing and hashing run in C): 64-bit BLAKE2b over the
attribute names (a token per name tuple) and values, each reference replaced by what it
resolves to now (row id and type, or the ``key`` attribute's value; many-to-many and deferred
attributes by a marker), the resolved reference defaults and the mapped power state, with the
number of unresolved references ``build`` would count. What the plan itself contributes
(columns, owner, scope, plain defaults, STI type) is the fingerprint's job
(``persist_digest``). Equal signatures under one fingerprint give equal rows.
Raises: ``MappingError`` where ``build`` would (an attribute without a column, a reference to
a collection the attribute does not allow). No I/O.
"""

from __future__ import annotations

import hashlib
import marshal
from collections.abc import Callable, Sequence
from functools import partial
from itertools import repeat
from operator import attrgetter, itemgetter
from typing import TYPE_CHECKING, Any

from .objects import InventoryObject, LazyRef

_COL, _REF, _SKIP = 0, 1, 2
PLAIN = frozenset({str, int, float, bool, type(None)})
SKIPPED = "\x00skip"
_DATA = attrgetter("data")
_BLAKE2B = partial(hashlib.blake2b, digest_size=8)
_DIGEST = type(_BLAKE2B(b"")).digest
_FROM_LE = partial(int.from_bytes, byteorder="little", signed=True)
_PREFIX = b"M".__add__


def _hash(body: bytes) -> int:
    return _FROM_LE(_DIGEST(_BLAKE2B(body)))


class Signatures:
    """The signature methods of ``RowPlan`` (see the module docstring)."""

    if TYPE_CHECKING:
        unresolved: int
        has_raw: bool
        power_states: Callable[[Any], str] | None
        base: dict[str, Any]
        _plain: dict[str, type]
        _power: dict[Any, str]
        _fixed_defaults: dict[str, Any]
        _other_defaults: dict[str, Any]
        _handlers: dict[str, tuple[Any, ...]]
        _raw_str: bool
        _shapes: dict[tuple[str, ...], tuple[tuple[int, ...], bytes]]
        _forms: dict[int, tuple[Any, Any, int, str]]

        def _handler(self, attr: str) -> tuple[Any, ...]: ...
        def _ref(
            self,
            attr: str,
            value: Any,
            h: tuple[Any, ...],
            row: dict[str, Any],
            ref: tuple[Any, ...],
        ) -> bool: ...
        def _resolved(
            self, attr: str, value: Any, h: tuple[Any, ...], obj: InventoryObject
        ) -> tuple[bool, dict[str, Any]]: ...
        def _value(self, ref: LazyRef) -> Any: ...
        def _slow(
            self, attr: str, value: Any, row: dict[str, Any], obj: InventoryObject
        ) -> bool: ...
        def _power_of(self, raw: Any) -> str: ...

    def signature(self, obj: InventoryObject) -> tuple[int, int]:
        """The object's signature and how many unresolved references ``build`` would count."""
        data = obj.data
        keys = tuple(data)
        vals = list(data.values())
        shaped = self._shapes.get(keys)
        if shaped is None:
            shaped = self._shape(keys, vals)
        shape, token = shaped
        before = self.unresolved
        counted = 0
        forms = self._forms
        for i in shape:  # where references were: replace them by what they resolve to
            v = vals[i]
            if type(v) in PLAIN:
                continue
            hit = forms.get(id(v))
            if hit is not None and hit[0] is v and hit[3] == keys[i]:
                vals[i] = hit[1]
                counted += hit[2]
            else:
                vals[i] = self._sign(keys[i], v, obj)
        extra = self._extra(obj)
        try:
            body = marshal.dumps((token, tuple(vals), extra), 2)
        except ValueError:  # a reference where the shape had none, or a date, decimal, ...
            seen = set(shape)
            for i, v in enumerate(vals):
                if i not in seen and type(v) not in PLAIN:
                    vals[i] = self._sign(keys[i], v, obj)
            payload = (token, tuple(vals), extra)
            try:
                body = marshal.dumps(payload, 2)
            except ValueError:  # their repr is exact
                body = b"R" + repr(payload).encode()
                counted += self.unresolved - before
                self.unresolved = before
                return _hash(body), counted
        counted += self.unresolved - before
        self.unresolved = before
        return _hash(_PREFIX(body)), counted

    def signatures(self, objs: Sequence[InventoryObject]) -> tuple[list[int], list[int]]:
        """``signature`` of every object (same values), by columns where objects share their
        attribute names."""
        datas = list(map(_DATA, objs))
        shapes = list(map(tuple, datas))
        if shapes and shapes.count(shapes[0]) == len(shapes):
            done = self._columns(shapes[0], objs, datas)
            if done is not None:
                return done
            return _unzip(list(map(self.signature, objs)))
        groups: dict[tuple[str, ...], list[int]] = {}
        for i, keys in enumerate(shapes):
            groups.setdefault(keys, []).append(i)
        sigs, counts = [0] * len(objs), [0] * len(objs)
        for keys, idx in groups.items():
            part = [objs[i] for i in idx]
            done = self._columns(keys, part, [datas[i] for i in idx])
            got = done if done is not None else _unzip(list(map(self.signature, part)))
            for i, sig, count in zip(idx, got[0], got[1], strict=True):
                sigs[i], counts[i] = sig, count
        return sigs, counts

    def _columns(
        self,
        keys: tuple[str, ...],
        objs: Sequence[InventoryObject],
        datas: Sequence[dict[str, Any]],
    ) -> tuple[list[int], list[int]] | None:
        """Signatures of objects with attribute names ``keys``, column by column; None when
        only ``signature`` can tell (reference defaults, a power state computed otherwise, a
        value marshal cannot write)."""
        if not objs or not keys or self._other_defaults:
            return None
        n = len(objs)
        _, token = self._shapes.get(keys) or self._shape(keys, list(datas[0].values()))
        columns: list[Sequence[Any]] = list(zip(*map(dict.values, datas), strict=True))
        counts: list[int] | None = None
        for i, col in enumerate(columns):
            if set(map(type, col)) <= PLAIN:
                continue
            firsts: dict[int, tuple[Any, InventoryObject]] = {}
            for v, obj in zip(col, objs, strict=True):
                if type(v) not in PLAIN and id(v) not in firsts:
                    firsts[id(v)] = (v, obj)
            forms: dict[int, Any] = {}
            missed: dict[int, int] = {}
            for key, (v, obj) in firsts.items():
                before = self.unresolved
                forms[key] = self._sign(keys[i], v, obj)
                if self.unresolved != before:
                    missed[key] = self.unresolved - before
                    self.unresolved = before
            if missed:
                more = list(map(missed.get, map(id, col), repeat(0)))
                counts = more if counts is None else list(map(int.__add__, counts, more))
            columns[i] = list(map(forms.get, map(id, col), col))
        extras = self._extras(keys, objs, datas)
        if extras is None:
            return None
        payloads = zip(repeat(token), zip(*columns, strict=True), extras)
        try:
            bodies = list(map(marshal.dumps, payloads, repeat(2)))
        except ValueError:
            return None
        sigs = list(map(_FROM_LE, map(_DIGEST, map(_BLAKE2B, map(_PREFIX, bodies)))))
        return sigs, counts if counts is not None else [0] * n

    def _extras(
        self,
        keys: tuple[str, ...],
        objs: Sequence[InventoryObject],
        datas: Sequence[dict[str, Any]],
    ) -> Sequence[tuple[Any, ...]] | None:
        """``_extra`` of each object (the power state), or None: only ``signature`` can tell."""
        if not (self.has_raw and self.power_states is not None and "power_state" not in keys):
            return [()] * len(objs)
        if "raw_power_state" not in keys:  # from a default or the scope: one value for all
            return [self._extra(objs[0])] * len(objs)
        raws = list(map(itemgetter("raw_power_state"), datas))
        if not self._raw_str or not set(map(type, raws)) <= {str, type(None)}:
            return None
        powers: dict[Any, tuple[Any, ...]] = {None: ()}
        for raw in set(raws) - {None}:
            powers[raw] = (self._power_of(raw),)
        return list(map(powers.__getitem__, raws))

    def _extra(self, obj: InventoryObject) -> tuple[Any, ...]:
        """What an object's row gets besides its attributes: resolved reference defaults and
        the mapped power state."""
        data = obj.data
        extra: list[Any] = []
        if self._other_defaults:
            for attr, value in self._other_defaults.items():
                if attr not in data:
                    part: dict[str, Any] = {}
                    ok = self._slow(attr, value, part, obj)
                    extra.append((attr, ok, tuple(part.items())))
        if self.has_raw and self.power_states is not None and "power_state" not in data:
            raw = data.get("raw_power_state")
            if type(raw) is not str or not self._raw_str:
                raw = self._raw(obj)
            if raw is not None:
                extra.append(self._power.get(raw) or self._power_of(raw))
        return tuple(extra)

    def _shape(self, keys: tuple[str, ...], vals: list[Any]) -> tuple[tuple[int, ...], bytes]:
        """For objects with these attribute names: the positions to look at (where this one
        has a non-plain value, and every many-to-many or deferred attribute: always a marker)
        and the names' token."""
        shape = tuple(
            i
            for i, (k, v) in enumerate(zip(keys, vals, strict=True))
            if type(v) not in PLAIN or (self._handlers.get(k) or self._handler(k))[0] == _SKIP
        )
        token = hashlib.sha1(repr(keys).encode(), usedforsecurity=False).digest()[:12]
        self._shapes[keys] = (shape, token)
        return shape, token

    def _sign(self, attr: str, value: Any, obj: InventoryObject) -> Any:
        """What a non-plain ``value`` contributes (references: what they resolve to)."""
        h = self._handlers.get(attr) or self._handler(attr)
        kind = h[0]
        if kind == _SKIP:
            return SKIPPED
        if kind == _REF and (type(value) is LazyRef or type(value) is InventoryObject):
            part: dict[str, Any]
            if h[5]:  # an ancestry path depends on the parent's path: never memoised
                part = {}
                return ("\x00ref", self._ref(attr, value, h, part, obj.ref), tuple(part.values()))
            before = self.unresolved
            ok, part = self._resolved(attr, value, h, obj)
            form = ("\x00ref", ok, tuple(part.values()))
            self._forms[id(value)] = (value, form, self.unresolved - before, attr)
            return form
        if kind == _COL and type(value) is LazyRef:
            value_form = ("\x00value", self._value(value))
            self._forms[id(value)] = (value, value_form, 0, attr)
            return value_form
        return value

    def _raw(self, obj: InventoryObject) -> Any:
        """The ``raw_power_state`` ``build(obj)`` ends with (data, defaults, then scope)."""
        data, attr = obj.data, "raw_power_state"
        part: dict[str, Any] = {}
        if attr in data:
            value = data[attr]
            if value is None or type(value) is self._plain.get(attr):
                return value
            self._slow(attr, value, part, obj)
            return part.get(attr)
        if attr in self._fixed_defaults:
            return self._fixed_defaults[attr]
        if attr in self._other_defaults:
            self._slow(attr, self._other_defaults[attr], part, obj)
            return part.get(attr)
        return self.base.get(attr)


def _unzip(pairs: list[tuple[int, int]]) -> tuple[list[int], list[int]]:
    return [p[0] for p in pairs], [p[1] for p in pairs]
