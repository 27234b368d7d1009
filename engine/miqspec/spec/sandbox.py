"""The Jinja2 sandbox spec templates run in, with bounds on what one render may build or take.

Takes: nothing (``environment()`` builds the one environment). Gives: ``environment()`` (an
``ImmutableSandboxedEnvironment`` with miqspec's filters), ``rendering()`` (a context manager
that starts a render's clock) and the bounds: a string, list or rendered template of at most
``MAX_TEXT`` characters (items), integers of at most ``MAX_INT_BITS`` bits from ``*`` and
``**``, format widths and precisions adding up to at most ``MAX_TEXT``, ``range`` as the sandbox
bounds it (100,000 items), and ``MAX_SECONDS`` for one render. Every operator that can make a
value much bigger than its operands (``*``, ``**``, ``+``, ``%``, ``~``), every call (``str``
methods such as ``center``, ``join``, ``replace``, ``format``) and every filter is checked
before it runs; ``lipsum`` is gone. The loops a render can make are bounded by the validator
(no loop inside a loop, no macros, see ``templating``).
Raises: ``TemplateLimitError`` (a Jinja ``SecurityError``) when a bound would be passed. No I/O.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import json
import re
import string
import time
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from typing import Any

from jinja2 import StrictUndefined, nodes
from jinja2.compiler import CodeGenerator, Frame, optimizeconst
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment, safe_range

MAX_TEXT = 1_000_000  # characters of a string (items of a list) one operation or render makes
MAX_INT_BITS = 4096  # bits of an integer made by * or ** (about 1,230 digits)
MAX_SECONDS = 1.0  # one render

_DEADLINE: ContextVar[float | None] = ContextVar("miqspec_template_deadline", default=None)
_PRINTF = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?[a-zA-Z%]")
_DIGITS = re.compile(r"\d+")


class TemplateLimitError(SecurityError):
    """A template would build a value, or run for longer, than the bounds allow."""


@contextlib.contextmanager
def rendering() -> Iterator[None]:
    """Start the clock of one render (``MAX_SECONDS``); nested renders keep the outer clock."""
    if _DEADLINE.get() is not None:
        yield
        return
    token = _DEADLINE.set(time.monotonic() + MAX_SECONDS)
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def _tick() -> None:
    deadline = _DEADLINE.get()
    if deadline is not None and time.monotonic() > deadline:
        raise TemplateLimitError(f"the template ran for more than {MAX_SECONDS:g} s")


def _size(value: Any) -> int:
    return len(value) if isinstance(value, str | list | tuple | bytes) else 0


def _limit(size: int, what: str) -> None:
    if size > MAX_TEXT:
        raise TemplateLimitError(f"{what} would make more than {MAX_TEXT:,} characters (items)")


def _bounded(value: Any, what: str) -> Any:
    _limit(_size(value), what)
    return value


def _int_bits(value: Any) -> int:
    return value.bit_length() if isinstance(value, int) else 0


def _check_power(base: Any, exponent: Any) -> None:
    whole = isinstance(base, int) and isinstance(exponent, int)
    if whole and exponent > 0 and abs(base) > 1 and base.bit_length() * exponent > MAX_INT_BITS:
        raise TemplateLimitError(f"'**' would make an integer of more than {MAX_INT_BITS} bits")


def _check_times(left: Any, right: Any) -> None:
    if isinstance(left, int) and isinstance(right, int):
        if _int_bits(left) + _int_bits(right) > MAX_INT_BITS:
            raise TemplateLimitError(f"'*' would make an integer of more than {MAX_INT_BITS} bits")
        return
    for seq, count in ((left, right), (right, left)):
        if _size(seq) and isinstance(count, int):
            _limit(_size(seq) * max(count, 0), "'*'")


def _check_printf(fmt: str, args: Any) -> None:
    """A ``%`` format: no ``*`` widths; widths and precisions add up to at most MAX_TEXT."""
    total = len(fmt) + sum(_size(a) for a in (args if isinstance(args, tuple) else (args,)))
    for width, precision in _PRINTF.findall(fmt):
        if "*" in (width, precision):
            raise TemplateLimitError("'*' widths are not allowed in % formats")
        total += int(width or 0) + int(precision or 0)
    _limit(total, "'%' formatting")


def _check_format(fmt: str) -> None:
    """A ``str.format`` text: no nested fields in a spec; widths add up to at most MAX_TEXT."""
    total = len(fmt)
    try:
        fields = list(string.Formatter().parse(fmt))
    except ValueError:
        return  # format itself raises the same error
    for _literal, _name, spec, _conversion in fields:
        if spec and "{" in spec:
            raise TemplateLimitError("nested fields in a format spec are not allowed")
        for number in _DIGITS.findall(spec or ""):
            total += int(number) if len(number) < 10 else MAX_TEXT + 1
    _limit(total, "format()")


def _reusable(value: Any) -> Any:
    """``value``, or the items of a one-pass iterator (``map``, ``select``: generators) as a
    list of at most MAX_TEXT + 1, so that measuring it does not use it up."""
    if isinstance(value, Iterator):
        return list(itertools.islice(value, MAX_TEXT + 1))
    return value


def _joined_size(sep: str, items: Any) -> int:
    parts = list(items) if isinstance(items, Iterable) else []  # items: reusable
    _limit(len(parts), "join()")
    return len(sep) * max(len(parts) - 1, 0) + sum(len(str(p)) for p in parts)


def _replaced_size(text: str, old: Any, new: Any, count: Any = -1) -> int:
    if not isinstance(old, str) or not isinstance(new, str):
        return len(text)
    found = len(text) + 1 if not old else text.count(old)
    if isinstance(count, int) and count >= 0:
        found = min(found, count)
    return len(text) + found * max(len(new) - len(old), 0)


def _translated_size(text: str, table: Any) -> int:
    if not isinstance(table, dict):
        return len(text)
    longest = max((len(v) for v in table.values() if isinstance(v, str)), default=1)
    return len(text) * max(longest, 1)


def _width(text: str, width: Any = 0, *_rest: Any) -> int:
    return max(len(text), width if isinstance(width, int) else 0)


#: str method -> the size of its result from (the string, its arguments), checked before it runs
_STR_METHODS: dict[str, Callable[..., int]] = {
    "center": _width,
    "ljust": _width,
    "rjust": _width,
    "zfill": _width,
    "expandtabs": lambda s, size=8: len(s) + s.count("\t") * (size if isinstance(size, int) else 8),
    "join": _joined_size,
    "replace": _replaced_size,
    "translate": _translated_size,
}


def _check_call(obj: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    """Refuse a call whose result would pass the bounds; the arguments to call it with (an
    iterator given to ``join`` as a list)."""
    target = getattr(obj, "__wrapped__", obj)  # the sandbox wraps str.format/format_map
    owner = getattr(target, "__self__", None)
    name = getattr(target, "__name__", "")
    if not isinstance(owner, str):
        return args
    if name == "join" and args:
        args = (_reusable(args[0]), *args[1:])
    if name in ("format", "format_map"):
        _check_format(owner)
        _limit(len(owner) + sum(_size(a) for a in (*args, *kwargs.values())), f"{name}()")
    elif name in _STR_METHODS:
        _limit(_STR_METHODS[name](owner, *args, *kwargs.values()), f"{name}()")
    return args


# -- filters: checked before they run, results measured ----------------------------------------


def _filter_size(name: str, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
    text = value if isinstance(value, str) else ""
    if name == "center":
        return _width(text, *args, *kwargs.values())
    if name == "indent":
        width = args[0] if args else kwargs.get("width", 4)
        spaces = width if isinstance(width, int) else len(str(width))
        return len(text) + (text.count("\n") + 1) * max(spaces, 0)
    if name == "join":
        return _joined_size(str(args[0]) if args else str(kwargs.get("d", "")), value)
    if name == "replace":
        return _replaced_size(text, *args, *kwargs.values())
    if name == "format" and isinstance(value, str):
        _check_printf(value, tuple(args) or tuple(kwargs.values()))
    if name in ("batch", "slice"):
        return max((a for a in (*args, *kwargs.values()) if isinstance(a, int)), default=0)
    return 0


def _bounded_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    """``func`` with its arguments checked first and its result measured (Jinja's pass_*
    markers are kept, so filters that take the context still get it)."""

    @functools.wraps(func)
    def run(*args: Any, **kwargs: Any) -> Any:
        _tick()
        # the value is the first argument after the context/eval context/environment
        skip = 1 if getattr(func, "jinja_pass_arg", None) is not None else 0
        value, rest = (args[skip], args[skip + 1 :]) if len(args) > skip else (None, ())
        if name == "join":  # measured before it runs: an iterator must survive that
            value = _reusable(value)
            args = (*args[:skip], value, *rest)
        _limit(_filter_size(name, value, rest, kwargs), f"the {name} filter")
        return _bounded(func(*args, **kwargs), f"the {name} filter")

    return run


class _RangeOf:
    """``range`` as the sandbox bounds it, whose iteration watches the render's clock."""

    def __init__(self, *args: int) -> None:
        self.items = safe_range(*args)

    def __repr__(self) -> str:
        return repr(self.items)

    def __iter__(self) -> Iterator[int]:
        for i, value in enumerate(self.items):
            if not i & 1023:
                _tick()
            yield value

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: Any) -> Any:
        return self.items[index]

    def __contains__(self, value: Any) -> bool:
        return value in self.items


class _CodeGenerator(CodeGenerator):
    """Jinja's code generator, except that ``~`` joins through ``environment.join_bounded``."""

    @optimizeconst
    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.join_bounded((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")


class BoundedEnvironment(ImmutableSandboxedEnvironment):
    """The immutable sandbox, with the bounds of this module."""

    code_generator_class = _CodeGenerator
    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        _tick()
        if operator == "**":
            _check_power(left, right)
        elif operator == "*":
            _check_times(left, right)
        elif operator == "+":
            _limit(_size(left) + _size(right), "'+'")
        elif operator == "%" and isinstance(left, str):
            _check_printf(left, right)
        return _bounded(super().call_binop(context, operator, left, right), f"'{operator}'")

    def call(__self, __context: Context, __obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        _tick()
        args = _check_call(__obj, args, kwargs)
        return _bounded(super().call(__context, __obj, *args, **kwargs), "a call")

    def join_bounded(self, parts: Iterable[Any]) -> str:
        """``a ~ b ~ ...``: the parts as text, joined when the result stays within MAX_TEXT."""
        _tick()
        texts = [str(p) for p in parts]
        _limit(sum(map(len, texts)), "'~'")
        return "".join(texts)

    def concat(self, chunks: Iterable[str]) -> str:
        """The rendered output, refused once it passes MAX_TEXT characters."""
        out: list[str] = []
        total = 0
        for chunk in chunks:
            total += len(chunk)
            _limit(total, "the template")
            out.append(chunk)
        return "".join(out)


def _b64(value: str) -> str:
    import base64

    return base64.b64encode(str(value).encode()).decode()


def _urlencode(value: Any) -> str:
    from urllib.parse import quote

    return quote(str(value), safe="")


@functools.cache
def environment() -> BoundedEnvironment:
    """The one template environment: strict undefined names, miqspec's filters, the bounds."""
    env = BoundedEnvironment(
        undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True
    )
    env.filters["b64encode"] = _b64
    env.filters["urlencode"] = _urlencode
    env.filters["tojson"] = lambda v: json.dumps(v)
    env.filters = {name: _bounded_filter(name, f) for name, f in env.filters.items()}
    env.globals.pop("lipsum", None)
    env.globals["range"] = _RangeOf
    return env
