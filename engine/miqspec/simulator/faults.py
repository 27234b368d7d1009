"""Fault injection for the Awesome Cloud simulator: rules, counters and per-request decisions.

Takes: fault rules (``FaultRule`` or plain mappings from JSON / keyword arguments), then one
request target (path with query string) at a time. Gives: a ``Decision`` saying how to spoil
that request: delay it, drop the connection, answer 429 / 503 / a fixed status, cut or replace
the JSON body, or make pagination endless. Raises ``UsageError`` for unknown fault names or bad
values. Does no I/O (the server applies the decision).

Count faults (``drop_connection``, ``http_429``, ``http_5xx``, ``truncated_json``,
``malformed_json``) hit the first N matching requests after they are set; a request uses up at
most one of them, in that order, so ``http_429=1, http_5xx=1`` answers 429, then 503, then
succeeds. ``fail_always_status`` wins over everything else and uses up nothing. ``latency_ms``
adds to every matching request. A rule's ``path`` is a substring of the request target
(``/v1/instances?limit=1000``); without one the rule matches every /v1 request.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from miqspec.errors import UsageError

COUNT_FAULTS = ("drop_connection", "http_429", "http_5xx", "truncated_json", "malformed_json")
MALFORMED_BODY = b"<html><body><h1>502 Bad Gateway</h1></body></html>\n"


@dataclass(frozen=True)
class FaultRule:
    """One set of faults, optionally limited to request targets containing ``path``."""

    path: str | None = None
    latency_ms: float = 0.0
    http_429: int = 0
    retry_after: float = 0.0  # seconds sent in Retry-After with each 429 (may be fractional)
    http_5xx: int = 0
    truncated_json: int = 0
    malformed_json: int = 0
    drop_connection: int = 0
    endless_pages: bool = False
    fail_always_status: int | None = None

    def __post_init__(self) -> None:
        for name in (*COUNT_FAULTS, "latency_ms", "retry_after"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise UsageError(f"fault {name} must be a number >= 0, got {value!r}")
        for name in COUNT_FAULTS:
            if not isinstance(getattr(self, name), int):
                raise UsageError(f"fault {name} must be a whole number")
        status = self.fail_always_status
        if status is not None and (
            isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599
        ):
            raise UsageError(f"fault fail_always_status must be an HTTP status, got {status!r}")
        if not isinstance(self.endless_pages, bool):
            raise UsageError("fault endless_pages must be true or false")
        if self.path is not None and not isinstance(self.path, str):
            raise UsageError("fault path must be a string")

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> FaultRule:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise UsageError(f"unknown fault {unknown[0]!r}; known: {', '.join(sorted(known))}")
        return cls(**dict(values))

    def is_empty(self) -> bool:
        return self == FaultRule(path=self.path)

    def matches(self, target: str) -> bool:
        return not self.path or self.path in target


def rules_from(values: Mapping[str, Any]) -> list[FaultRule]:
    """Rules from one mapping: ``{"rules": [{...}, ...]}`` or a single rule's fields."""
    if "rules" in values:
        if set(values) != {"rules"} or not isinstance(values["rules"], list):
            raise UsageError("faults: 'rules' must be a list and the only key")
        if not all(isinstance(rule, Mapping) for rule in values["rules"]):
            raise UsageError("faults: each rule must be a mapping")
        return [FaultRule.from_mapping(rule) for rule in values["rules"]]
    return [FaultRule.from_mapping(values)]


@dataclass(frozen=True)
class Decision:
    """What to do to one request."""

    delay_s: float = 0.0
    drop: bool = False
    status: int | None = None  # answer this status instead of the real response
    retry_after: float | None = None  # with status 429
    body_fault: str | None = None  # "truncated" or "malformed"
    endless: bool = False


NO_FAULT = Decision()


class FaultPlan:
    """The active rules and what is left of their counts; thread-safe."""

    def __init__(self, rules: list[FaultRule] | None = None) -> None:
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []
        self.set(rules or [])

    def set(self, rules: list[FaultRule]) -> None:
        """Replace all rules (an empty list clears the faults); counts start afresh."""
        with self._lock:
            self._rules = [rule for rule in rules if not rule.is_empty()]

    def describe(self) -> list[dict[str, Any]]:
        """The active rules with their remaining counts."""
        with self._lock:
            return [asdict(rule) for rule in self._rules]

    def decide(self, target: str) -> Decision:
        if not self._rules:
            return NO_FAULT
        with self._lock:
            matching = [(i, rule) for i, rule in enumerate(self._rules) if rule.matches(target)]
            if not matching:
                return NO_FAULT
            delay = sum(rule.latency_ms for _, rule in matching) / 1000.0
            endless = any(rule.endless_pages for _, rule in matching)
            for _, rule in matching:
                if rule.fail_always_status is not None:
                    return Decision(delay, status=rule.fail_always_status, endless=endless)
            for i, rule in matching:
                for name in COUNT_FAULTS:
                    if getattr(rule, name) > 0:
                        self._rules[i] = replace(rule, **{name: getattr(rule, name) - 1})
                        return _count_decision(name, rule, delay, endless)
            return Decision(delay, endless=endless)


def _count_decision(name: str, rule: FaultRule, delay: float, endless: bool) -> Decision:
    if name == "drop_connection":
        return Decision(delay, drop=True)
    if name == "http_429":
        return Decision(delay, status=429, retry_after=rule.retry_after, endless=endless)
    if name == "http_5xx":
        return Decision(delay, status=503, endless=endless)
    body_fault = "truncated" if name == "truncated_json" else "malformed"
    return Decision(delay, body_fault=body_fault, endless=endless)
