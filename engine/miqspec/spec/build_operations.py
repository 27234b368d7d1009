"""Build the typed ``operations`` and ``provisioning`` sections of a checked spec.

Takes: a ``LoadedDocument`` whose data passed ``checks`` (for locations), the raw sections,
the spec's ``Connection`` (first service, default timeout and retry) and the expression
compiler bound to the spec's functions.
Gives: ``build_operations`` (collection -> operation name -> ``Operation``) and
``build_provisioning`` (a ``Provisioning``, or None when the spec declares none).
Raises nothing for checked input; no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from miqspec.spec.document import LoadedDocument, Path
from miqspec.spec.expressions import Expression
from miqspec.spec.model_calls import Body, Connection, Poll, Retry
from miqspec.spec.operations_model import (
    DEFAULT_MAX_COUNT,
    DEFAULT_WAIT_BACKOFF,
    DEFAULT_WAIT_DEADLINE,
    DEFAULT_WAIT_INTERVAL,
    DEFAULT_WAIT_MAX_INTERVAL,
    NO_RETRY,
    Operation,
    OpRequest,
    Provisioning,
    UnsupportedRule,
    Wait,
)
from miqspec.spec.templating import compile_template

Compile = Callable[[str], Expression]


def build_operations(
    doc: LoadedDocument, raw: Mapping[str, Any] | None, connection: Connection, cx: Compile
) -> dict[str, dict[str, Operation]]:
    """``operations`` as collection -> name -> ``Operation`` (empty when absent)."""
    out: dict[str, dict[str, Operation]] = {}
    for collection, ops in (raw or {}).items():
        out[collection] = {
            name: _operation(
                doc, ("operations", collection, name), collection, name, op, connection, cx
            )
            for name, op in (ops or {}).items()
        }
    return out


def _operation(
    doc: LoadedDocument,
    path: Path,
    collection: str,
    name: str,
    raw: Mapping[str, Any],
    connection: Connection,
    cx: Compile,
) -> Operation:
    rules = tuple(
        UnsupportedRule(
            cx(rule["when"]), str(rule["reason"]), doc.location((*path, "unsupported", i))
        )
        for i, rule in enumerate(raw.get("unsupported") or ())
    )
    return Operation(
        collection=collection,
        name=name,
        title=str(raw.get("title") or name.replace("_", " ")),
        request=build_request(doc, (*path, "request"), raw["request"], connection),
        unsupported=rules,
        raw_power_state=raw.get("raw_power_state"),
        removes=bool(raw.get("removes", False)),
        wait=_wait(doc, (*path, "wait"), raw.get("wait"), connection, cx),
        location=doc.location(path, key=True),
    )


def build_request(
    doc: LoadedDocument, path: Path, raw: Mapping[str, Any], connection: Connection
) -> OpRequest:
    """An operation's request; a request that changes something is not retried unless its
    ``retry`` says so (a start sent twice is a second start)."""
    method = str(raw.get("method", "GET")).upper()
    default_retry = connection.retry if method == "GET" else NO_RETRY
    own = raw.get("retry")
    retry = default_retry
    if own:
        base = connection.retry
        retry = Retry(
            attempts=int(own.get("attempts", base.attempts)),
            on=tuple(own.get("on", base.on)),
            backoff=float(own.get("backoff", base.backoff)),
            max_backoff=float(own.get("max_backoff", base.max_backoff)),
        )
    body = raw.get("body")
    kind, value = next(iter(body.items())) if body else (None, None)
    return OpRequest(
        service=raw.get("service") or next(iter(connection.services)),
        method=method,
        path=compile_template(str(raw.get("url", raw.get("path", "")))),
        url_join="url" in raw,
        query=dict(raw.get("query") or {}),
        headers={
            k: compile_template(str(v))
            for k, v in (raw.get("headers") or {}).items()
            if v is not None
        },
        body=Body(kind, value) if kind else None,
        timeout=float(raw["timeout"]) if raw.get("timeout") is not None else None,
        retry=retry,
        location=doc.location(path, key=True),
    )


def _wait(
    doc: LoadedDocument,
    path: Path,
    raw: Mapping[str, Any] | None,
    connection: Connection,
    cx: Compile,
) -> Wait | None:
    if not raw:
        return None
    failed = raw.get("failed_when")
    return Wait(
        request=build_request(doc, (*path, "request"), raw["request"], connection),
        poll=Poll(
            until=cx(raw["until"]),
            interval=float(raw.get("interval", DEFAULT_WAIT_INTERVAL)),
            backoff=float(raw.get("backoff", DEFAULT_WAIT_BACKOFF)),
            max_interval=float(raw.get("max_interval", DEFAULT_WAIT_MAX_INTERVAL)),
            deadline=float(raw.get("deadline", DEFAULT_WAIT_DEADLINE)),
        ),
        done_on=tuple(raw.get("done_on") or ()),
        failed_when=cx(failed) if failed else None,
        location=doc.location(path, key=True),
    )


def build_provisioning(
    doc: LoadedDocument, raw: Mapping[str, Any] | None, connection: Connection, cx: Compile
) -> Provisioning | None:
    """``provisioning`` as a ``Provisioning`` (None when absent)."""
    if not raw:
        return None
    path: Path = ("provisioning",)
    return Provisioning(
        collection=str(raw.get("collection") or "vms"),
        fields=tuple(raw["form"]["fields"]),
        request=build_request(doc, (*path, "request"), raw["request"], connection),
        new_ref=cx(raw["new_ref"]),
        raw_power_state=raw.get("raw_power_state"),
        wait=_wait(doc, (*path, "wait"), raw.get("wait"), connection, cx),
        max_count=int(raw.get("max_count", DEFAULT_MAX_COUNT)),
        location=doc.location(path, key=True),
    )
