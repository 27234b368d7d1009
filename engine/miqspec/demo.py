"""``miqspec demo``: simulator + Awesome Cloud provider + refresh, end to end.

Takes: a database engine and key ring. Gives: the ``RefreshResult`` and where the data went.
Raises ``MiqspecError`` subclasses. Starts a local HTTP server, writes the database.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from miqspec.collect import Progress
from miqspec.pipeline import RefreshResult, refresh_provider
from miqspec.resources import shipped_spec
from miqspec.simulator import Simulator
from miqspec.spec import load_spec
from miqspec.store import KeyRing, ProviderStore

DEMO_NAME = "Awesome Cloud demo"


def run_demo(
    engine: sa.Engine,
    keyring: KeyRing,
    *,
    instances: int = 200,
    flavors: int = 8,
    images: int = 20,
    progress: Progress | None = None,
) -> tuple[RefreshResult, str]:
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
        result = refresh_provider(engine, DEMO_NAME, keyring, progress=progress)
    return result, engine.url.render_as_string(hide_password=True)
