"""Semantic checks of how a call's requests flow: nested fan-out, per-item fallback, polling,
``$calls`` and ``$ancestors[N]`` in a call's expressions.

Takes: the ``Findings`` sink, the ``TextChecker``, one call's data and every call's data.
Gives: ``fan_out_depth`` (how many levels enclose a call's records: one per fan-out and one
per ``for_each.each`` level), ``calls_read`` (the calls a call's expressions read as
``$calls.<name>``: dependencies, for cycles), ``check_call_flow`` (findings for
``for_each.each`` levels (their roots; ``embed`` cannot go with them), ``item_fallback``
(needs ``for_each``; its templates, ``records`` and service), ``poll`` (its ``until``),
``$calls.<name>`` naming no call or the call itself, and ``$ancestors[N]`` deeper than the
levels above the records in ``where``, ``records``, ``for_each.where`` and ``poll.until``);
``check_source_ancestors`` (``$ancestors[N]`` in a collection source against its call's levels
and its ``each`` levels), ``check_source_embeds`` (a source's path through ``embed`` fields
that cannot exist: a field of an embedded list, of an embedded text). Raises nothing; no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from miqspec.spec import schema as schema_mod
from miqspec.spec.checks.findings import Findings
from miqspec.spec.checks.texts import TextChecker
from miqspec.spec.document import Path
from miqspec.spec.expression_syntax import ExpressionSyntaxError
from miqspec.spec.expressions import compile_expression

# Roots every call expression may read; fan-out calls add $parent and $ancestors.
CALL_ROOTS = {"region", "provider", "settings", "calls", "login"}
ENCLOSED = {"parent", "ancestors"}
_ANCESTOR_INDEX = re.compile(r"\$ancestors\s*\[\s*(-?\d+)\s*\]")


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def each_levels(call: Any) -> list[Any]:
    """The ``for_each.each`` levels of a call (a string is one level)."""
    each = _dict(_dict(call).get("for_each")).get("each")
    return [each] if isinstance(each, str) else each if isinstance(each, list) else []


def _parent_of(call: Any, calls: Mapping[str, Any]) -> str | None:
    name = _dict(_dict(call).get("for_each")).get("call")
    return name if isinstance(name, str) and name in calls else None


def fan_out_depth(name: str, calls: Mapping[str, Any]) -> int:
    """How many levels enclose ``name``'s records: each fan-out above them adds one, and
    each ``for_each.each`` level one more (0 for a plain call)."""
    depth, seen, current = 0, {name}, name
    parent = _parent_of(calls.get(name), calls)
    while parent is not None:
        depth += 1 + len(each_levels(calls.get(current)))
        if parent in seen:  # a cycle: reported elsewhere
            break
        seen.add(parent)
        current, parent = parent, _parent_of(calls.get(parent), calls)
    return depth


def _compiled(text: TextChecker, value: Any) -> Any:
    if not isinstance(value, str):
        return None
    try:
        return compile_expression(value, text.functions)
    except ExpressionSyntaxError:
        return None  # reported where the expression is checked


def _expressions(call: Mapping[str, Any], depth: int = 0) -> list[tuple[Path, str, int]]:
    """(path under the call, text, levels enclosing its subject) of every expression of a
    call that may read roots; ``depth`` encloses the call's records."""
    fe = _dict(call.get("for_each"))
    levels = each_levels(call)
    above = max(depth - 1 - len(levels), 0)  # levels enclosing a record of the parent call
    out: list[tuple[Path, Any, int]] = [
        (("where",), call.get("where"), depth),
        (("records",), call.get("records"), depth),
        (("poll", "until"), _dict(call.get("poll")).get("until"), depth),
        (("item_fallback", "records"), _dict(call.get("item_fallback")).get("records"), depth),
        (("for_each", "where"), fe.get("where"), max(depth - 1, 0)),
    ]
    if isinstance(fe.get("each"), str):
        out.append((("for_each", "each"), fe["each"], above))
    else:
        out.extend((("for_each", "each", i), lv, above + i) for i, lv in enumerate(levels))
    return [(p, t, d) for p, t, d in out if isinstance(t, str)]


def calls_read(text: TextChecker, call: Any) -> list[str]:
    """The calls ``call``'s expressions read as ``$calls.<name>`` (sorted)."""
    names: set[str] = set()
    for _, value, _ in _expressions(_dict(call)):
        expr = _compiled(text, value)
        if expr is not None:
            names.update(n for n in expr.calls if n != "*")
    return sorted(names)


def check_call_flow(
    findings: Findings,
    text: TextChecker,
    name: str,
    call: Mapping[str, Any],
    calls: Mapping[str, Any],
) -> None:
    """The ``for_each.each``, ``item_fallback`` and ``poll`` of one call, and what its
    expressions read (``$calls.<name>``, ``$ancestors[N]``)."""
    path: Path = ("calls", name)
    fan_out = isinstance(call.get("for_each"), dict)
    depth = fan_out_depth(name, calls)
    levels = each_levels(call)
    fe = _dict(call.get("for_each"))
    above = depth - 1 - len(levels)  # levels enclosing the parent call's records
    for i, level in enumerate(levels):
        lpath: Path = (*path, "for_each", "each") + (() if isinstance(fe["each"], str) else (i,))
        if not isinstance(level, str):
            findings.add(lpath, "an each: level must be a JMESPath string")
            continue
        enclosed = ENCLOSED if i > 0 or above > 0 else set()
        text.expression(lpath, level, CALL_ROOTS | enclosed)
    if isinstance(fe.get("each"), list) and not fe["each"]:
        findings.add((*path, "for_each", "each"), "each: needs at least one level")
    if levels and isinstance(call.get("embed"), dict):
        findings.add(
            (*path, "embed"),
            "embed cannot go with for_each.each: the call's parents are nested items, not "
            "records of the parent call",
            key=True,
        )
    _check_item_fallback(findings, text, path, call, fan_out, depth)
    poll = call.get("poll")
    if isinstance(poll, dict) and "until" in poll:
        text.expression((*path, "poll", "until"), poll["until"], CALL_ROOTS | _enclosed(depth))
    for sub, value, levels_up in _expressions(call, depth):
        _check_reads(findings, text, (*path, *sub), value, name, calls, levels_up)


def _enclosed(depth: int) -> set[str]:
    return ENCLOSED if depth else set()


def _check_item_fallback(
    findings: Findings,
    text: TextChecker,
    path: Path,
    call: Mapping[str, Any],
    fan_out: bool,
    depth: int,
) -> None:
    fb = call.get("item_fallback")
    if not isinstance(fb, dict):
        return
    fpath: Path = (*path, "item_fallback")
    if not fan_out:
        findings.add(
            fpath,
            "item_fallback needs for_each: it retries one item of a fan-out (use fallback: "
            "for a whole call)",
            key=True,
        )
    roots = text.base_roots() | {"login"} | (ENCLOSED if fan_out else set())
    for key in ("path", "url", "query", "headers"):
        if key in fb:
            text.templates_in((*fpath, key), fb[key], roots)
    if "records" in fb:
        text.expression((*fpath, "records"), fb["records"], CALL_ROOTS | _enclosed(depth))
    if "xml" in call and fb.get("format", call.get("format")) != "xml":
        findings.add((*fpath, "format"), "the call's xml: options need format: xml here too")


def _check_reads(
    findings: Findings,
    text: TextChecker,
    path: Path,
    value: str,
    name: str,
    calls: Mapping[str, Any],
    depth: int,
) -> None:
    """``$calls.<x>`` names a call other than this one; ``$ancestors[N]`` exists."""
    expr = _compiled(text, value)
    if expr is None:
        return
    for other in sorted(n for n in expr.calls if n != "*"):
        at = re.search(rf"\$calls\s*\.\s*{re.escape(other)}\b", value)
        if other == name:
            findings.add(
                path,
                f"'$calls.{other}' is this call's own records, not known before it runs",
                at=at.start() if at else None,
            )
        elif other not in calls:
            findings.add(
                path,
                f"unknown call '{other}' in $calls" + schema_mod.suggest(other, calls),
                at=at.start() if at else None,
            )
    if "ancestors" in expr.roots:
        _check_ancestor_index(findings, path, value, depth)


def _rule_strings(value: Any, path: Path) -> list[tuple[Path, str]]:
    """The expression strings of an attribute rule (not constants, templates or value maps)."""
    if isinstance(value, str):
        return [(path, value)]
    if isinstance(value, dict):
        if "value" in value or "template" in value:
            return []
        return [
            x
            for k, v in value.items()
            if k not in ("map", "match", "lazy", "key", "by")
            for x in _rule_strings(v, (*path, k))
        ]
    return []


def check_source_ancestors(
    findings: Findings, path: Path, src: Mapping[str, Any], calls: Mapping[str, Any]
) -> None:
    """A collection source's ``$ancestors[N]`` against the call tree: the source's call's
    fan-out levels, then one per ``each`` level (level k sees the levels above it)."""
    name = src.get("from")
    if not isinstance(name, str) or name not in calls:
        return
    depth = fan_out_depth(name, calls)
    each = src.get("each")
    levels = [each] if isinstance(each, str) else each if isinstance(each, list) else []
    texts: list[tuple[Path, Any, int]] = []
    for i, level in enumerate(levels):
        lpath: Path = (*path, "each") if isinstance(each, str) else (*path, "each", i)
        texts.append((lpath, level, depth + i))
    inner = depth + len(levels)
    texts.append(((*path, "where"), src.get("where"), inner))
    for attr, rule in _dict(src.get("attributes")).items():
        texts.extend((p, t, inner) for p, t in _rule_strings(rule, (*path, "attributes", attr)))
    for tpath, value, enclosing in texts:
        if isinstance(value, str) and "$ancestors" in value:
            _check_ancestor_index(findings, tpath, value, enclosing)


def _check_ancestor_index(findings: Findings, path: Path, value: str, depth: int) -> None:
    """``$ancestors[N]`` in ``value`` where ``depth`` levels enclose the subject."""
    for m in _ANCESTOR_INDEX.finditer(value):
        index = int(m.group(1))
        if depth and (index >= depth or -index > depth):
            findings.syntax_error(
                path,
                m.start(),
                f"'$ancestors[{index}]' does not exist here: {depth} level(s) enclose these "
                "records ($ancestors[0] is the parent)",
            )


_CHAIN = re.compile(r"(?<![\w.$@\]])([A-Za-z_]\w*)((?:\s*\.\s*[A-Za-z_]\w*)+)")
_LITERAL = re.compile(r"'(?:[^'\\]|\\.)*'|`(?:[^`\\]|\\.)*`|\"(?:[^\"\\]|\\.)*\"")


def _embeds_into(calls: Mapping[str, Any]) -> dict[str, dict[str, tuple[str, bool]]]:
    """Parent call -> embedded field -> (the embedding call, ``first``)."""
    out: dict[str, dict[str, tuple[str, bool]]] = {}
    for name, call in calls.items():
        embed = _dict(_dict(call).get("embed"))
        parent = _parent_of(call, calls)
        if parent is not None and isinstance(embed.get("as"), str) and not each_levels(call):
            out.setdefault(parent, {})[embed["as"]] = (name, bool(embed.get("first")))
    return out


def _top_level_chains(text: str) -> list[tuple[int, list[str]]]:
    """(offset, [name, name, ...]) of the dotted paths on the record itself: string literals
    and what stands inside ``[...]`` (filters and projections run on elements) left out."""
    blanked = _LITERAL.sub(lambda m: " " * len(m.group(0)), text)
    depth, masked = 0, []
    for ch in blanked:
        depth += ch == "["
        masked.append(ch if depth == 0 else " ")
        depth -= ch == "]" and depth > 0
    out = []
    for m in _CHAIN.finditer("".join(masked)):
        parts = [m.group(1), *(p.strip() for p in m.group(2).split(".")[1:])]
        out.append((m.start(), parts))
    return out


def check_source_embeds(
    findings: Findings, path: Path, src: Mapping[str, Any], calls: Mapping[str, Any]
) -> None:
    """A path through fields ``embed`` sets on a source's records that cannot exist: a field
    after an embedded list (``embed`` without ``first: true``) or after an embedded text
    record (the embedding call's ``format: text``)."""
    name = src.get("from")
    embeds = _embeds_into(calls)
    if not isinstance(name, str) or name not in embeds:
        return
    each = src.get("each")
    if isinstance(each, str | list):
        first = each if isinstance(each, str) else (each[0] if each else None)
        lpath: Path = (*path, "each") if isinstance(each, str) else (*path, "each", 0)
        texts = [(lpath, first)]
    else:
        texts = [((*path, "where"), src.get("where"))]
        for attr, rule in _dict(src.get("attributes")).items():
            texts.extend(_rule_strings(rule, (*path, "attributes", attr)))
    for tpath, value in texts:
        if not isinstance(value, str):
            continue
        for at, parts in _top_level_chains(value):
            _check_embed_path(findings, tpath, at, parts, name, calls, embeds)


def _check_embed_path(
    findings: Findings,
    path: Path,
    at: int,
    parts: list[str],
    call: str,
    calls: Mapping[str, Any],
    embeds: Mapping[str, Mapping[str, tuple[str, bool]]],
) -> None:
    for i, part in enumerate(parts[:-1]):
        found = embeds.get(call, {}).get(part)
        if found is None:
            return  # a field of the API's answer: not known here
        child, first = found
        shown = ".".join(parts[: i + 2])
        if not first:
            findings.syntax_error(
                path,
                at,
                f"'{shown}' cannot exist: '{part}' is the list of '{child}' records (embed "
                f"without first: true); write {'.'.join(parts[: i + 1])}[0].{parts[i + 1]} or "
                f"{'.'.join(parts[: i + 1])}[].{parts[i + 1]}",
            )
            return
        if _dict(calls.get(child)).get("format") == "text":
            findings.syntax_error(
                path,
                at,
                f"'{shown}' cannot exist: '{part}' is the text body of '{child}' (format: text)",
            )
            return
        call = child
