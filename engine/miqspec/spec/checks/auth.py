"""Semantic checks of the ``auth`` and ``connection`` sections, and of a call's own ``auth``.

Takes: the spec's data, the ``Findings`` sink, the ``TextChecker`` and the ``Names`` to fill in.
Gives: ``check_auth``: the variables login steps extract (into ``Names.login``) and findings
for unknown auth types (and the keys of a known one, against its schema), login ``extract``
expressions, templates of login steps and auth keys; ``check_call_auth``: a call's own
``auth`` (a kind that does not log in, its params, no login steps); ``check_connection``:
service ``base_url`` and ``verify_ssl`` templates, a missing ``connection`` and an empty
``services``; ``check_service``: unknown services (also used by ``calls``).
Raises nothing; no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from miqspec.spec import schema as schema_mod
from miqspec.spec.checks.findings import Findings
from miqspec.spec.checks.names import Names
from miqspec.spec.checks.texts import TextChecker
from miqspec.spec.document import Path
from miqspec.spec.model import LOGIN_KINDS

# Keys of a login step and of ``auth`` that are not templates.
_PLAIN_STEP_KEYS = ("name", "service", "method")
_PLAIN_AUTH_KEYS = ("type", "login", "relogin_on", "client_auth", "in")


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def services(data: Mapping[str, Any]) -> dict[str, Any]:
    """The ``connection.services`` mapping (empty when missing or malformed)."""
    conn = data.get("connection")
    found = conn.get("services") if isinstance(conn, dict) else None
    return found if isinstance(found, dict) else {}


def check_service(data: Mapping[str, Any], findings: Findings, path: Path, name: Any) -> None:
    """A ``service:`` must name one of ``connection.services`` (when any are declared)."""
    known = services(data)
    if isinstance(name, str) and known and name not in known:
        findings.add(
            path,
            f"unknown service '{name}'; known: "
            + ", ".join(known)
            + schema_mod.suggest(name, known),
        )


def check_auth(
    data: Mapping[str, Any], findings: Findings, text: TextChecker, names: Names
) -> None:
    auth = data.get("auth")
    if not isinstance(auth, dict):
        return
    kinds = schema_mod.variants("auth")
    kind = auth.get("type")
    if not isinstance(kind, str) or kind not in kinds:
        findings.add(
            ("auth", "type"),
            f"unknown auth type '{kind}'; expected one of: "
            + ", ".join(sorted(kinds))
            + schema_mod.suggest(str(kind), kinds),
        )
    else:  # an unknown kind still has its templates checked (and its form fields used)
        findings.extend(
            schema_mod.validate_definitions(
                findings.doc, auth, ("auth_common", f"auth_{kind}"), ("auth",)
            )
        )
    roots = text.base_roots() | {"login"}
    for i, step in enumerate(_list(auth.get("login"))):
        if isinstance(step, dict):
            _check_login_step(data, findings, text, ("auth", "login", i), step, roots)
            if isinstance(step.get("extract"), dict):
                names.login.update(step["extract"])
    for k, v in auth.items():
        if k not in _PLAIN_AUTH_KEYS:
            text.templates_in(("auth", k), v, roots)


def _check_login_step(
    data: Mapping[str, Any],
    findings: Findings,
    text: TextChecker,
    path: Path,
    step: Mapping[str, Any],
    roots: set[str],
) -> None:
    """One login step: its ``extract`` expressions, templates and service."""
    for k, v in step.items():
        if k == "extract" and isinstance(v, dict):
            for var, e in v.items():
                if isinstance(e, dict) and "body" in e:
                    text.expression((*path, "extract", var, "body"), e["body"], set())
        elif k not in _PLAIN_STEP_KEYS:
            text.templates_in((*path, k), v, roots)
    check_service(data, findings, (*path, "service"), step.get("service"))


def check_call_auth(findings: Findings, name: str, auth: Any) -> None:
    """A call's own ``auth``: a known kind that does not log in, its params (against the kind's
    schema), and no ``login`` steps or ``relogin_on``. Its templates are checked with the
    call's other templates."""
    if not isinstance(auth, dict):
        return  # a wrong type is reported by the schema
    path = ("calls", name, "auth")
    kinds = sorted(k for k in schema_mod.variants("auth") if k not in LOGIN_KINDS)
    kind = auth.get("type")
    if isinstance(kind, str) and kind in LOGIN_KINDS:
        findings.add(
            (*path, "type"),
            f"auth type '{kind}' logs in and only the spec's auth logs in; a call's auth is "
            "one of: " + ", ".join(kinds),
        )
    elif not isinstance(kind, str) or kind not in kinds:
        findings.add(
            (*path, "type"),
            f"unknown auth type '{kind}'; expected one of: "
            + ", ".join(kinds)
            + schema_mod.suggest(str(kind), kinds),
        )
    else:
        findings.extend(
            schema_mod.validate_definitions(
                findings.doc, auth, ("auth_common", f"auth_{kind}"), path
            )
        )
    for key in ("login", "relogin_on"):
        if key in auth:
            findings.add(
                (*path, key),
                f"a call's auth cannot have '{key}': only the spec's auth logs in",
                key=True,
            )


def check_connection(data: Mapping[str, Any], findings: Findings, text: TextChecker) -> None:
    roots = text.base_roots() | {"login"}
    for name, svc in services(data).items():
        if isinstance(svc, dict):
            text.template(("connection", "services", name, "base_url"), svc.get("base_url"), roots)
    conn = data.get("connection")
    if "connection" not in data:
        findings.add(("connection",), "missing required key 'connection'")
    elif isinstance(conn, dict) and conn.get("services") == {}:
        findings.add(("connection", "services"), "declare at least one service (a base_url)")
    if isinstance(conn, dict) and isinstance(conn.get("verify_ssl"), str):
        text.template(("connection", "verify_ssl"), conn["verify_ssl"], roots)
