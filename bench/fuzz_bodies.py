"""Fuzz what an API can send: generated bodies for every call of awesome_cloud.yaml.

Takes: ``--examples N`` (default 10,000: N bodies for each call of a refresh, and for the
login), ``--seed S``, ``--workers W`` (processes, each with its own server, seed and share).
Gives: counts printed as JSON (cases, refreshes collected and parsed, errors by class, internal
errors with the bodies that made them) and exit 1 when any case made an internal error. Serves
the bodies from a real HTTP server on 127.0.0.1 (its own thread) and runs the shipped spec's
``collect`` and ``parse`` against it, as a refresh does before it writes.

A case is one body per call: the login answer, availability zones, instance types, images and
instances. Bodies are mostly shaped like the API's (``{"items": [...], "next_token": ...}``)
with hostile values in every field: text with NUL, lone surrogates, right-to-left marks and
YAML/JSON/template syntax; integers of 20 to 5,000 digits; floats out of range, NaN; nested
lists and objects where a string belongs; missing and extra fields. Now and then a body is not
that shape at all: another JSON value, invalid or truncated JSON, HTML, nesting 100,000 deep,
a BOM, nothing. A page with a ``next_token`` is followed by one more page of the case, then an
empty one, so pagination is exercised without running to ``max_pages``. Each case must end in
inventory or a ``MiqspecError``.

Run: .venv/bin/python bench/fuzz_bodies.py --examples 10000 --workers 2
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
import traceback
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from miqspec.collect import collect
from miqspec.errors import MiqspecError
from miqspec.parse import parse
from miqspec.pipeline import make_session
from miqspec.spec import Spec, load_spec

REPO = Path(__file__).resolve().parents[1]
SPEC_PATH = REPO / "provider_specs" / "awesome_cloud.yaml"
CALLS = {  # path -> the fields its records have
    "/availability_zones": ["id", "name"],
    "/instance_types": ["id", "name", "n_cpus", "ram"],
    "/images": ["id", "name"],
    "/instances": ["id", "name", "availability_zone", "power_state", "flavor"],
}
LOGIN = "/auth/tokens"

texts = st.one_of(
    st.text(max_size=20),
    st.sampled_from(
        ["", "\x00", "a\x00b", "\ud800", "\udfff", "\u202e", "\ufeff", "\u0085", "running",
         "stopped", "never", "on", "{{ x }}", "{% include 'x' %}", "*a", "&a [*a]", "[?x]",
         "a: &a [*a, *a]", "1" * 30, "9" * 5000, "NaN", "-0", "null", "true", "é" * 1000,
         "x" * 70_000, "az-1", "flavor-1", "us-east-1"]
    ),
)  # fmt: skip
numbers = st.one_of(
    st.integers(-(2**63), 2**64),
    st.integers(-(10**40), 10**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, -1, 2**63 - 1, 2**63, 10**100]),
)
scalars = st.one_of(texts, numbers, st.booleans(), st.none())
anything = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=8,
)


@st.composite
def records(draw: Any, fields: list[str]) -> Any:
    if draw(st.integers(0, 19)) == 0:
        return draw(anything)
    record: dict[str, Any] = {}
    for name in fields:
        if draw(st.integers(0, 9)):
            record[name] = draw(st.one_of(st.sampled_from(["a", "b", "c"]), scalars, anything))
    if draw(st.integers(0, 4)) == 0:
        record[draw(texts)] = draw(anything)
    return record


def _dump(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=True, allow_nan=True).encode()


@st.composite
def pages(draw: Any, fields: list[str]) -> list[tuple[str, bytes]]:
    """The pages (content type, bytes) one call answers with, in order."""
    out = []
    for number in range(draw(st.integers(1, 2))):
        shape = draw(st.integers(0, 29))
        if shape == 0:
            body = _dump(draw(anything))
        elif shape == 1:
            body = draw(
                st.sampled_from(
                    [b"", b"{", b'{"items": [', b"<html>oops</html>", b"\xff\xfe{}",
                     b"\xef\xbb\xbf{}", b"[" * 100_000 + b"]" * 100_000,
                     b'{"items": ' + b"[" * 5000 + b"]" * 5000 + b"}",
                     b'{"items": [{"id": 1e99999}]}', b'{"items": [{"id": ' + b"9" * 5000 + b"}]}",
                     b'{"items": [{"id": "\\ud800"}]}', b'{"items": [], "items": 5}', b"null"]
                )
            )  # fmt: skip
        else:
            body_value: dict[str, Any] = {
                "items": draw(st.lists(records(fields), max_size=4))
                if shape > 2
                else draw(anything)
            }
            if number == 0 and draw(st.booleans()):
                body_value["next_token"] = draw(st.one_of(st.just("t2"), scalars))
            body = _dump(body_value)
        kind = draw(st.sampled_from(["application/json"] * 8 + ["text/plain", "application/xml"]))
        out.append((kind, body))
    return out


@st.composite
def cases(draw: Any) -> dict[str, list[tuple[str, bytes]]]:
    case = {path: draw(pages(fields)) for path, fields in CALLS.items()}
    token = (
        draw(st.one_of(st.just("t"), scalars, anything)) if draw(st.integers(0, 4)) == 0 else "t"
    )
    case[LOGIN] = [("application/json", _dump({"token": token}))]
    return case


class BodyServer:
    """127.0.0.1, answering each path with the current case's pages in turn, then ``[]``."""

    def __init__(self) -> None:
        self.case: dict[str, list[tuple[str, bytes]]] = {}
        self.served: Counter[str] = Counter()
        self.lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                path = self.path.split("?")[0].removeprefix("/v1")
                with owner.lock:
                    pages = owner.case.get(path, [])
                    number = owner.served[path]
                    owner.served[path] += 1
                kind, body = (
                    pages[number] if number < len(pages) else ("application/json", b'{"items": []}')
                )
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_POST = do_GET

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def serve(self, case: dict[str, list[tuple[str, bytes]]]) -> None:
        with self.lock:
            self.case, self.served = case, Counter()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def try_case(
    spec: Spec, server: BodyServer, case: dict[str, Any], tally: Counter[str], bugs: list[Any]
) -> None:
    """Collect and parse one case; count the outcome, keep any bug."""
    server.serve(case)
    tally["cases"] += 1
    args = {
        "provider_region": "us-east-1",
        "endpoints": {"default": {"url": server.url}},
        "authentications": {"default": {"userid": "a", "password": "b"}},
    }
    try:
        session = make_session(spec, args)
        roots = [c for m in spec.collections.values() for c in m.calls]
        inventory = parse(spec, collect(session, roots), context=session.ctx)
        tally["parsed"] += 1
        tally["objects"] += sum(inventory.count(n) for n in spec.collections)
    except MiqspecError as exc:
        tally[type(exc).__name__] += 1
        if "\n" in str(exc):
            bugs.append(_bug("a message of more than one line", exc, case))
    except Exception as exc:
        bugs.append(_bug("collect/parse", exc, case))


def _bug(where: str, exc: BaseException, case: dict[str, Any]) -> dict[str, Any]:
    shown = {
        p: [(k, b[:300].decode("utf-8", "replace")) for k, b in pages] for p, pages in case.items()
    }
    return {
        "where": where,
        "error": repr(exc)[:300],
        "trace": "".join(traceback.format_exception(exc)[-3:])[-800:],
        "case": shown,
    }


def run(examples: int, run_seed: int) -> dict[str, Any]:
    """``examples`` generated cases with ``run_seed``; the counts and the bugs found."""
    tally: Counter[str] = Counter()
    bugs: list[Any] = []
    spec = load_spec(str(SPEC_PATH))
    server = BodyServer()
    try:

        @seed(run_seed)
        @settings(
            max_examples=examples, database=None, deadline=None,
            suppress_health_check=list(HealthCheck),
        )  # fmt: skip
        @given(cases())
        def each(case: dict[str, Any]) -> None:
            try_case(spec, server, case, tally, bugs)

        each()
    finally:
        server.close()
    return {"counts": dict(tally), "bugs": bugs}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--examples", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    os.environ.setdefault("MIQSPEC_CACHE_DIR", "off")
    started = time.monotonic()
    share = -(-args.examples // args.workers)
    with ProcessPoolExecutor(args.workers) as pool:
        parts = list(
            pool.map(run, [share] * args.workers, [args.seed + i for i in range(args.workers)])
        )
    counts: Counter[str] = Counter()
    for part in parts:
        counts.update(part["counts"])
    bugs = [bug for part in parts for bug in part["bugs"]]
    report = {
        "cases": counts.pop("cases", 0),
        "parsed": counts.pop("parsed", 0),
        "objects": counts.pop("objects", 0),
        "errors": dict(counts.most_common()),
        "internal_errors": len(bugs),
        "seconds": round(time.monotonic() - started, 1),
        "bugs": bugs[:20],
    }
    json.dump(report, sys.stdout, indent=1, ensure_ascii=False)
    print()
    return 1 if bugs else 0


if __name__ == "__main__":
    sys.exit(main())
