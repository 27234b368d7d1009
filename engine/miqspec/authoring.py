"""The author's kit: try one call of a spec, and replay a recording against expectations.

Takes: a loaded ``Spec``, a call name or a cassette, the argument hash (as ManageIQ's UI sends
it) and, for ``test_spec``, an expectations mapping (docs/adding-a-provider.md, "Golden test").
Gives: ``try_call`` -> ``TryResult`` (the first page's raw response, the call's records, the
rows the mappings build from them; no database); ``test_spec`` -> ``TestResult`` (the counts
and rows a replay saved into a temporary SQLite database, and each mismatch with the
expectations); ``load_expectations`` (the YAML file -> a checked mapping).
Raises: ``UsageError`` (unknown call, a required form field missing, a malformed expectations
file), ``NotFoundError`` (a file that is not there) and the stage errors of a refresh
(``ApiError``, ``CredentialsError``, ``ReplayError``, ...). Does network I/O (or reads a
cassette); ``test_spec`` writes a temporary SQLite database and key file, removed afterwards.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from miqspec import pipeline, store
from miqspec.collect import collect
from miqspec.connect import RecordingAdapter
from miqspec.errors import NotFoundError, UsageError, mask_secrets
from miqspec.parse import LazyRef, parse
from miqspec.spec import Spec

RAW_LIMIT = 2000  # characters of the first page's body shown
SAMPLE = 3  # records and rows shown


@dataclass
class TryResult:
    """What ``try_call`` saw. ``request``: the first page's method and URL (secrets masked),
    ``status`` its HTTP status, ``raw`` its body (masked, cut at ``RAW_LIMIT`` characters,
    ``truncated`` then true); ``records``: the call's record count, ``sample`` the first few;
    ``rows``: per collection whose sources read the call, its object count and first rows."""

    call: str
    request: str = ""
    status: int | None = None
    raw: str = ""
    truncated: bool = False
    records: int = 0
    pages: int = 0
    sample: list[Any] = field(default_factory=list)
    rows: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The result as JSON-ready data."""
        return {
            "call": self.call,
            "request": self.request,
            "status": self.status,
            "raw": self.raw,
            "truncated": self.truncated,
            "records": self.records,
            "pages": self.pages,
            "sample": self.sample,
            "rows": self.rows,
        }


def missing_fields(spec: Spec, args: Mapping[str, Any]) -> list[str]:
    """The spec's required form fields ``args`` lacks (dotted names; fields the form does not
    submit, such as the credentials-validation button, are not asked for)."""
    return [
        f.name
        for f in spec.form
        if f.required and not f.raw.get("skipSubmit") and _dig(args, f.name) in (None, "")
    ]


def try_call(
    spec: Spec,
    call: str,
    args: Mapping[str, Any],
    *,
    replay: str | Path | None = None,
    replay_ignore: tuple[str, ...] = (),
    sample: int = SAMPLE,
) -> TryResult:
    """Run ``call`` (its login, pagination and the calls it depends on) with ``args``, from
    the network or the cassette ``replay``; parse the collected records with the spec's
    mappings (no database). ``UsageError`` for an unknown call or a missing required field."""
    if call not in spec.calls:
        known = ", ".join(sorted(spec.calls))
        raise UsageError(f"spec {spec.provider.name!r} has no call {call!r} (calls: {known})")
    missing = missing_fields(spec, args)
    if missing:
        raise UsageError("missing required field(s): " + ", ".join(missing))
    inner = pipeline.replay_adapter(spec, str(replay), replay_ignore, args) if replay else None
    with tempfile.TemporaryDirectory(prefix="miqspec-try-") as tmp:
        recorder = RecordingAdapter(Path(tmp) / "try.yml", inner=inner)
        session = pipeline.make_session(spec, args, recorder)
        first = _FirstPage(call, recorder, fan_out=spec.calls[call].for_each is not None)
        try:
            collected = collect(session, [call], first.progress)
            inventory = parse(spec, collected, context=session.ctx)
        finally:
            secrets = session.secrets()
            session.close()
    res = collected.calls[call]
    out = TryResult(call, records=len(res.records), pages=res.pages)
    page = first.page()
    if page is not None:
        out.request = mask_secrets(f"{page.method.upper()} {page.uri}", secrets)
        out.status = page.status
        text = mask_secrets(_pretty(page.response_body.decode("utf-8", "replace")), secrets)
        out.raw, out.truncated = text[:RAW_LIMIT], len(text) > RAW_LIMIT
    out.sample = _masked(res.records[:sample], secrets)
    for name, mapping in spec.collections.items():
        if any(s.call == call for s in mapping.sources):
            objects = list(inventory.objects.get(name, {}).values())
            rows = [{k: _plain(v) for k, v in o.data.items()} for o in objects[:sample]]
            out.rows[name] = {
                "count": len(objects),
                "rows": _masked(rows, secrets),
                "dropped": dict(inventory.dropped.get(name, {})),
            }
    return out


class _FirstPage:
    """Finds, among the recorded interactions, the first request of ``call``: the last one
    when its first page is reported (a plain call), else the first one after the calls it
    depends on reported their last page (a fan-out reports per parent)."""

    def __init__(self, call: str, recorder: RecordingAdapter, *, fan_out: bool) -> None:
        self.call, self.recorder, self.fan_out = call, recorder, fan_out
        self.mark = 0
        self.index: int | None = None

    def progress(self, name: str, pages: int, records: int) -> None:
        count = len(self.recorder.interactions)
        if name != self.call:
            self.mark = count
        elif self.index is None and count > self.mark:
            # a plain call reports after each page: its first page is the last request
            self.index = self.mark if self.fan_out else count - 1

    def page(self) -> Any:
        items = self.recorder.interactions
        if self.index is None:
            return items[self.mark] if len(items) > self.mark else None
        return items[self.index]


def _pretty(text: str) -> str:
    """A JSON body indented (so the first lines show its shape); other text as it is."""
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except ValueError:
        return text


def _plain(value: Any) -> Any:
    """A parsed value as shown: a reference as ``collection[ref]``."""
    if isinstance(value, LazyRef):
        key = f".{value.key}" if value.key else ""
        return f"{value.collection}[{', '.join(str(r) for r in value.ref)}]{key}"
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _masked(data: Any, secrets: list[str]) -> Any:
    """``data`` with every secret value masked (through its JSON text)."""
    text = json.dumps(data, default=str, ensure_ascii=False)
    return json.loads(mask_secrets(text, secrets))


def _dig(args: Mapping[str, Any], dotted: str) -> Any:
    node: Any = args
    for part in dotted.split("."):
        node = node.get(part) if isinstance(node, Mapping) else None
    return node


def read_yaml_file(path: str | Path, what: str) -> Any:
    """The YAML document at ``path``; ``NotFoundError`` when missing, ``UsageError`` when
    not YAML."""
    file = Path(path)
    try:
        return yaml.safe_load(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise NotFoundError(f"{what} {file} not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {what} {file}: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise UsageError(f"{what} {file} is not valid YAML{where}") from None


# -- golden test: replay into a temporary database and compare ------------------------------

EXPECT_KEYS = ("args", "counts", "records")
MISMATCH_EXIT = 12  # expectations not met (docs/adding-a-provider.md)


@dataclass
class TestResult:
    """What ``test_spec`` found: ``counts`` and ``rows`` (references named) saved per
    collection, ``mismatches`` one line each (empty: passed); ``error``/``exit_code``: the
    refresh failed (nothing compared)."""

    __test__ = False  # not a pytest test class

    counts: dict[str, int] = field(default_factory=dict)
    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    mismatches: list[str] = field(default_factory=list)
    error: str | None = None
    exit_code: int = 0

    @property
    def passed(self) -> bool:
        return self.error is None and not self.mismatches

    def to_dict(self) -> dict[str, Any]:
        """The result as JSON-ready data."""
        return {
            "passed": self.passed,
            "counts": self.counts,
            "mismatches": self.mismatches,
            "error": self.error,
            "exit_code": self.exit_code,
        }


def load_expectations(path: str | Path) -> dict[str, Any]:
    """The expectations file at ``path``, checked: a mapping with ``args`` (a mapping),
    ``counts`` (collection -> whole number) and ``records`` (collection -> record name or
    ems_ref -> attribute -> value). ``UsageError`` naming what is wrong."""
    data = read_yaml_file(path, "expectations file")
    data = {} if data is None else data
    if not isinstance(data, dict):
        raise UsageError(f"expectations file {path}: the top level must be a mapping")
    unknown = sorted(set(data) - set(EXPECT_KEYS))
    if unknown:
        raise UsageError(
            f"expectations file {path}: unknown key(s) {', '.join(unknown)} "
            f"(known: {', '.join(EXPECT_KEYS)})"
        )
    for key in EXPECT_KEYS:
        if not isinstance(data.get(key) or {}, dict):
            raise UsageError(f"expectations file {path}: {key} must be a mapping")
    for name, count in (data.get("counts") or {}).items():
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise UsageError(f"expectations file {path}: counts.{name} must be a whole number")
    for name, records in (data.get("records") or {}).items():
        if not isinstance(records, dict) or not all(
            isinstance(attrs, dict) for attrs in records.values()
        ):
            raise UsageError(
                f"expectations file {path}: records.{name} must map record names to "
                "attribute mappings"
            )
    return data


def test_spec(
    spec: Spec,
    cassette: str | Path,
    expect: Mapping[str, Any],
    args: Mapping[str, Any] | None = None,
    *,
    replay_ignore: tuple[str, ...] = (),
) -> TestResult:
    """Replay ``cassette`` into a fresh temporary SQLite database as provider ``test`` with
    ``args`` (default: the expectations' ``args``), then compare ``expect``'s counts and
    record attributes with what was saved. ``UsageError`` for a collection the spec does not
    map or a missing required field; ``NotFoundError`` for a missing cassette."""
    given = dict(args if args is not None else expect.get("args") or {})
    missing = missing_fields(spec, given)
    if missing:
        raise UsageError("missing required field(s): " + ", ".join(missing))
    wanted = {**(expect.get("counts") or {}), **(expect.get("records") or {})}
    unknown = sorted(n for n in wanted if n not in spec.collections)
    if unknown:
        raise UsageError(
            f"spec {spec.provider.name!r} maps no collection {', '.join(map(repr, unknown))}"
        )
    if not Path(cassette).is_file():
        raise NotFoundError(f"cassette {cassette} not found")
    with tempfile.TemporaryDirectory(prefix="miqspec-test-") as tmp:
        engine = store.open_database(f"sqlite:///{Path(tmp) / 'inventory.db'}")
        try:
            store.upgrade(engine)
            keyring = store.KeyRing.load(Path(tmp) / "v2_key", create=True)
            providers = store.ProviderStore(engine)
            ems_id = providers.add(spec, "test", given, keyring)
            adapter = pipeline.replay_adapter(spec, str(cassette), replay_ignore, given)
            refreshed = pipeline.refresh_provider(engine, "test", keyring, adapter=adapter)
            out = TestResult()
            if not refreshed.ok:
                out.error, out.exit_code = refreshed.error, refreshed.exit_code or 1
                return out
            owners = pipeline.owners_for(spec, ems_id, providers.children(ems_id))
            rows = {
                n: store.collection_rows(engine, providers.md, spec, n, owners)
                for n in spec.collections
            }
        finally:
            engine.dispose()
    out.counts, out.rows = {n: len(r) for n, r in rows.items()}, rows
    out.mismatches = compare(expect, rows)
    out.exit_code = MISMATCH_EXIT if out.mismatches else 0
    return out


test_spec.__test__ = False  # type: ignore[attr-defined]  # pytest: a function, not a test


def compare(expect: Mapping[str, Any], rows: Mapping[str, list[dict[str, Any]]]) -> list[str]:
    """One line per expectation the saved ``rows`` (collection -> rows) do not meet."""
    out = []
    for name, count in (expect.get("counts") or {}).items():
        got = len(rows.get(name, []))
        if got != count:
            out.append(f"{name}: expected {count} row(s), got {got}")
    for name, records in (expect.get("records") or {}).items():
        for key, attrs in records.items():
            row = _find(rows.get(name, []), str(key))
            if row is None:
                out.append(f"{name}[{key}]: no row with that name or ems_ref")
                continue
            for attr, value in attrs.items():
                if attr not in row:
                    out.append(f"{name}[{key}].{attr}: no such column")
                elif not _same(row[attr], value):
                    out.append(f"{name}[{key}].{attr}: expected {value!r}, got {row[attr]!r}")
    return out


def _find(rows: list[dict[str, Any]], key: str) -> dict[str, Any] | None:
    for column in ("ems_ref", "name"):
        for row in rows:
            if str(row.get(column)) == key:
                return row
    return None


def _same(got: Any, want: Any) -> bool:
    """Equal, or equal as text (a date, a decimal or a reference against YAML's scalar)."""
    return bool(got == want or (got is not None and str(got) == str(want)))


_CONTAINERS = ("sub-form", "tabs", "tab-item", "wizard", "plain-text", "field-array")


def expectations_for(spec: Spec) -> str:
    """A starting expectations file for ``spec`` (``miqspec new --with-test``): ``args`` with
    every submitted form field (secrets as the placeholders ``--record`` writes, others empty:
    to fill in), ``counts`` 0 for each collection and a commented ``records`` example."""
    args: dict[str, Any] = {}
    for f in spec.form:
        if f.raw.get("skipSubmit") or f.component in _CONTAINERS:
            continue
        node = args
        *parents, last = f.name.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = f.name.upper().replace(".", "_") if f.secret else ""
    first = next(iter(spec.collections), "vms")
    body = yaml.safe_dump(
        {"args": args, "counts": dict.fromkeys(spec.collections, 0)},
        sort_keys=False,
        default_flow_style=False,
    )
    return (
        f"# Expectations of {spec.provider.name}: miqspec test SPEC --cassette CASSETTE "
        "--expect expected.yaml\n"
        "# (docs/adding-a-provider.md, 'A golden test outside this repository').\n"
        "# args: the provider's argument hash; a secret may stay the placeholder the cassette\n"
        "# holds. counts: rows per collection after the replay (fill in).\n"
        + body
        + "# records:  # collection -> record (ems_ref, else name) -> attributes\n"
        + f"#   {first}:\n#     my-first-record:\n#       name: my-first-record\n"
    )


__all__ = [
    "MISMATCH_EXIT",
    "TestResult",
    "TryResult",
    "compare",
    "expectations_for",
    "load_expectations",
    "missing_fields",
    "read_yaml_file",
    "test_spec",
    "try_call",
]
