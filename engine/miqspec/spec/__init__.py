"""The spec language: load a YAML spec with positions, check it, build the typed model.

Offers: ``load_spec`` (a checked, typed ``Spec``; raises ``SpecError``), ``check_file`` (all
findings), the model (``Spec``, ``Call``, ``Auth``, ...), compiled expressions and templates,
the inventory catalogue (``load_catalogue``, ``Catalogue``), the create form
(``params_for_create``), ``new_spec`` (a starting spec) and ``json_schema`` (for editors).
Imports only ``errors``, ``resources`` and ``cache``; no network, no database.
"""

from .build_mappings import case_key
from .catalogue import (
    COLUMN_TYPES,
    MANAGER_KINDS,
    OWNER_KINDS,
    Catalogue,
    CollectionDef,
    ReferenceDef,
    catalogue_path,
    load_catalogue,
)
from .expressions import Expression, compile_expression
from .forms import params_for_create
from .functions.data import find_by_indexes
from .load import check_file, load_spec
from .model import (
    ENGINE_ROW_COLUMNS,
    INPUT_COMPONENTS,
    Attribute,
    Auth,
    Body,
    Call,
    CollectionMapping,
    Paginate,
    Retry,
    Source,
    Spec,
    source_expressions,
)
from .scaffold import MANAGER_TYPES, new_spec
from .schema import schema_path
from .schema_json import json_schema
from .templating import Template, compile_template, render_value, template_references

__all__ = [
    "COLUMN_TYPES",
    "ENGINE_ROW_COLUMNS",
    "INPUT_COMPONENTS",
    "MANAGER_KINDS",
    "MANAGER_TYPES",
    "OWNER_KINDS",
    "Attribute",
    "Auth",
    "Body",
    "Call",
    "Catalogue",
    "CollectionDef",
    "CollectionMapping",
    "Expression",
    "Paginate",
    "ReferenceDef",
    "Retry",
    "Source",
    "Spec",
    "Template",
    "case_key",
    "catalogue_path",
    "check_file",
    "compile_expression",
    "compile_template",
    "find_by_indexes",
    "json_schema",
    "load_catalogue",
    "load_spec",
    "new_spec",
    "params_for_create",
    "render_value",
    "schema_path",
    "source_expressions",
    "template_references",
]
