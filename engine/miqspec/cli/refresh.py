"""``refresh``, ``inventory``, ``demo``, ``worker`` and ``simulate`` commands.

Registered on the ``miqspec`` group by ``cli``. Progress goes to stderr (a tqdm bar per call on
a terminal, plain lines otherwise); results to stdout. Terminal I/O only.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
import time
from typing import Any

import click

from miqspec.cli.app import main, reports_errors
from miqspec.cli.commands import _engine, _keyring, database_option
from miqspec.errors import MiqspecError, UsageError


class ProgressView:
    """Per call: pages and records; a tqdm bar on a terminal, plain lines otherwise."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self.tty = sys.stderr.isatty()
        self.bars: dict[str, Any] = {}
        self.last: dict[str, tuple[int, int]] = {}
        self.lock = threading.Lock()

    def __call__(self, call: str, pages: int, records: int) -> None:
        if not self.enabled:
            return
        with self.lock:
            if self.tty:
                from tqdm import tqdm

                bar = self.bars.get(call)
                if bar is None:
                    bar = self.bars[call] = tqdm(
                        desc=call, unit=" records", file=sys.stderr, leave=True, dynamic_ncols=True
                    )
                bar.update(records - bar.n)
                bar.set_postfix(pages=pages, refresh=False)
            self.last[call] = (pages, records)

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()
        if self.enabled and not self.tty:
            for call, (pages, records) in self.last.items():
                click.echo(f"{call}: {pages} page(s), {records} record(s)", err=True)
        self.bars.clear()
        self.last.clear()


def _secrets_map(spec: Any, args: Any) -> dict[str, str]:
    from miqspec.connect import secret_values

    out = {}
    for name in spec.secret_fields:
        node = args
        for part in name.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, str) and node in secret_values(spec, args):
            out[node] = name.upper().replace(".", "_")
    return out


@main.command()
@click.argument("names", nargs=-1)
@click.option("--all", "all_", is_flag=True, help="Refresh every provider.")
@click.option("--dry-run", is_flag=True, help="Compute and show changes; write nothing.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@click.option(
    "--replay",
    type=click.Path(exists=True, dir_okay=False),
    help="Serve every request from this VCR cassette.",
)
@click.option(
    "--replay-ignore-param",
    multiple=True,
    metavar="NAME",
    help="Query parameter to ignore when matching (e.g. api-version), besides the "
    "spec's replay.ignore_query_params.",
)
@click.option(
    "--record",
    type=click.Path(dir_okay=False),
    help="Record the traffic to this cassette (secrets replaced by placeholders).",
)
@click.option("--quiet", is_flag=True, help="No progress output.")
@click.option(
    "--full-compare",
    is_flag=True,
    help="Parse every record and compare every stored row, not only what changed at the "
    "API (repairs rows edited outside miqspec).",
)
@database_option
@reports_errors
def refresh(
    names: tuple[str, ...],
    all_: bool,
    dry_run: bool,
    fmt: str,
    replay: str | None,
    replay_ignore_param: tuple[str, ...],
    record: str | None,
    quiet: bool,
    full_compare: bool,
    database: str | None,
) -> None:
    """Refresh the inventory of providers NAMES (or --all).

    \b
    Exit codes: 0 ok; 3 invalid credentials; 4 unreachable; 5 API error; 6 mapping error;
    7 database error; 8 another refresh holds the provider; 9 replay mismatch.
    Examples:
      miqspec refresh aws1
      miqspec refresh --all --format json
      miqspec refresh aws1 --dry-run
    """
    from miqspec.cli.report import refresh_json, refresh_text
    from miqspec.connect import Cassette, RecordingAdapter, ReplayAdapter
    from miqspec.pipeline import refresh_provider, spec_for
    from miqspec.store import ProviderStore

    if replay and record:
        raise UsageError("--replay and --record cannot be used together")
    engine = _engine(database)
    store = ProviderStore(engine)
    targets = store.names() if all_ else list(names)
    if not targets:
        raise UsageError("name a provider or use --all")
    ring = _keyring()
    results = []
    exit_code = 0
    for name in targets:
        adapter: Any = None
        ems = store.row(name)
        if replay:
            spec = spec_for(ems)
            placeholders = _secrets_map(spec, store.args(ems, ring))
            ignore = tuple(dict.fromkeys((*replay_ignore_param, *spec.replay_ignore_query_params)))
            adapter = ReplayAdapter(
                Cassette.load(replay, ignore_query_params=ignore, placeholders=placeholders)
            )
        elif record:
            spec = spec_for(ems)
            adapter = RecordingAdapter(record, secrets=_secrets_map(spec, store.args(ems, ring)))
        view = ProgressView(enabled=not quiet and fmt == "text")
        try:
            result = refresh_provider(
                engine,
                name,
                ring,
                dry_run=dry_run,
                progress=view,
                adapter=adapter,
                sample_changes=10 if dry_run else 0,
                full_compare=full_compare,
            )
        finally:
            view.close()
        if record and isinstance(adapter, RecordingAdapter):
            adapter.save()
            click.echo(f"recorded {record}", err=True)
        if replay and isinstance(adapter, ReplayAdapter):
            unused = adapter.unused()
            if unused and fmt == "text":
                click.echo(f"{len(unused)} recorded interaction(s) were not used", err=True)
        results.append(result)
        if not result.ok:
            exit_code = exit_code or result.exit_code
    if fmt == "json":
        click.echo(json.dumps([refresh_json(r) for r in results], indent=2))
    else:
        click.echo("\n\n".join(refresh_text(r) for r in results))
    sys.exit(exit_code)


@main.command()
@click.argument("name")
@click.argument("collection", required=False)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@click.option(
    "--limit", type=int, default=50, show_default=True, help="Rows per collection (0: all)."
)
@database_option
@reports_errors
def inventory(
    name: str, collection: str | None, fmt: str, limit: int, database: str | None
) -> None:
    """Show what was persisted for provider NAME (one COLLECTION, or counts of all)."""
    from miqspec.cli.report import rows_text, table
    from miqspec.pipeline import owners_for, spec_for
    from miqspec.store import ProviderStore, collection_rows, display_columns

    engine = _engine(database)
    store = ProviderStore(engine)
    ems = store.row(name)
    spec = spec_for(ems)
    owners = owners_for(spec, ems["id"], store.children(ems["id"]))
    if collection is None:
        counts = {
            c: len(collection_rows(engine, store.md, spec, c, owners)) for c in spec.collections
        }
        if fmt == "json":
            click.echo(json.dumps(counts, indent=2))
        else:
            click.echo(table(("collection", "rows"), sorted(counts.items())))
        return
    rows = collection_rows(engine, store.md, spec, collection, owners, limit or None)
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2, default=str))
    else:
        coll = spec.catalogue.collections[collection]
        click.echo(rows_text(rows, display_columns(rows, coll)) if rows else "no rows")


@main.command()
@click.option("--instances", default=200, show_default=True)
@click.option("--flavors", default=8, show_default=True)
@click.option("--images", default=20, show_default=True)
@database_option
@reports_errors
def demo(instances: int, flavors: int, images: int, database: str | None) -> None:
    """Start the Awesome Cloud simulator, add the provider, refresh it, print the summary."""
    from miqspec.cli.report import refresh_text
    from miqspec.demo import run_demo

    view = ProgressView()
    try:
        result, where = run_demo(
            _engine(database),
            _keyring(),
            instances=instances,
            flavors=flavors,
            images=images,
            progress=view,
        )
    finally:
        view.close()
    click.echo(refresh_text(result))
    click.echo(
        f"\ninventory saved in {where}; look at it with:\n"
        f"  miqspec inventory 'Awesome Cloud demo' vms"
    )
    sys.exit(result.exit_code)


@main.command()
@click.option("--once", is_flag=True, help="Refresh what is due once, then exit.")
@click.option("--poll", default=5.0, show_default=True, help="Seconds between schedule checks.")
@database_option
@reports_errors
def worker(once: bool, poll: float, database: str | None) -> None:
    """Refresh every provider at its spec's refresh interval until stopped (Ctrl+C)."""
    from miqspec.workers import run_worker

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    run_worker(
        _engine(database),
        _keyring(),
        stop=stop,
        once=once,
        poll=poll,
        log=lambda line: click.echo(f"{time.strftime('%H:%M:%S')} {line}"),
    )


@main.command()
@click.argument("provider_name", type=click.Choice(["awesome_cloud"]))
@click.option("--instances", type=int)
@click.option("--flavors", type=int)
@click.option("--images", type=int)
@click.option("--page-size", type=int)
@click.option("--seed", type=int)
@click.option("--port", type=int, help="Default: any free port.")
@click.option("--access-key")
@click.option(
    "--secret-key-env",
    metavar="ENVVAR",
    help="Environment variable holding the secret key (default: sim-secret).",
)
@click.option("--token-ttl", type=float)
@click.option("--latency-ms", type=int)
@click.option("--http-429", type=int, help="Answer the first N requests with 429.")
@click.option("--retry-after", type=float)
@click.option("--http-5xx", type=int, help="Answer the first N requests with 503.")
@click.option("--truncated-json", type=int)
@click.option("--malformed-json", type=int)
@click.option("--drop-connection", type=int)
@click.option("--endless-pages", is_flag=True, default=None)
@click.option("--fail-always-status", type=int)
@click.option("--fault-path", help="Apply faults only to paths containing this.")
@reports_errors
def simulate(provider_name: str, secret_key_env: str | None, **options: Any) -> None:
    """Run the bundled simulator of PROVIDER_NAME on 127.0.0.1 until Ctrl+C.

    \b
    Example: miqspec simulate awesome_cloud --instances 100000 --flavors 1000 --images 10000
    """
    import os

    from miqspec.simulator import SimulatorOptions, run_forever

    if secret_key_env:
        options["secret_key"] = os.environ.get(secret_key_env)
        if not options["secret_key"]:
            raise UsageError(f"environment variable {secret_key_env} is not set")
    try:
        run_forever(SimulatorOptions.from_kwargs(**options))
    except MiqspecError:
        raise
