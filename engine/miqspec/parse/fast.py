"""One generated function per mapping source: a record's attribute dict in a single call.

Takes: the ``Spec``, a source's attributes and their compiled rules (``parse_rules``).
Gives: ``compile_data(spec, attributes, rules, where)``: a function of (record, scope) that
returns the attribute dict of a JSON-object record, or None for any other record (the parser
then runs the rules one by one). Plain fields are read with ``record.get``, constants are
inlined, a ``default`` without ``map``/``match`` is a conditional expression, a lazy over one
field is the reference already made from that string value, else its reference maker applied
to the field (an unhashable value raises: the parser runs the rules one by one); every other
attribute calls its rule.
Values and evaluation order are the rules' own. Raises whatever a rule raises (the parser runs
the rules again to name the attribute that failed). No I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from miqspec.parse.rules import Rule, lazy_field
from miqspec.spec import Attribute, Spec

DataFn = Callable[[Any, dict[str, Any]], dict[str, Any] | None]


def compile_data(
    spec: Spec, attributes: Sequence[Attribute], rules: Sequence[Rule], where: str
) -> DataFn:
    """The generated function for ``attributes`` (``where`` names the source in tracebacks)."""
    ns: dict[str, Any] = {"_dict": dict}
    lines = []
    for i, (attr, rule) in enumerate(zip(attributes, rules, strict=True)):
        code = _inline(spec, attr, i, ns)
        if code is None:
            ns[f"_r{i}"] = rule
            code = f"_r{i}(r, s)"
        lines.append(f"        {attr.name!r}: {code},")
    source = "\n".join(
        [
            "def data(r, s):",
            "    if type(r) is not _dict:",
            "        return None",
            "    return {",
            *lines,
            "    }",
        ]
    )
    exec(compile(source, f"<miqspec mapping {where}>", "exec"), ns)
    fn: DataFn = ns["data"]
    return fn


def _inline(spec: Spec, attr: Attribute, i: int, ns: dict[str, Any]) -> str | None:
    """Python source for the attribute over a dict record ``r``, or None: call the rule."""
    if attr.kind == "const":
        ns[f"_c{i}"] = attr.value
        return f"_c{i}"
    if attr.kind == "lazy":
        found = lazy_field(attr, spec)
        if found is None:
            return None
        field, make, made = found  # a string value met before: its reference, inline
        ns[f"_l{i}"], ns[f"_s{i}"] = make, made.get
        return f"(_h if (_h := _s{i}(_v := r.get({field!r}))) is not None else _l{i}(_v))"
    expr = attr.expression
    if attr.kind != "expr" or expr is None or attr.value_map is not None or attr.match:
        return None
    if expr.kind == "field":
        code = f"r.get({expr.ast['value']!r})"
    elif expr.kind == "identity":
        code = "r"
    elif expr.kind == "path":
        ns[f"_e{i}"] = expr.search
        code = f"_e{i}(r)"
    else:
        return None
    if not attr.has_default:
        return code
    ns[f"_d{i}"] = attr.default
    return f"(_v if (_v := {code}) is not None else _d{i})"
