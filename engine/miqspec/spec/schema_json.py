"""JSON Schema (draft 2020-12) generated from the cerberus spec schema, for editors.

Takes: ``schemas/spec-schema.yaml`` and the inventory catalogue (``schemas/inventory.yaml``).
Gives: a JSON-serialisable dict; auth kinds, paginators and attribute value forms become
``oneOf``/``if``-``then`` branches; collection names and each catalogue collection's attribute
names are enums (an editor flags ``flavours`` or an unknown attribute), except that a spec
declaring its own ``models`` may name collections beyond the catalogue. Raises nothing. No I/O
beyond reading the schema data and the catalogue.
"""

from __future__ import annotations

from typing import Any

from miqspec.spec.catalogue import load_catalogue
from miqspec.spec.schema import schema_data, variants

_TYPES = {
    "string": "string",
    "integer": "integer",
    "number": "number",
    "boolean": "boolean",
    "dict": "object",
    "list": "array",
    "float": "number",
}


def _rule(rule: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    kind = rule.get("type")
    if kind:
        kinds = kind if isinstance(kind, list) else [kind]
        types = [_TYPES[k] for k in kinds]
        if rule.get("nullable"):
            types.append("null")
        out["type"] = types[0] if len(types) == 1 else types
    if "allowed" in rule:
        out["enum"] = list(rule["allowed"])
    if "regex" in rule:
        out["pattern"] = rule["regex"]
    if "min" in rule:
        out["minimum"] = rule["min"]
    if "max" in rule:
        out["maximum"] = rule["max"]
    if "minlength" in rule:
        out["minItems"] = rule["minlength"]
    if "maxlength" in rule and kind == "dict":
        out["maxProperties"] = rule["maxlength"]
    meta = rule.get("meta") or {}
    if meta.get("description"):
        out["description"] = meta["description"]
    sub = rule.get("schema")
    if sub is not None:
        target = _ref(sub) if isinstance(sub, str) else None
        if kind == "list":
            out["items"] = target or _rule(sub)
        else:
            out.update(target or _object(sub))
    if "valuesrules" in rule:
        out["additionalProperties"] = _rule(rule["valuesrules"])
    if "keysrules" in rule and "regex" in rule["keysrules"]:
        out["propertyNames"] = {"pattern": rule["keysrules"]["regex"]}
    return out


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/$defs/{name}"}


def _object(fields: dict[str, Any], *, closed: bool = True) -> dict[str, Any]:
    props = {k: _rule(v or {}) for k, v in fields.items()}
    required = [k for k, v in fields.items() if (v or {}).get("required")]
    out: dict[str, Any] = {"type": "object", "properties": props}
    if required:
        out["required"] = required
    if closed:
        out["additionalProperties"] = False
    return out


def _variant_union(prefix: str) -> dict[str, Any]:
    common = schema_data()["definitions"].get(f"{prefix}_common", {})
    branches = []
    for kind, fields in sorted(variants(prefix).items()):
        merged = {**common, **fields}
        body = _object(merged)
        body["properties"]["type"] = {"const": kind}
        branches.append(body)
    return {"oneOf": branches}


def json_schema() -> dict[str, Any]:
    data = schema_data()
    defs = {
        name: _object(body or {})
        for name, body in data["definitions"].items()
        if not name.startswith(("auth_", "paginate_", "attribute_"))
    }
    attribute_forms = [
        _object(body or {})
        for name, body in data["definitions"].items()
        if name.startswith("attribute_")
    ]  # one per form, chosen by its key
    constants = {"type": ["string", "number", "boolean", "null", "array"]}
    defs["attribute"] = {"anyOf": [constants, *attribute_forms]}
    defs["auth"] = _variant_union("auth")
    defs["paginate"] = _variant_union("paginate")
    for src in ("source", "collection"):
        defs[src]["properties"]["attributes"] = {
            "type": "object",
            "additionalProperties": _ref("attribute"),
        }
    defs["call"]["properties"]["paginate"] = _ref("paginate")
    defs["call"]["properties"]["auth"] = _ref("auth")  # a call's own auth: the same kinds
    root = _object(data["spec"])
    root["properties"]["auth"] = _ref("auth")
    root["properties"].pop("$schema", None)
    root["properties"]["collections"] = _catalogue_collections(defs)
    # a spec's own models extend the catalogue: its collection names are not known here
    root["if"] = {"not": {"required": ["models"]}}
    root["then"] = {"properties": {"collections": {"propertyNames": _ref("collection_name")}}}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://miqspec.dev/schemas/spec.schema.json",
        "title": "miqspec provider spec, version 1",
        **root,
        "$defs": defs,
    }


def _catalogue_collections(defs: dict[str, Any]) -> dict[str, Any]:
    """``collections``: each catalogue collection's mapping with its attribute names as an
    enum (in ``defs``: ``collection_name`` and ``attributes_<name>``); other names (models a
    spec declares) take the plain collection rules."""
    catalogue = load_catalogue().collections
    defs["collection_name"] = {
        "enum": sorted(catalogue),
        "description": "A collection of schemas/inventory.yaml (a spec's models add more).",
    }
    props: dict[str, Any] = {}
    for name, coll in sorted(catalogue.items()):
        attrs = {"propertyNames": {"enum": sorted(coll.attribute_names())}}
        defs[f"attributes_{name}"] = attrs
        own = _ref(f"attributes_{name}")
        narrowed = {
            "properties": {
                "attributes": own,
                "sources": {"items": {"properties": {"attributes": own}}},
            }
        }
        entry: dict[str, Any] = {"allOf": [_ref("collection"), narrowed]}
        if coll.description:
            entry["description"] = coll.description
        props[name] = entry
    return {
        "type": "object",
        "description": "Collection name -> its mapping. Names and attribute names come from "
        "schemas/inventory.yaml; a spec's own models extend them.",
        "properties": props,
        "additionalProperties": _ref("collection"),
    }
