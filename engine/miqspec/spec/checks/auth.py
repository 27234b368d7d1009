"""Semantic checks of the ``auth`` and ``connection`` sections, and of a call's own ``auth``.

Takes: the spec's data, the ``Findings`` sink, the ``TextChecker`` and the ``Names`` to fill in.
Gives: ``check_auth``: the variables login steps extract (into ``Names.login``) and findings
for unknown auth types (and the keys of a known one, against its schema), login ``extract``
expressions, templates of login and logout steps and auth keys, a login step reading a login
variable that only it or a later step extracts (also through its service's base URL),
``xml:`` without ``format: xml``, logout steps without login steps; ``check_call_auth``: a
call's own ``auth`` (a kind that does not log in, its params, no login steps);
``check_connection``: service ``base_url`` and ``verify_ssl`` templates, a missing
``connection`` and an empty ``services``; ``check_service``: unknown services (also used by
``calls``).
Raises nothing; no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from miqspec.spec import schema as schema_mod
from miqspec.spec.checks.findings import Findings
from miqspec.spec.checks.names import Names
from miqspec.spec.checks.texts import TextChecker
from miqspec.spec.document import Path
from miqspec.spec.model_calls import LOGIN_KINDS
from miqspec.spec.templating import TemplateSyntaxError, template_references

# Keys of a login step and of ``auth`` that are not templates.
_PLAIN_STEP_KEYS = ("name", "service", "method")
_PLAIN_AUTH_KEYS = ("type", "login", "logout", "relogin_on", "client_auth", "in")
_PLAIN_STEP_KEYS_ALL = (*_PLAIN_STEP_KEYS, "format", "xml")


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
    steps = [s if isinstance(s, dict) else {} for s in _list(auth.get("login"))]
    for step in steps:
        if isinstance(step.get("extract"), dict):
            names.login.update(step["extract"])
    for i, step in enumerate(steps):
        if step:
            _check_login_step(data, findings, text, ("auth", "login", i), step, roots)
            _check_login_order(data, findings, ("auth", "login", i), step, steps[i:])
    for i, step in enumerate(_list(auth.get("logout"))):
        if isinstance(step, dict):
            _check_login_step(data, findings, text, ("auth", "logout", i), step, roots)
    if auth.get("logout") and not auth.get("login"):
        findings.add(
            ("auth", "logout"),
            "logout steps need login steps: they close the session a login opened",
            key=True,
        )
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
        elif k not in _PLAIN_STEP_KEYS_ALL:
            text.templates_in((*path, k), v, roots)
    check_service(data, findings, (*path, "service"), step.get("service"))
    if "xml" in step and step.get("format") != "xml":
        shown = step.get("format", "json")
        findings.add((*path, "xml"), f"xml: needs format: xml (this step's format is {shown})")


def _check_login_order(
    data: Mapping[str, Any],
    findings: Findings,
    path: Path,
    step: Mapping[str, Any],
    rest: Sequence[Mapping[str, Any]],
) -> None:
    """A login step (``rest[0]``) may read only what earlier steps extract: not its own
    variables, nor a later step's, in its templates or its service's base URL."""
    later: dict[str, str] = {}
    for other in rest:
        for var in _dict(other.get("extract")):
            later.setdefault(var, str(other.get("name", "?")))
    if not later:
        return
    svc = step.get("service") or next(iter(services(data)), None)
    base = _dict(services(data).get(svc)).get("base_url") if isinstance(svc, str) else None
    texts: list[tuple[Path, str, str]] = [
        (p, t, "") for p, t in _strings(step, path) if p[len(path)] not in _PLAIN_STEP_KEYS_ALL
    ]
    if isinstance(base, str):
        texts.append(((*path, "service") if "service" in step else path, base, svc or ""))
    for where, text, service in texts:
        if "extract" in where:
            continue
        try:
            refs = template_references(text)
        except TemplateSyntaxError:
            continue  # reported by the template check
        for ref in sorted(refs):
            head, _, var = ref.partition(".")
            var = var.split(".")[0]
            if head != "login" or var not in later:
                continue
            via = f"the base URL of service '{service}' reads" if service else "reads"
            findings.add(
                where,
                f"{via} 'login.{var}', which login step '{later[var]}' extracts: a login step "
                "can read only what earlier steps extract",
                key="service" in where[-1:],
            )


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _strings(value: Any, path: Path) -> list[tuple[Path, str]]:
    if isinstance(value, str):
        return [(path, value)]
    if isinstance(value, dict):
        return [x for k, v in value.items() for x in _strings(v, (*path, k))]
    if isinstance(value, list):
        return [x for i, v in enumerate(value) for x in _strings(v, (*path, i))]
    return []


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
