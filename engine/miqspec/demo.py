"""``miqspec demo``: simulator + Awesome Cloud provider + refresh, end to end.

Takes: a database engine and key ring, the simulator's sizes and a progress callback.
Gives: the ``RefreshResult`` of refreshing provider ``DEMO_NAME`` (replaced when it exists)
from a bundled simulator that runs for the length of the call; ``demo_database_url``, the
demo's own SQLite file (``$MIQSPEC_HOME/demo.db``), so that the demo's provider, whose
simulator is gone when the demo ends, never lands in the user's database.
Raises ``MiqspecError`` subclasses. Starts a local HTTP server, writes the database.
"""

from __future__ import annotations

from typing import Any

from miqspec.collect import Progress
from miqspec.pipeline import RefreshResult, refresh_provider
from miqspec.resources import shipped_spec
from miqspec.simulator import Simulator
from miqspec.spec import load_spec
from miqspec.store import Engine, KeyRing, ProviderStore, miqspec_home

DEMO_NAME = "Awesome Cloud demo"
DEMO_FILE = "demo.db"


def demo_database_url() -> str:
    """``sqlite:///<miqspec home>/demo.db``: where ``miqspec demo`` keeps its inventory unless
    told otherwise (never ``MIQSPEC_DATABASE_URL``)."""
    return f"sqlite:///{miqspec_home() / DEMO_FILE}"


def run_demo(
    engine: Engine,
    keyring: KeyRing,
    *,
    instances: int = 200,
    flavors: int = 8,
    images: int = 20,
    progress: Progress | None = None,
) -> RefreshResult:
    """Start the simulator, (re)add provider ``DEMO_NAME`` for it and refresh it once."""
    spec = load_spec(str(shipped_spec("awesome_cloud")))
    store = ProviderStore(engine)
    with Simulator(instances=instances, flavors=flavors, images=images) as sim:
        if DEMO_NAME in store.names():
            store.delete(DEMO_NAME)
        args: dict[str, Any] = {
            "provider_region": spec.regions[0].name,
            "endpoints": {"default": {"url": sim.url}},
            "authentications": {
                "default": {"userid": sim.options.access_key, "password": sim.options.secret_key}
            },
        }
        store.add(spec, DEMO_NAME, args, keyring)
        return refresh_provider(engine, DEMO_NAME, keyring, progress=progress)
