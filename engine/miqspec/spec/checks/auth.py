"""Semantic checks of the ``auth`` and ``connection`` sections, for ``checks``.

Takes: the ``Checker`` of ``checks`` (its document, data, findings and helpers).
Gives: the variables login steps extract (into ``Checker.login_vars``); findings for unknown
auth types (and the keys of a known one, against its schema), login ``extract`` expressions,
templates of login steps and auth keys, a call's own ``auth`` (a kind that does not log in,
its params, no login steps), unknown services, service ``base_url`` and ``verify_ssl``
templates, a missing ``connection`` and an empty ``services``.
Raises nothing; no I/O.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from miqspec.spec import schema as schema_mod
from miqspec.spec.model import LOGIN_KINDS

if TYPE_CHECKING:
    from miqspec.spec.checks.checker import Checker


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def check_auth(ck: Checker) -> None:
    auth = ck.data.get("auth")
    if auth is None:
        return
    if not isinstance(auth, dict):
        return
    kinds = schema_mod.variants("auth")
    kind = auth.get("type")
    if not isinstance(kind, str) or kind not in kinds:
        ck.add(
            ("auth", "type"),
            f"unknown auth type '{kind}'; expected one of: "
            + ", ".join(sorted(kinds))
            + schema_mod.suggest(str(kind), kinds),
        )
    else:  # an unknown kind still has its templates checked (and its form fields used)
        ck.findings.extend(
            schema_mod.validate_definitions(
                ck.doc, auth, ("auth_common", f"auth_{kind}"), ("auth",)
            )
        )
    roots = ck.base_roots()
    for i, step in enumerate(_list(auth.get("login"))):
        if not isinstance(step, dict):
            continue
        for k, v in step.items():
            if k == "extract" and isinstance(v, dict):
                for var, e in v.items():
                    if isinstance(e, dict) and "body" in e:
                        ck.expression(
                            ("auth", "login", i, "extract", var, "body"), e["body"], set()
                        )
            elif k not in ("name", "service", "method"):
                ck.templates_in(("auth", "login", i, k), v, roots | {"login"})
        if isinstance(step.get("extract"), dict):
            ck.login_vars.update(step["extract"])
        svc = step.get("service")
        ck._check_service(("auth", "login", i, "service"), svc)
    for k, v in auth.items():
        if k not in ("type", "login", "relogin_on", "client_auth", "in"):
            ck.templates_in(("auth", k), v, roots | {"login"})


def check_call_auth(ck: Checker, name: str, auth: Any) -> None:
    """A call's own ``auth``: a known kind that does not log in, its params (against the kind's
    schema), and no ``login`` steps or ``relogin_on``. Its templates are checked with the
    call's other templates."""
    if not isinstance(auth, dict):
        return  # a wrong type is reported by the schema
    path = ("calls", name, "auth")
    kinds = sorted(k for k in schema_mod.variants("auth") if k not in LOGIN_KINDS)
    kind = auth.get("type")
    if kind in LOGIN_KINDS:
        ck.add(
            (*path, "type"),
            f"auth type '{kind}' logs in and only the spec's auth logs in; a call's auth is "
            "one of: " + ", ".join(kinds),
        )
    elif not isinstance(kind, str) or kind not in kinds:
        ck.add(
            (*path, "type"),
            f"unknown auth type '{kind}'; expected one of: "
            + ", ".join(kinds)
            + schema_mod.suggest(str(kind), kinds),
        )
    else:
        ck.findings.extend(
            schema_mod.validate_definitions(ck.doc, auth, ("auth_common", f"auth_{kind}"), path)
        )
    for key in ("login", "relogin_on"):
        if key in auth:
            ck.add(
                (*path, key),
                f"a call's auth cannot have '{key}': only the spec's auth logs in",
                key=True,
            )


def check_connection(ck: Checker) -> None:
    roots = ck.base_roots() | {"login"}
    for name, svc in ck._services().items():
        if isinstance(svc, dict):
            ck.template(("connection", "services", name, "base_url"), svc.get("base_url"), roots)
    conn = ck.data.get("connection")
    if "connection" not in ck.data:
        ck.add(("connection",), "missing required key 'connection'")
    elif isinstance(conn, dict) and conn.get("services") == {}:
        ck.add(("connection", "services"), "declare at least one service (a base_url)")
    if isinstance(conn, dict) and isinstance(conn.get("verify_ssl"), str):
        ck.template(("connection", "verify_ssl"), conn["verify_ssl"], roots)
