"""Acceptance harness: replay the real recordings in ../shared/cassettes against our specs.

Takes: a provider case (spec path, cassette folder, form arguments, replay options).
Gives: ``Replayed`` (a database refreshed N times by replay, with SQL helpers) through
``replayed_runs``, a module-scoped cache per (case, backend, number of refreshes), plus
``cassette_dir``/``secrets_for`` to read the shared folder. Each refresh gets a new
``ReplayAdapter`` (every recording plays at most once per refresh, as in ManageIQ's VCR use).
Skips: when the shared cassette folder is absent, and PostgreSQL runs when it is unreachable.
Does I/O: reads cassettes, copies a migrated SQLite file or PostgreSQL template per run.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml

from ..conftest import REPO, PgDatabases

CASSETTES = REPO.parent / "shared" / "cassettes"
# MIQSPEC_ACCEPTANCE_SPECS: replay specs from another folder (e.g. a work-in-progress copy).
SPECS = Path(os.environ.get("MIQSPEC_ACCEPTANCE_SPECS") or REPO / "provider_specs")
BACKENDS = ("sqlite", "postgresql")
PASSES = (1, 2)
RUN_PARAMS = [
    pytest.param((backend, n), id=f"{backend}-refresh{n}") for backend in BACKENDS for n in PASSES
]


def cassette_dir(provider: str) -> Path:
    """``<repo>/../shared/cassettes/<provider>``; skips the calling test when it is absent."""
    folder = CASSETTES / provider
    if not (folder / "refresher.yml").is_file():
        pytest.skip(f"recorded traffic not available: {folder} is absent (read-only shared data)")
    return folder


def secrets_for(provider: str, section: str | None = None) -> dict[str, Any]:
    """The placeholder credentials in the folder's ``secrets.defaults.yml``."""
    data = yaml.safe_load((cassette_dir(provider) / "secrets.defaults.yml").read_text())
    return dict(data[section or provider])


def skip_draft(spec: Path) -> None:
    """Skip when the spec's first line is ``# draft: <why>`` (not valid yet, like test_specs)."""
    first = spec.read_text().split("\n", 1)[0]
    if first.startswith("# draft:"):
        pytest.skip(f"{spec.name} is a draft:{first[len('# draft:') :]}")


@dataclass(frozen=True)
class Case:
    """One provider replayed against its recording."""

    provider: str  # cassette folder and spec file name
    args: Callable[[], Mapping[str, Any]]  # form arguments (nested), built from secrets
    # None: the spec's own ``replay.ignore_query_params`` (what `miqspec refresh --replay` uses).
    ignore_query_params: Sequence[str] | None = None
    cassette: str = "refresher.yml"
    # Runs after the provider row is added, before any refresh (e.g. rows of other managers).
    prepare: Callable[[sa.Engine], None] | None = None
    spec_dir: Path | None = None  # default: SPECS
    name: str = "acceptance"

    @property
    def spec_path(self) -> Path:
        return (self.spec_dir or SPECS) / f"{self.provider}.yaml"


@dataclass
class Replayed:
    """A fresh database after ``len(results)`` replayed refreshes of one provider."""

    engine: sa.Engine
    ems_id: int
    name: str
    keyring: Any
    results: list[Any] = field(default_factory=list)  # RefreshResult per refresh
    unused: list[list[tuple[str, str]]] = field(default_factory=list)  # per refresh
    snapshots: list[dict[str, set[tuple[Any, ...]]]] = field(default_factory=list)

    @property
    def passes(self) -> int:
        return len(self.results)

    def rows(self, sql: str, **params: Any) -> list[Any]:
        with self.engine.connect() as conn:
            return list(conn.execute(sa.text(sql), {"ems": self.ems_id, **params}).all())

    def row(self, sql: str, **params: Any) -> Any:
        found = self.rows(sql, **params)
        assert len(found) == 1, f"expected exactly one row, got {len(found)}: {sql} {params}"
        return found[0]

    def scalar(self, sql: str, **params: Any) -> Any:
        return self.row(sql, **params)[0]

    def child_ids(self) -> dict[str, int]:
        """Child manager ids by the last part of their type (``NetworkManager``...)."""
        found = self.rows("select id, type from ext_management_systems where parent_ems_id = :ems")
        return {str(t).rsplit("::", 1)[-1]: int(i) for i, t in found}


def snapshot(engine: sa.Engine, tables: Sequence[str]) -> dict[str, set[tuple[Any, ...]]]:
    """(id, ems_ref-like identity) of every row of ``tables``: compares two refreshes."""
    out: dict[str, set[tuple[Any, ...]]] = {}
    md = sa.MetaData()
    md.reflect(engine, only=list(tables))
    with engine.connect() as conn:
        for name in tables:
            t = md.tables[name]
            key = [c for c in ("ems_ref", "manager_ref", "name") if c in t.c][:1]
            cols = [t.c.id, *(t.c[k] for k in key)]
            out[name] = {tuple(r) for r in conn.execute(sa.select(*cols)).all()}
    return out


class _Databases:
    """Gives each run a fresh database at the head revision (a copy of the session's migrated
    SQLite file or PostgreSQL template) and drops the PostgreSQL ones when done."""

    def __init__(
        self, tmp: pytest.TempPathFactory, sqlite_template: Path, pg: PgDatabases | None
    ) -> None:
        self.tmp = tmp
        self.sqlite_template = sqlite_template
        self.pg = pg
        self.pg_names: set[str] = set()
        self.engines: list[sa.Engine] = []

    def url(self, backend: str, pg_skip_reason: str | None) -> str:
        if backend == "sqlite":
            path = self.tmp.mktemp("acceptance") / "inventory.db"
            shutil.copyfile(self.sqlite_template, path)
            return f"sqlite:///{path}"
        if pg_skip_reason or self.pg is None:
            pytest.skip(pg_skip_reason or "PostgreSQL not reachable")
        name = self.pg.migrated()
        self.pg_names.add(name)
        return self.pg.url(name)

    def done(self, run: Replayed) -> None:
        """``run``'s database is no longer needed."""
        if run.engine in self.engines:
            self.engines.remove(run.engine)
        run.engine.dispose()
        name = run.engine.url.database
        if self.pg and name in self.pg_names:
            self.pg_names.discard(name)
            self.pg.release(name)

    def close(self) -> None:
        for eng in self.engines:
            eng.dispose()
        if self.pg:
            for name in sorted(self.pg_names):
                self.pg.release(name)
        self.pg_names.clear()


@pytest.fixture(scope="session")
def acceptance_databases(
    tmp_path_factory: pytest.TempPathFactory,
    migrated_sqlite_template: Path,
    pg_databases: PgDatabases | None,
) -> Iterator[_Databases]:
    dbs = _Databases(tmp_path_factory, migrated_sqlite_template, pg_databases)
    yield dbs
    dbs.close()


def load_cassette(case: Case) -> Any:
    from miqspec.connect.cassettes import Cassette
    from miqspec.spec.load import load_spec

    ignore = case.ignore_query_params
    if ignore is None:
        ignore = getattr(load_spec(str(case.spec_path)), "replay_ignore_query_params", ())
    return Cassette.load(cassette_dir(case.provider) / case.cassette, ignore_query_params=ignore)


def replay_refresh(run: Replayed, cassette: Any) -> Any:
    """One refresh of ``run`` through a new ReplayAdapter over ``cassette``."""
    from miqspec.connect.cassettes import ReplayAdapter
    from miqspec.pipeline import refresh_provider

    adapter = ReplayAdapter(cassette)
    result = refresh_provider(run.engine, run.name, run.keyring, adapter=adapter)
    run.results.append(result)
    run.unused.append(adapter.unused())
    return result


def replay(
    case: Case,
    backend: str,
    passes: int,
    dbs: _Databases,
    pg_skip_reason: str | None,
    tables: Sequence[str] = (),
) -> Replayed:
    """A fresh database (at the head revision) with ``case`` added and refreshed ``passes``
    times by replay."""
    from miqspec.spec.load import load_spec
    from miqspec.store.credentials import KeyRing
    from miqspec.store.database import open_database, upgrade
    from miqspec.store.providers import ProviderStore

    cassette_dir(case.provider)
    skip_draft(case.spec_path)
    engine = open_database(dbs.url(backend, pg_skip_reason))
    dbs.engines.append(engine)
    upgrade(engine)
    keyring = KeyRing.load(dbs.tmp.mktemp("keys") / "v2_key")
    spec = load_spec(str(case.spec_path))
    ems_id = ProviderStore(engine).add(spec, case.name, case.args(), keyring)
    if case.prepare:
        case.prepare(engine)
    run = Replayed(engine=engine, ems_id=ems_id, name=case.name, keyring=keyring)
    cassette = load_cassette(case)
    for _ in range(passes):
        replay_refresh(run, cassette)
        if tables:
            run.snapshots.append(snapshot(engine, tables))
    return run


class RunCache:
    """Module-scoped: one replayed database per backend, refreshed on demand.

    ``get(backend, n)`` returns the backend's database after exactly ``n`` refreshes: it
    refreshes once more when fewer were run, and starts a fresh database when more were (pytest
    runs all tests of one module-scoped parameter before the next, so this is rare).
    """

    def __init__(
        self, case: Case, dbs: _Databases, pg_skip_reason: str | None, tables: Sequence[str]
    ) -> None:
        self.case, self.dbs, self.pg_skip_reason, self.tables = case, dbs, pg_skip_reason, tables
        self.runs: dict[str, Replayed] = {}
        self._cassette: Any = None

    def get(self, backend: str, passes: int) -> Replayed:
        run = self.runs.get(backend)
        if run is not None and run.passes > passes:
            self.dbs.done(run)
            run = None
        if run is None:
            run = self.runs[backend] = replay(
                self.case, backend, 0, self.dbs, self.pg_skip_reason, self.tables
            )
        if self._cassette is None:
            self._cassette = load_cassette(self.case)
        while run.passes < passes:
            replay_refresh(run, self._cassette)
            if self.tables:
                run.snapshots.append(snapshot(run.engine, self.tables))
        return run


@pytest.fixture(scope="module")
def runs(
    request: pytest.FixtureRequest, acceptance_databases: _Databases, pg_skip_reason: str | None
) -> Iterator[RunCache]:
    """The replayed refreshes of the module's ``CASE``, checked over its ``TABLES``."""
    module = request.module
    cache = RunCache(module.CASE, acceptance_databases, pg_skip_reason, module.TABLES)
    yield cache
    for run in cache.runs.values():
        acceptance_databases.done(run)


@pytest.fixture(scope="module", params=RUN_PARAMS)
def run(request: pytest.FixtureRequest, runs: RunCache) -> Replayed:
    backend, passes = request.param
    return runs.get(backend, passes)
