"""Object signatures for persist: 64 bits that determine the row an object gives under a plan.

Takes: a ``RowPlan`` (this is its base class: the methods read the plan's handlers and
resolve references through it) and inventory objects.
Gives: ``signature(obj)`` and ``signatures(objs)`` (the same values for many objects, computed
a column at a time so that reading, serializing and hashing run in C): 64-bit BLAKE2b over
the attribute names (a token per name tuple), the column attributes' values (one
``itemgetter`` call per object), each reference attribute replaced by what it resolves to now
(row id and type, or the ``key`` attribute's value; many-to-many and deferred attributes count
by their names only), the resolved reference defaults and the mapped power state, with the
number of unresolved references ``build`` would count. A signature is never 0 (that value
marks a row stored without one, ``persist.digest.UNSIGNED``). What the plan itself contributes
(columns, owner, scope, plain defaults, STI type) is the fingerprint's job
(``persist.digest``). Equal signatures under one fingerprint give equal rows.
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
from typing import TYPE_CHECKING, Any, NamedTuple

from miqspec.parse import InventoryObject, LazyRef

_COL, _REF, _SKIP = 0, 1, 2
PLAIN = frozenset({str, int, float, bool, type(None)})
SKIPPED = "\x00skip"
_DATA = attrgetter("data")
_BLAKE2B = partial(hashlib.blake2b, digest_size=8)
_DIGEST = type(_BLAKE2B(b"")).digest
_FROM_LE = partial(int.from_bytes, byteorder="little", signed=True)
_PREFIX = b"M".__add__


def _hash(body: bytes) -> int:
    return _FROM_LE(_DIGEST(_BLAKE2B(body))) or 1  # never 0: ``persist.digest.UNSIGNED``


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
        _layouts: dict[tuple[str, ...], Layout]
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
        lay = self._layouts.get(keys) or self._layout(keys)
        before = self.unresolved
        counted = 0
        forms = self._forms
        refs: list[Any] = []
        for k in lay.refs:  # references: replaced by what they resolve to
            v = data[k]
            if type(v) in PLAIN:
                refs.append(v)
                continue
            hit = forms.get(id(v))
            if hit is not None and hit[0] is v and hit[3] == k:
                refs.append(hit[1])
                counted += hit[2]
            else:
                refs.append(self._sign(k, v, obj))
        plain = lay.values(data)
        extra = self._extra(obj)
        try:
            body = marshal.dumps((lay.token, plain, *refs, extra), 2)
        except ValueError:  # a value reference, a date, a decimal, ... among the values
            plain = tuple(
                v if type(v) in PLAIN else self._sign(k, v, obj)
                for k, v in zip(lay.plain, plain, strict=True)
            )
            payload = (lay.token, plain, *refs, extra)
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
        """Signatures of objects with attribute names ``keys``, a column at a time (the
        per-object work runs in C); None when only ``signature`` can tell (reference
        defaults, a power state computed otherwise, a value marshal cannot write)."""
        if not objs or not keys or self._other_defaults:
            return None
        n = len(objs)
        lay = self._layouts.get(keys) or self._layout(keys)
        columns: list[Sequence[Any]] = []
        counts: list[int] | None = None
        for k in lay.refs:
            col = list(map(itemgetter(k), datas))
            if set(map(type, col)) <= PLAIN:
                columns.append(col)
                continue
            # the first object holding each reference object (reversed: the first one wins)
            back = zip(reversed(col), reversed(objs), strict=True)
            firsts = dict(zip(map(id, reversed(col)), back, strict=True))
            forms: dict[int, Any] = {}
            missed: dict[int, int] = {}
            for key, (v, obj) in firsts.items():
                if type(v) in PLAIN:
                    continue
                before = self.unresolved
                forms[key] = self._sign(k, v, obj)
                if self.unresolved != before:
                    missed[key] = self.unresolved - before
                    self.unresolved = before
            if missed:
                more = list(map(missed.get, map(id, col), repeat(0)))
                counts = more if counts is None else list(map(int.__add__, counts, more))
            columns.append(list(map(forms.get, map(id, col), col)))
        extras = self._extras(keys, objs, datas)
        if extras is None:
            return None
        payloads = zip(repeat(lay.token), map(lay.values, datas), *columns, extras)
        try:
            bodies = list(map(marshal.dumps, payloads, repeat(2)))
        except ValueError:
            return None
        sigs = list(map(_FROM_LE, map(_DIGEST, map(_BLAKE2B, map(_PREFIX, bodies)))))
        if 0 in sigs:  # never 0, as ``_hash``
            sigs = [s or 1 for s in sigs]
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

    def _layout(self, keys: tuple[str, ...]) -> Layout:
        """How objects with these attribute names are signed: a token for the names, the
        column attributes (read in one call) and the reference attributes, in order; many-to-
        many and deferred attributes add nothing (the token has their names)."""
        plain: list[str] = []
        refs: list[str] = []
        for k in keys:
            kind = (self._handlers.get(k) or self._handler(k))[0]
            if kind == _REF:
                refs.append(k)
            elif kind == _COL:
                plain.append(k)
        token = hashlib.sha1(repr(keys).encode(), usedforsecurity=False).digest()[:12]
        lay = Layout(token, tuple(plain), tuple(refs), _getter(plain))
        self._layouts[keys] = lay
        return lay

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


class Layout(NamedTuple):
    """See ``Signatures._layout``."""

    token: bytes
    plain: tuple[str, ...]
    refs: tuple[str, ...]
    values: Callable[[dict[str, Any]], tuple[Any, ...]]


def _getter(names: Sequence[str]) -> Callable[[dict[str, Any]], tuple[Any, ...]]:
    """A function of a dict giving the tuple of its values for ``names`` (one C call)."""
    if len(names) > 1:
        return itemgetter(*names)
    if names:
        only = names[0]
        return lambda data: (data[only],)
    return lambda data: ()


def _unzip(pairs: list[tuple[int, int]]) -> tuple[list[int], list[int]]:
    return [p[0] for p in pairs], [p[1] for p in pairs]
