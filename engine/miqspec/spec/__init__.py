"""The spec language: load a YAML spec with positions, check it, build the typed model.

Offers, by what other stages use them for:

- loading and checking (api, store, demo): ``load_spec`` (a checked, typed ``Spec``; raises
  ``SpecError`` with every finding), ``check_file`` (every finding; never raises for bad
  input), ``new_spec`` and ``MANAGER_TYPES`` (a starting spec), ``json_schema`` (for editors),
  ``params_for_create`` (the create form as ManageIQ's UI expects it);
- the model (collect, connect, parse, store): ``Spec``, ``Call``, ``Auth``, ``Body``,
  ``Paginate``, ``Retry``, ``CollectionMapping``, ``Source``, ``Attribute``,
  ``source_expressions``, ``ENGINE_ROW_COLUMNS``, ``INPUT_COMPONENTS``, ``LAZY_ALIASES``
  and ``lazy_target`` (``vms_and_templates``: a lazy to vms or miq_templates); the metrics
  section (metrics): ``MetricsSpec``, ``COUNTERS``, ``REALTIME_INTERVAL``;
  the operations and provisioning sections (operations): ``Operation``, ``OpRequest``,
  ``Wait``, ``UnsupportedRule``, ``Provisioning``, ``NAME_FIELD``, ``COUNT_FIELD``;
  the events section and targeted refresh (events, pipeline): ``EventsSpec``,
  ``EventTargetRule``, ``CollectionTarget``;
- compiled expressions and templates (collect, connect, parse): ``Expression``,
  ``compile_expression``, ``find_by_indexes``, ``Template``, ``compile_template``,
  ``render_value``, ``template_references``, ``case_key``;
- the inventory catalogue (parse, persist, store): ``load_catalogue``, ``parse_catalogue``
  (migration 0001's frozen copy), ``Catalogue``,
  ``CollectionDef``, ``ReferenceDef``, ``COLUMN_TYPES``, ``MANAGER_KINDS``, ``OWNER_KINDS``;
- bounded YAML (connect's cassettes): ``load_bounded`` and ``YamlLimitError`` (alias bombs and
  recursive aliases refused, as in specs and ``yaml_parse``).

Inside, modules run one way: ``load`` -> ``checks`` (the section checks) and ``build``
(-> ``build_mappings`` -> ``routes``) -> ``model`` -> ``catalogue``, ``templating``,
``expressions``;
``spec_functions`` (a spec's own functions) -> ``expressions`` -> ``expression_syntax`` ->
``functions`` (the registry); ``schema`` -> ``document``; ``document`` and ``functions`` ->
``yaml_limits``. Imports only ``errors``,
``resources`` and ``cache``; no network, no database (``load_spec`` and ``check_file`` read
the spec file and the shipped schemas).
"""

from .build_mappings import case_key
from .catalogue import (
    COLUMN_TYPES,
    MANAGER_KINDS,
    OWNER_KINDS,
    Catalogue,
    CollectionDef,
    ReferenceDef,
    load_catalogue,
    parse_catalogue,
)
from .events_model import CollectionTarget, EventsSpec, EventTargetRule
from .expressions import Expression, compile_expression
from .forms import params_for_create
from .functions.data import find_by_indexes
from .load import check_file, load_spec
from .metrics_model import COUNTERS, REALTIME_INTERVAL, MetricsSpec
from .model import (
    ENGINE_ROW_COLUMNS,
    INPUT_COMPONENTS,
    Attribute,
    CollectionMapping,
    Source,
    Spec,
    source_expressions,
)
from .model_calls import Auth, Body, Call, LoginStep, Paginate, Poll, Retry
from .operations_model import (
    COUNT_FIELD,
    NAME_FIELD,
    Operation,
    OpRequest,
    Provisioning,
    UnsupportedRule,
    Wait,
)
from .routes import LAZY_ALIASES, lazy_target
from .scaffold import MANAGER_TYPES, new_spec
from .schema_json import json_schema
from .templating import Template, compile_template, render_value, template_references
from .yaml_limits import YamlLimitError, load_bounded

__all__ = [
    "COLUMN_TYPES",
    "COUNTERS",
    "COUNT_FIELD",
    "ENGINE_ROW_COLUMNS",
    "INPUT_COMPONENTS",
    "LAZY_ALIASES",
    "MANAGER_KINDS",
    "MANAGER_TYPES",
    "NAME_FIELD",
    "OWNER_KINDS",
    "REALTIME_INTERVAL",
    "Attribute",
    "Auth",
    "Body",
    "Call",
    "Catalogue",
    "CollectionDef",
    "CollectionMapping",
    "CollectionTarget",
    "EventTargetRule",
    "EventsSpec",
    "Expression",
    "LoginStep",
    "MetricsSpec",
    "OpRequest",
    "Operation",
    "Paginate",
    "Poll",
    "Provisioning",
    "ReferenceDef",
    "Retry",
    "Source",
    "Spec",
    "Template",
    "UnsupportedRule",
    "Wait",
    "YamlLimitError",
    "case_key",
    "check_file",
    "compile_expression",
    "compile_template",
    "find_by_indexes",
    "json_schema",
    "lazy_target",
    "load_bounded",
    "load_catalogue",
    "load_spec",
    "new_spec",
    "params_for_create",
    "parse_catalogue",
    "render_value",
    "source_expressions",
    "template_references",
]
