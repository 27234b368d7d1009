"""The semantic checks of a whole spec: the sections in the order they are checked.

Takes: a ``LoadedDocument`` and the inventory ``Catalogue``.
Gives: ``check_document``: every ``Finding`` at once, sorted by position: schema errors,
variant errors (auth kinds, paginators, attribute forms), JMESPath and Jinja2 syntax errors
with a caret, unknown collections, attributes, lazy references and keys, unknown or cyclic
calls, template variables that do not exist where used, form fields used but not declared
(and declared but unused), region attributes no region defines, patterns that do not
compile. Raises nothing; no I/O.

The order matters where one section declares what later ones read: ``functions`` gives the
registry every expression compiles against, ``form`` the field names templates may read,
``auth`` the variables login steps extract; unused form fields are known only at the end.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from miqspec.errors import Finding, SpecError
from miqspec.spec import schema as schema_mod
from miqspec.spec.catalogue import Catalogue
from miqspec.spec.checks.auth import check_auth, check_connection
from miqspec.spec.checks.calls import check_calls
from miqspec.spec.checks.events import check_events
from miqspec.spec.checks.findings import Findings
from miqspec.spec.checks.form import check_form, check_form_usage
from miqspec.spec.checks.functions import check_functions
from miqspec.spec.checks.mappings import check_collections
from miqspec.spec.checks.merging import check_merging
from miqspec.spec.checks.metrics import check_metrics
from miqspec.spec.checks.models import check_models
from miqspec.spec.checks.names import Names
from miqspec.spec.checks.operations import check_operations
from miqspec.spec.checks.routes import check_routes
from miqspec.spec.checks.texts import TextChecker
from miqspec.spec.document import LoadedDocument
from miqspec.spec.functions.patterns import pattern_problem


def check_document(doc: LoadedDocument, catalogue: Catalogue) -> list[Finding]:
    """All findings for ``doc``, sorted by position."""
    findings = Findings(doc)
    data = doc.data
    if not isinstance(data, dict):
        findings.add(
            (), "a spec must be a mapping at the top level, got " + schema_mod.type_name(data)
        )
        return findings.items
    findings.extend(schema_mod.validate_document(doc))
    names = Names()
    text = TextChecker(findings, data, names, check_functions(data, findings))
    check_form(data, findings, names)
    check_auth(data, findings, text, names)
    check_connection(data, findings, text)
    check_calls(data, findings, text)
    # sources, each levels, shared attributes, secondary refs, attribute forms, lazies
    extended = _with_models(catalogue, _models(data))
    check_collections(data, findings, text, extended)
    check_merging(data, findings, text, extended)
    check_routes(data, findings, text, extended)
    check_metrics(data, findings, text, extended)
    check_events(data, findings, text, extended)
    check_operations(data, findings, text, extended)
    check_models(data, findings, catalogue)
    check_form_usage(data, findings, names)
    _check_power_patterns(data, findings)
    return findings.sorted()


def _check_power_patterns(data: Mapping[str, Any], findings: Findings) -> None:
    """``provider.power_states.match`` patterns compile (the schema checks their shape)."""
    provider = data.get("provider")
    states = provider.get("power_states") if isinstance(provider, dict) else None
    rules = states.get("match") if isinstance(states, dict) else None
    for i, rule in enumerate(rules if isinstance(rules, list) else []):
        pattern = rule.get("regex") if isinstance(rule, dict) else None
        problem = pattern_problem(pattern) if isinstance(pattern, str) else None
        if problem:
            findings.add(("provider", "power_states", "match", i, "regex"), problem)


def _with_models(catalogue: Catalogue, models: Mapping[str, Any]) -> Catalogue:
    """``catalogue`` with the models it can take; one with a value no collection can have
    (``kind: tree``) is left out: the schema check reports it at its location."""
    good = {}
    for name, raw in models.items():
        try:
            catalogue.with_models({name: raw})
        except SpecError:
            continue
        good[name] = raw
    return catalogue.with_models(good)


def _models(data: Mapping[str, Any]) -> Mapping[str, Any]:
    """The spec's own ``models``; the schema check reports bad ones, malformed ones are left
    out."""
    models = data.get("models")
    if not isinstance(models, dict):
        return {}
    return {
        name: raw
        for name, raw in models.items()
        if isinstance(name, str) and schema_mod.is_well_formed(raw, ("model",))
    }
