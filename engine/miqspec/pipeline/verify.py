"""Verify: does the spec's verify call succeed with these credentials?

Takes: a spec and arguments (class level) or a stored provider (instance level). Gives:
``VerifyResult`` (valid, ManageIQ's auth status Valid/Invalid/Unreachable/Error/Incomplete,
details, exit code); ``verify_provider`` records the status on the provider row. Raises:
``MiqspecError`` for a provider or database it cannot read; a failed verify is a result, not an
exception. Does network I/O (and database I/O at instance level).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from miqspec.collect import collect
from miqspec.errors import (
    CredentialsError,
    MiqspecError,
    UnreachableError,
)
from miqspec.pipeline.session import dig, make_session
from miqspec.spec import Spec
from miqspec.store import (
    Engine,
    KeyRing,
    ProviderStore,
    spec_for,
)


@dataclass
class VerifyResult:
    valid: bool
    status: str  # Valid | Invalid | Unreachable | Error | Incomplete
    details: str
    exit_code: int = 0


def verify(
    spec: Spec,
    args: Mapping[str, Any],
    adapter: Any = None,
    provider: Mapping[str, Any] | None = None,
) -> VerifyResult:
    """Class-level and instance-level verify share this: run the spec's verify call.

    ``provider`` is the ems row at instance level (None at class level: ``$provider.name`` and
    ``guid`` are null). Calls that embed into the verify call are not run.
    """
    if not spec.verify_call:
        return VerifyResult(False, "Incomplete", "the spec declares no verify call", 11)
    session = make_session(spec, args, adapter, provider)
    try:
        result = collect(session, [spec.verify_call], embed=False)
        res = result.calls[spec.verify_call]
        return VerifyResult(True, "Valid", f"{spec.verify_call}: {len(res.records)} record(s)")
    except CredentialsError as exc:
        return VerifyResult(False, "Invalid", str(exc), exc.exit_code)
    except UnreachableError as exc:
        return VerifyResult(False, "Unreachable", str(exc), exc.exit_code)
    except MiqspecError as exc:
        return VerifyResult(False, "Error", str(exc), exc.exit_code)
    finally:
        session.close()


def verify_provider(
    engine: Engine, name: str, keyring: KeyRing, adapter: Any = None
) -> VerifyResult:
    store = ProviderStore(engine)
    ems = store.row(name)
    spec = spec_for(ems)
    args = store.args(ems, keyring)
    missing = [f.name for f in spec.form if f.secret and f.required and not dig(args, f.name)]
    result = (
        VerifyResult(False, "Incomplete", "missing " + ", ".join(missing), 3)
        if missing
        else verify(spec, args, adapter, provider=ems)
    )
    store.record_auth_status(ems["id"], result.status, result.details)
    return result
