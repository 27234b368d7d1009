"""A provider session from a spec and its arguments, shared by verify, the adapters and refresh.

Takes: a spec, the provider's (decrypted) arguments, an HTTP adapter (recorded traffic) and the
ems row. Gives: ``make_session`` (a ``ProviderSession`` whose client verifies TLS as the form
and the spec say) and ``dig`` (a dotted form name read out of the arguments). Raises nothing of
its own. No I/O until the session is used.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from miqspec.connect import (
    HttpClient,
    ProviderSession,
)
from miqspec.spec import Spec


def make_session(
    spec: Spec,
    args: Mapping[str, Any],
    adapter: Any = None,
    provider: Mapping[str, Any] | None = None,
) -> ProviderSession:
    """A session for ``args``; ``provider`` (the ems row, if any) becomes ``$provider``."""
    client = HttpClient(
        pool_size=max(4, spec.connection.concurrency * 2),
        adapter=adapter,
        verify=_verify_setting(spec, args),
    )
    return ProviderSession(spec, args, client, provider=provider)


def _verify_setting(spec: Spec, args: Mapping[str, Any]) -> bool | str:
    ep = (args.get("endpoints") or {}).get("default") or {}
    if ep.get("verify_ssl") in (0, False, "0", "false"):
        return False
    if spec.connection.ca_file:
        return spec.connection.ca_file
    v = spec.connection.verify_ssl
    return v if isinstance(v, bool) else True


def dig(args: Mapping[str, Any], dotted: str) -> Any:
    node: Any = args
    for part in dotted.split("."):
        node = node.get(part) if isinstance(node, Mapping) else None
    return node
