"""One generated row builder per plan and attribute names: ``RowPlan.build`` in a single call.

Takes: a ``BuildPlan`` (what a ``RowPlan`` shows a builder: its handlers, base columns,
defaults, STI type, power states and reference memo) and a tuple of attribute names (the keys
of an object's data, in order).
Gives: ``compile_builder(plan, keys)``: a function of an object with exactly those attribute
names returning the row ``plan.build`` would give (same columns, same order, same counts of
unresolved references), or ``SLOW`` when only ``build`` can tell (a value of a type the
column does not take as it is, a reference that is a plain id, a null raw power state); it
checks every value before resolving anything, so ``SLOW`` has no side effects. None when the
plan needs more than a builder does (reference defaults, required or ancestry references,
a raw power state or STI type that needs coercion, a value column without a plain type).
The row is one dict display in ``build``'s order: later entries over earlier ones, as its
assignments. Raises what ``build`` raises (reference errors from the resolver). No I/O.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from miqspec.errors import MappingError
from miqspec.parse import InventoryObject, LazyRef
from miqspec.spec import CollectionDef

_COL, _REF, _SKIP = 0, 1, 2  # as persist.rows'
SLOW = object()  # what a builder returns when ``build`` must decide
Builder = Callable[[InventoryObject], Any]
#: id(reference) -> (reference, resolved, columns it gives, unresolved count, attribute)
Memo = dict[int, tuple[Any, bool, dict[str, Any], int, str]]


class BuildPlan(Protocol):
    """What a builder reads of its ``RowPlan`` (``persist.rows``)."""

    cdef: CollectionDef
    base: dict[str, Any]
    sti_type: str | None
    has_raw: bool
    power_states: Callable[[Any], str] | None
    unresolved: int
    _plain: dict[str, type]
    _power: dict[Any, str]
    _fixed_defaults: dict[str, Any]
    _other_defaults: dict[str, Any]
    _handlers: dict[str, tuple[Any, ...]]
    _memo: Memo

    def _handler(self, attr: str) -> tuple[Any, ...]: ...

    def _resolved(
        self, attr: str, value: Any, h: tuple[Any, ...], obj: InventoryObject
    ) -> tuple[bool, dict[str, Any]]: ...

    def _power_of(self, raw: Any) -> str: ...


def compile_builder(plan: BuildPlan, keys: tuple[str, ...]) -> Builder | None:
    """The generated builder of objects with attribute names ``keys`` (see module doc)."""
    if plan._other_defaults:
        return None
    ns: dict[str, Any] = {
        "_SLOW": SLOW,
        "_Lazy": LazyRef,
        "_Obj": InventoryObject,
        "_m": plan._memo.get,
    }
    checks: list[str] = []
    entries: list[str] = []
    names: list[str] = []  # the row's columns, in build's order (repeats: later wins)
    values: dict[str, str] = {}  # column -> its code (the last one)

    def put(col: str, code: str) -> None:
        names.append(col)
        values[col] = code
        entries.append(f"{col!r}: {code}")

    for i, (col, value) in enumerate(plan.base.items()):
        ns[f"_b{i}"] = value
        put(col, f"_b{i}")
    reads: list[str] = []
    resolve: list[str] = []  # after every check: resolving has effects (counts, memo)
    for i, attr in enumerate(keys):
        try:
            h = plan._handlers.get(attr) or plan._handler(attr)
        except MappingError:  # build raises it where it meets the attribute
            return None
        if h[0] == _SKIP:
            continue
        reads.append(f"a{i} = d[{attr!r}]")
        if h[0] == _COL:
            exp = plan._plain.get(attr)
            if exp is None:
                return None
            ns[f"_t{i}"] = exp
            checks.append(f"(a{i} is not None and type(a{i}) is not _t{i})")
            put(attr, f"a{i}")
            continue
        _, column, type_col, _, fixed, ancestry = h
        if fixed or ancestry:
            return None
        checks.append(f"(a{i} is not None and type(a{i}) is not _Lazy and type(a{i}) is not _Obj)")
        ns[f"_n{i}"] = dict.fromkeys([column, *([type_col] if type_col else [])])
        ns[f"_f{i}"] = _ref_part(plan, attr, h)
        resolve += [  # the memo's hit inline; a miss or an unresolved count: _ref_part
            f"if a{i} is None:",
            f"    p{i} = _n{i}",
            "else:",
            f"    h = _m(id(a{i}))",
            f"    p{i} = h[2] if h is not None and h[0] is a{i} and h[4] == {attr!r} and not h[3]"
            f" else _f{i}(a{i}, o)",
        ]
        for col in (column, type_col):
            if col:
                put(col, f"p{i}[{col!r}]")
                values[col] = f"?{i}"  # a reference's column: known at run time only
    for i, (attr, value) in enumerate(plan._fixed_defaults.items()):
        if attr not in keys:
            ns[f"_x{i}"] = value
            put(attr, f"_x{i}")
    sti = plan.sti_type
    if sti is not None:
        code = values.get("type")
        if code is None:
            ns["_sti"] = sti
            put("type", "_sti")
        elif code.startswith("a"):  # a plain attribute: null takes the STI type
            ns["_sti"] = sti
            put("type", f"({code} if {code} is not None else _sti)")
        elif code.startswith("?") or ns[code] is None:
            return None
    if plan.has_raw and "raw_power_state" in values:
        raw = values["raw_power_state"]
        if raw.startswith("?"):
            return None
        if raw.startswith("a"):
            checks.append(f"{raw} is None")  # build drops the column: only it can tell
        elif ns[raw] is None:
            return None
        if plan.power_states is not None and "power_state" not in keys:
            ns["_pw"] = plan._power.get
            ns["_power_of"] = plan._power_of
            put("power_state", f"(_pw({raw}) or _power_of({raw}))")
    body = [
        "def build(o):",
        "    d = o.data",
        *(f"    {line}" for line in reads),
    ]
    if checks:
        body.append("    if " + " or ".join(checks) + ":")
        body.append("        return _SLOW")
    body += [f"    {line}" for line in resolve]
    body.append("    return {" + ", ".join(entries) + "}")
    where = f"<miqspec row builder {plan.cdef.name}>"
    exec(compile("\n".join(body), where, "exec"), ns)
    fn: Builder = ns["build"]
    return fn


def _ref_part(
    plan: BuildPlan, attr: str, h: tuple[Any, ...]
) -> Callable[[Any, InventoryObject], dict[str, Any]]:
    """The columns a reference object gives (``plan._resolved``: resolved once per object and
    plan, its unresolved count added per use)."""
    memo = plan._memo
    resolved = plan._resolved

    def part(value: Any, obj: InventoryObject) -> dict[str, Any]:
        hit = memo.get(id(value))
        if hit is not None and hit[0] is value and hit[4] == attr:
            if hit[3]:
                plan.unresolved += hit[3]
            return hit[2]
        return resolved(attr, value, h, obj)[1]

    return part
