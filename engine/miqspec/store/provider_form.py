"""Provider form values: the nested shape the ManageIQ UI sends, flattened and back, checked.

Takes: a ``Spec`` (its regions and form fields) and form values nested like
``{"endpoints": {"default": {"url": x}}}``.
Gives: ``flatten_form`` (``{"endpoints.default.url": x}``), ``nest_form`` (the inverse),
``check_args`` (rejects a region the spec does not list, missing required fields, an endpoint URL
that is not one, and a password typed into a URL, which would be stored unencrypted) and
``check_fields`` (refuses a field name the spec's form lacks, with a did-you-mean) and
``check_name`` (the provider name rule: 1 to ``MAX_NAME`` characters, not blank, no leading or
trailing whitespace, no control characters, line separators, bidirectional controls or
undecodable bytes).
Raises: ``UsageError`` from ``check_args``, ``check_fields`` and ``check_name``. No I/O.
"""

from __future__ import annotations

import difflib
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from miqspec.errors import UsageError
from miqspec.spec import INPUT_COMPONENTS, Spec


def flatten_form(values: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"endpoints": {"default": {"url": x}}}`` -> ``{"endpoints.default.url": x}``."""
    out: dict[str, Any] = {}
    for k, v in values.items():
        name = f"{prefix}{k}"
        if isinstance(v, Mapping) and name.split(".")[0] in ("endpoints", "authentications"):
            out.update(flatten_form(v, name + "."))
        else:
            out[name] = v
    return out


def nest_form(flat: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in flat.items():
        node = out
        parts = name.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return out


def check_args(spec: Spec, args: Mapping[str, Any]) -> None:
    """Reject a region the spec does not list and missing required form fields."""
    region = args.get("provider_region")
    if spec.regions:
        names = [r.name for r in spec.regions]
        if region not in names:
            raise UsageError(
                f"region {region!r} is not one of {spec.provider.name}'s regions: "
                + ", ".join(names)
            )
    flat = flatten_form(args)
    missing = [
        f.name
        for f in spec.form
        if f.required
        and f.component in INPUT_COMPONENTS
        and f.name != "provider_region"
        and flat.get(f.name) in (None, "")
    ]
    if missing:
        raise UsageError("missing required field(s): " + ", ".join(missing))
    check_urls(flat, spec.secret_fields)


def form_fields(spec: Spec) -> list[str]:
    """The names of ``spec``'s form fields a value can be given for (inputs, in form order)."""
    return [f.name for f in spec.form if f.component in INPUT_COMPONENTS]


def check_fields(spec: Spec, names: Iterable[str], what: str = "--set") -> None:
    """``UsageError`` for the first of ``names`` that is not one of ``spec``'s form fields,
    naming the closest field (did you mean ...?) or listing them all."""
    known = form_fields(spec)
    for name in names:
        if name in known:
            continue
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
        hint = f"did you mean {close[0]}?" if close else "its fields: " + ", ".join(known)
        raise UsageError(
            f"{what} {name}: {spec.provider.name}'s form has no field {name!r}; {hint}"
        )


def check_urls(flat: Mapping[str, Any], secret_fields: Iterable[str] = ()) -> None:
    """Every ``*.url`` field must parse as a URL, and no plain (non-secret) field may hold a URL
    with a password in it (``https://user:password@host``): it would be stored unencrypted."""
    secret = set(secret_fields)
    for key, value in flat.items():
        if not isinstance(value, str) or key in secret:
            continue
        is_url = key.endswith(".url") or key == "url"
        if not is_url and "://" not in value:
            continue
        try:
            parts = urlsplit(value.strip())
            parts.port  # noqa: B018 - raises ValueError for a port that is not a number
        except ValueError as exc:
            if is_url:
                raise UsageError(f"{key} is not a valid URL: {exc}") from None
            continue
        if parts.password:
            raise UsageError(
                f"{key} holds a password (user:password@ in the URL), which would be stored "
                "unencrypted; remove it from the URL and give the user and password in the "
                "credential fields (authentications.<role>.userid with --set, "
                "authentications.<role>.password with --secret-env or --secret-file)"
            )


MAX_NAME = 255
BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
NAME_RULE = (
    f"a provider name is 1 to {MAX_NAME} characters, not blank, without leading or trailing "
    "whitespace, control characters (newline, tab, NUL, ...), line separators or "
    "bidirectional controls (U+202A-U+202E, U+2066-U+2069, U+200E, U+200F, U+061C)"
)


def _bad_character(name: str) -> str | None:
    """Why the first character ``check_name`` refuses is refused (None: none)."""
    for index, char in enumerate(name):
        category = unicodedata.category(char)
        what = (
            "a control character"
            if category == "Cc"
            else "a line separator"
            if category in ("Zl", "Zp")
            else "a bidirectional control"
            if char in BIDI_CONTROLS
            else "bytes that are not UTF-8 text"
            if category == "Cs"
            else None
        )
        if what:
            return f"holds {what} (U+{ord(char):04X}) at position {index + 1}"
    return None


def check_name(name: object) -> str:
    """``name`` when it is a valid provider name (see ``NAME_RULE``), else ``UsageError``."""
    if not isinstance(name, str):
        raise UsageError(f"the provider name must be text; {NAME_RULE}")
    shown = repr(name if len(name) <= 40 else name[:40] + "...")
    if not name.strip():
        reason = "is empty" if not name else "is blank"
    elif len(name) > MAX_NAME:
        reason = f"is {len(name)} characters long"
    elif name != name.strip():
        reason = "starts or ends with whitespace"
    else:
        reason = _bad_character(name) or ""
    if reason:
        raise UsageError(f"provider name {shown} {reason}; {NAME_RULE}")
    return name
