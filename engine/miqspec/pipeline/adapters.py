"""Recorded traffic: where a provider's requests go instead of the network.

Takes: a spec, a cassette path, the provider's arguments (their secrets become placeholders).
Gives: ``secret_placeholders``, ``replay_adapter`` (served from a cassette),
``recording_adapter`` (recorded to one) and ``provider_adapter`` (either, for a stored
provider, or None for the network). Raises: ``ReplayError`` for a cassette it cannot read,
``MiqspecError`` for a provider it cannot load. Reads the cassette file and the database.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from miqspec.connect import (
    Cassette,
    RecordingAdapter,
    ReplayAdapter,
    secret_values,
)
from miqspec.pipeline.session import dig
from miqspec.spec import Spec
from miqspec.store import (
    Engine,
    KeyRing,
    ProviderStore,
    spec_for,
)


def secret_placeholders(spec: Spec, args: Mapping[str, Any]) -> dict[str, str]:
    """Each secret form value in ``args`` -> the placeholder a cassette holds instead of it
    (``authentications.default.password`` -> ``AUTHENTICATIONS_DEFAULT_PASSWORD``)."""
    secrets = secret_values(spec, args)
    out = {}
    for name in spec.secret_fields:
        value = dig(args, name)
        if isinstance(value, str) and value in secrets:
            out[value] = name.upper().replace(".", "_")
    return out


def replay_adapter(
    spec: Spec, path: str, ignore: tuple[str, ...] = (), args: Mapping[str, Any] | None = None
) -> ReplayAdapter:
    """Requests served from the cassette at ``path``, matched ignoring the query parameters
    ``ignore`` and the spec's ``replay.ignore_query_params``; with ``args`` (the provider's
    decrypted arguments) its placeholders stand for their secrets. Raises ``ReplayError`` for a
    cassette it cannot read; reads the file."""
    params = tuple(dict.fromkeys((*ignore, *spec.replay_ignore_query_params)))
    placeholders = secret_placeholders(spec, args) if args is not None else None
    return ReplayAdapter(Cassette.load(path, ignore_query_params=params, placeholders=placeholders))


def recording_adapter(spec: Spec, path: str, args: Mapping[str, Any]) -> RecordingAdapter:
    """Requests sent to the network and recorded for ``path`` (written by its ``save``), each
    secret of ``args`` replaced by its placeholder."""
    return RecordingAdapter(path, secrets=secret_placeholders(spec, args))


def provider_adapter(
    engine: Engine,
    name: str,
    keyring: KeyRing,
    replay: str | os.PathLike[str] | None = None,
    replay_ignore: tuple[str, ...] = (),
    record: str | os.PathLike[str] | None = None,
) -> ReplayAdapter | RecordingAdapter | None:
    """What a refresh of provider ``name`` sends its requests through: the cassette ``replay``
    (its placeholders standing for the provider's secrets), a recorder for ``record``, or
    None (the network)."""
    if not (replay or record):
        return None
    store = ProviderStore(engine)
    ems = store.row(name)
    spec = spec_for(ems)
    args = store.args(ems, keyring)
    if replay:
        return replay_adapter(spec, os.fspath(replay), replay_ignore, args)
    return recording_adapter(spec, os.fspath(record or ""), args)
