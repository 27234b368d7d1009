"""The spec schema: cerberus validation of a loaded spec against ``schemas/spec-schema.yaml``.

Takes: a ``LoadedDocument`` (data plus positions) and the schema data in
``schemas/spec-schema.yaml`` (the one source of the spec language's shape).
Gives: ``validate_document`` (``Finding``s sorted by position for wrong types, unknown keys
with "did you mean", missing keys, disallowed values), ``validate_definitions`` (one value
against named definitions: auth kinds, paginators, attribute value forms), ``variants`` (the
kinds of a variant family), ``is_well_formed``, ``suggest``, ``type_name``, ``schema_data``
and ``schema_path`` (the JSON Schema form is ``schema_json``'s).
Raises nothing for a bad spec (it gives findings). Reads the schema file once; no other I/O.
"""

from __future__ import annotations

import copy
import difflib
import functools
import threading
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path as FsPath
from typing import Any

import cerberus
import yaml
from cerberus.schema import DefinitionSchema, UnvalidatedSchema

from miqspec.errors import Finding
from miqspec.resources import schema_file
from miqspec.spec.document import LoadedDocument, Path, format_path


def schema_path() -> FsPath:
    """Where the shipped spec schema lives (the package resource ``miqspec.schemas``)."""
    return schema_file("spec-schema.yaml")


@functools.cache
def schema_data() -> dict[str, Any]:
    with open(schema_path(), encoding="utf-8") as fh:
        data: dict[str, Any] = yaml.load(fh, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    return data


def variants(prefix: str) -> dict[str, dict[str, Any]]:
    """Definitions named ``<prefix>_<kind>`` (auth kinds, paginators), by kind."""
    defs = schema_data()["definitions"]
    return {
        name[len(prefix) + 1 :]: body or {}
        for name, body in defs.items()
        if name.startswith(prefix + "_") and name != f"{prefix}_common"
    }


def _strip_meta(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _strip_meta(v) for k, v in node.items() if k != "meta"}
    if isinstance(node, list):
        return [_strip_meta(v) for v in node]
    return node


@functools.cache
def _registry() -> cerberus.schema.SchemaRegistry:
    defs = _strip_meta(schema_data()["definitions"])
    registry = cerberus.schema.SchemaRegistry()
    for name, body in defs.items():
        registry.add(name, body or {})
    return registry


def _validator(schema: Mapping[str, Any]) -> cerberus.Validator:
    """A validator of the shipped schema ``schema``. Cerberus would first check that the schema
    is a valid cerberus schema (35 ms for the root, in every process); the shipped one is
    static and that check is a test (``test_schema``), so only cerberus's expansion of rule
    shorthands is done here."""
    rules = DefinitionSchema.expand(_strip_meta(dict(schema)))
    return cerberus.Validator(UnvalidatedSchema(rules), schema_registry=_registry())


@functools.cache
def _root_validator() -> cerberus.Validator:
    return _validator(schema_data()["spec"])


@functools.cache
def _named_validator(names: tuple[str, ...]) -> cerberus.Validator:
    return _validator(merged_definitions(names))


def merged_definitions(names: tuple[str, ...]) -> dict[str, Any]:
    """The fields of the definitions ``names`` merged in order (later ones win)."""
    merged: dict[str, Any] = {}
    for name in names:
        merged.update(definition(name))
    return merged


def type_name(value: Any) -> str:
    """The spec language's name for the type of ``value`` (mapping, list, string, ...)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "mapping"
    return type(value).__name__


def _scalar(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return "null" if value is None else str(value).lower()
    return str(value)


def _keys_of(schema: Any) -> list[str]:
    if isinstance(schema, str):
        schema = schema_data()["definitions"].get(schema, {})
    return list(schema.keys()) if isinstance(schema, dict) else []


def _flatten(errors: Any) -> Iterator[Any]:
    for err in errors:
        if err.is_group_error:
            yield from _flatten(err.child_errors)
        else:
            yield err


def suggest(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``choices`` to ``word``, or ``""``."""
    hint = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{hint[0]}'?)" if hint else ""


def _short(value: Any) -> str:
    """``value`` as text for a message: long values cut (a 4,000-digit number is one line)."""
    text = str(value)
    return text if len(text) <= 60 else f"{text[:40]}... ({len(text)} characters)"


def _message(err: Any, key_choices: list[str]) -> str:
    rule, constraint, value = err.rule, err.constraint, err.value
    field = err.document_path[-1] if err.document_path else ""
    if err.code == cerberus.errors.UNKNOWN_FIELD.code:
        return f"unknown key '{field}'{suggest(str(field), key_choices)}"
    if rule == "required":
        return f"missing required key '{field}'"
    if rule == "type":
        want = " or ".join(constraint) if isinstance(constraint, list) else constraint
        want = want.replace("dict", "mapping")
        article = "an" if want[:1] in "aeiou" else "a"
        return f"must be {article} {want}, got {type_name(value)}"
    if rule == "allowed":
        allowed = ", ".join(str(c) for c in constraint)
        shown = f"'{_short(value)}'" if isinstance(value, str) else _short(_scalar(value))
        return f"{shown} is not allowed; expected one of: {allowed}"
    if rule == "regex":
        return f"'{_short(value)}' does not match the pattern {constraint}"
    if rule in ("min", "max"):
        word = "at least" if rule == "min" else "at most"
        return f"must be {word} {constraint}, got {_short(value)}"
    if rule in ("minlength", "maxlength"):
        word = "at least" if rule == "minlength" else "at most"
        return f"must have {word} {constraint} item(s)"
    if rule == "nullable":
        return "must not be null"
    if rule == "excludes":
        other = ", ".join(constraint) if isinstance(constraint, list) else constraint
        return f"'{field}' cannot be used together with '{other}'"
    if rule == "dependencies":
        other = ", ".join(constraint) if isinstance(constraint, list) else constraint
        return f"'{field}' needs '{other}'"
    if rule == "empty":
        return "must not be empty"
    return f"invalid value ({rule})"


def _schema_at(root: Mapping[str, Any], doc_path: tuple[Any, ...]) -> Any:
    """The schema mapping whose keys are allowed at ``doc_path`` (a mapping node)."""
    node: Any = {"schema": dict(root)}
    for part in doc_path:
        sub = node.get("schema") if isinstance(node, dict) else None
        if isinstance(sub, str):
            sub = schema_data()["definitions"].get(sub, {})
        if isinstance(part, int):
            node = sub if isinstance(sub, dict) and "type" in sub else node
            continue
        if isinstance(sub, dict) and part in sub:
            node = sub[part]
        elif isinstance(node, dict) and "valuesrules" in node:
            node = node["valuesrules"]
        else:
            return {}
    sub = node.get("schema") if isinstance(node, dict) else None
    if isinstance(sub, str):
        return schema_data()["definitions"].get(sub, {})
    return sub or {}


def validate_with(
    doc: LoadedDocument, data: Any, schema: Mapping[str, Any], base: Path
) -> list[Finding]:
    """Validate ``data`` (found at ``base`` in ``doc``) against a cerberus schema mapping."""
    validator = (
        _root_validator()
        if base == () and schema is schema_data()["spec"]
        else (_validator(schema))
    )
    return _findings(doc, data, validator, schema, base)


def validate_definitions(
    doc: LoadedDocument, data: Any, names: tuple[str, ...], base: Path
) -> list[Finding]:
    """Validate ``data`` against the merged definitions ``names`` (validator built once)."""
    return _findings(doc, data, _named_validator(names), merged_definitions(names), base)


def _get(data: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data


_VALIDATING = threading.Lock()  # validators are cached and shared; one validation at a time


def _errors(validator: cerberus.Validator, data: Any) -> list[Any]:
    """The leaf errors of validating ``data`` (no normalization: the schema has no defaults)."""
    with _VALIDATING:
        validator.validate(copy.copy(data), normalize=False)
        return list(_flatten(validator._errors))


def is_well_formed(data: Any, names: tuple[str, ...]) -> bool:
    """True when ``data`` has the shape of the definitions ``names``: a mapping whose required
    keys are present with the right types (disallowed values and unknown keys are tolerated)."""
    if not isinstance(data, dict):
        return False
    validator = _named_validator(names)
    return not any(
        err.rule in ("type", "required", "nullable", "minlength", "empty")
        for err in _errors(validator, data)
    )


def _findings(
    doc: LoadedDocument,
    data: Any,
    validator: cerberus.Validator,
    schema: Mapping[str, Any],
    base: Path,
) -> list[Finding]:
    if not isinstance(data, dict):
        return [
            Finding(
                doc.location(base), format_path(base), f"must be a mapping, got {type_name(data)}"
            )
        ]
    errors = _errors(validator, data)
    findings: list[Finding] = []
    exclusive: set[tuple[Path, frozenset[Any]]] = set()
    for err in errors:
        path: Path = (*base, *err.document_path)
        if err.rule == "excludes":  # name the keys present; report each clash once
            parent = _get(data, err.document_path[:-1])
            others = err.constraint if isinstance(err.constraint, list) else [err.constraint]
            others = [o for o in others if isinstance(parent, dict) and o in parent] or others
            pair = (path[:-1], frozenset([path[-1], *others]))
            if pair in exclusive:
                continue
            exclusive.add(pair)
            findings.append(
                Finding(
                    doc.location(path, key=True),
                    format_path(path),
                    f"'{path[-1]}' cannot be used together with "
                    + " or ".join(f"'{o}'" for o in others),
                )
            )
            continue
        unknown = err.code == cerberus.errors.UNKNOWN_FIELD.code
        missing = err.rule == "required"
        on_key = "keysrules" in err.schema_path
        loc_path = path[:-1] if missing else path
        choices = _keys_of(_schema_at(schema, tuple(err.document_path[:-1]))) if unknown else []
        message = _message(err, choices)
        if on_key and err.rule == "regex":
            message = f"name '{err.document_path[-1]}' does not match the pattern {err.constraint}"
        findings.append(
            Finding(
                doc.location(
                    loc_path, key=unknown or on_key or err.rule in ("excludes", "dependencies")
                ),
                format_path(path),
                message,
            )
        )
    return findings


def validate_document(doc: LoadedDocument) -> list[Finding]:
    """Check the whole spec against the root schema."""
    return validate_with(doc, doc.data, schema_data()["spec"], ())


def definition(name: str) -> dict[str, Any]:
    return dict(schema_data()["definitions"].get(name) or {})
