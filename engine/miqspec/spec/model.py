"""The typed, frozen model of a valid spec: ``Spec`` and its parts, and the spec vocabulary.

Takes: nothing at import; its values are built by ``build.build_spec``.
Gives: the frozen dataclasses (``Spec``, ``Provider``, ``Region``, ``FormField``,
``CollectionMapping``, ``Source``, ``Attribute``; the connection, auth and calls are in
``model_calls``), ``attribute_expressions`` and
``source_expressions`` (every compiled expression of a rule or source), and the form and
provider-row vocabulary shared by checks, the builder and providers (``INPUT_COMPONENTS``,
``SECRET_COMPONENTS``, ``PROVIDER_ROW_FIELDS``, ``ENGINE_ROW_COLUMNS``, ``PROVIDER_FACTS``).
Raises ``MappingError`` from ``Provider.power_state`` when a ``match`` pattern runs out of time.
No I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from miqspec.errors import Location, MappingError
from miqspec.spec.catalogue import Catalogue
from miqspec.spec.events_model import CollectionTarget, EventsSpec
from miqspec.spec.expressions import Expression
from miqspec.spec.functions.args import FunctionError
from miqspec.spec.functions.patterns import Pattern
from miqspec.spec.metrics_model import MetricsSpec
from miqspec.spec.model_calls import Auth, Call, Connection
from miqspec.spec.templating import Template

SECRET_COMPONENTS = {"password-field"}
INPUT_COMPONENTS = {
    "select",
    "text-field",
    "password-field",
    "checkbox",
    "switch",
    "textarea",
    "hidden",
}
# ManageIQ ext_management_systems columns a create form may set; such top-level form fields
# are stored on the provider row (or in its options when the table lacks the column).
PROVIDER_ROW_FIELDS = frozenset(
    {
        "provider_region",
        "uid_ems",
        "subscription",
        "project",
        "realm",
        "api_version",
        "hostname",
        "port",
        "tenant_mapping_enabled",
        "keystone_v3_domain_id",
        "host_default_vnc_port_start",
        "host_default_vnc_port_end",
    }
)
# Provider-row columns the engine itself writes; never taken from a form.
ENGINE_ROW_COLUMNS = frozenset(
    {
        "id",
        "name",
        "type",
        "guid",
        "zone_id",
        "parent_ems_id",
        "enabled",
        "tenant_id",
        "provider_id",
        "capabilities",
        "options",
        "spec_name",
        "spec_path",
        "created_on",
        "updated_on",
        "last_refresh_date",
        "last_refresh_error",
        "last_refresh_success_date",
        "last_inventory_date",
        "last_metrics_error",
        "last_metrics_update_date",
        "last_metrics_success_date",
    }
)
# What ``$provider`` / template ``provider`` hold besides the top-level form values.
PROVIDER_FACTS = ("name", "id", "guid", "spec_name", "title", "vendor", "type")


@dataclass(frozen=True)
class Region:
    name: str
    hostname: str | None
    description: str | None
    attributes: Mapping[str, Any]


@dataclass(frozen=True)
class FormField:
    name: str
    component: str
    label: str
    required: bool
    secret: bool
    raw: Mapping[str, Any]
    column: bool = False  # stored on the provider row (``column: true`` or a known column)


@dataclass(frozen=True)
class Provider:
    name: str
    title: str
    manager_type: str
    vendor: str
    child_managers: tuple[str, ...]
    refresh_interval: int
    supports: tuple[str, ...]
    settings: Mapping[str, Any]
    power_map: Mapping[str, str]
    power_match: tuple[tuple[Pattern, str], ...]
    power_default: str
    class_namespace: str = ""  # ``provider.class_namespace``; empty: from ``name``

    @property
    def namespace(self) -> str:
        """The module ManageIQ's classes of this provider live in: ``class_namespace``, else
        ``ManageIQ::Providers::<name camelised>`` (``ManageIQ::Providers::AwesomeCloud``)."""
        if self.class_namespace:
            return self.class_namespace
        words = self.name.split("_")
        return "ManageIQ::Providers::" + "".join(w[:1].upper() + w[1:] for w in words)

    def power_state(self, raw: Any) -> str:
        """ManageIQ's ``calculate_power_state`` for this provider."""
        if raw is None:
            return self.power_default
        text = str(raw)
        if text in self.power_map:
            return self.power_map[text]
        try:
            for pattern, value in self.power_match:
                if pattern.search(text):
                    return value
        except FunctionError as exc:  # a pattern that ran out of time
            raise MappingError(f"provider.power_states.match: {exc}") from None
        return "never" if text == "never" else self.power_default


@dataclass(frozen=True)
class Attribute:
    """One attribute rule: how a mapping computes ``name`` for each record.

    ``switch``: ``expression`` is the switch, ``cases`` the expression per case (by the
    switch's value and its string form) and ``default_expression`` the fallback.
    ``ref_parts`` of a lazy: (manager_ref attribute or "" for a single ref, expression or a
    nested attribute rule, e.g. an inner lazy).
    """

    name: str
    kind: str  # const | expr | template | switch | lazy | lazy_many
    location: Location
    value: Any = None
    expression: Expression | None = None
    template: Template | None = None
    value_map: Mapping[Any, Any] | None = None
    match: tuple[tuple[Pattern, Any], ...] = ()
    default: Any = None
    has_default: bool = False
    lazy: str | None = None
    ref_parts: tuple[tuple[str, Expression | Attribute], ...] = ()
    key: str | None = None
    by: str | None = None
    cases: Mapping[Any, Expression] | None = None
    default_expression: Expression | None = None


@dataclass(frozen=True)
class Source:
    """One source of a collection: a call's records (``call``) or ``items`` computed once.

    ``each``: the nested levels (empty: the records themselves). ``attributes`` include the
    collection-level shared ones. ``secondary_refs``: computed secondary refs (name, expression
    over the built object's attributes). ``merge``: an object already built with the same
    manager_ref takes this source's non-null attributes (ManageIQ's ``find_or_build`` +
    ``assign_attributes``) instead of the first build winning. ``tags``: an expression giving
    the record's labels (an object of name: value, or a list of ``{name, value}``) that the
    provider tag mappings turn into tags (``collections.<c>.tags.from``).
    """

    call: str  # "" for an items source
    each: tuple[Expression, ...]
    where: Expression | None
    attributes: tuple[Attribute, ...]
    location: Location
    items: Expression | None = None
    secondary_refs: tuple[tuple[str, Expression], ...] = ()
    merge: bool = False
    tags: Expression | None = None


@dataclass(frozen=True)
class CollectionMapping:
    """A collection's mapping. ``sources`` are the sources that read a call; ``all_sources``
    are every source in spec order (with ``items`` sources), which is what the parser runs."""

    name: str
    complete: bool
    sources: tuple[Source, ...]
    all_sources: tuple[Source, ...] = ()

    @property
    def calls(self) -> tuple[str, ...]:
        """Every call this mapping reads: its sources' calls and ``$calls.<name>`` names."""
        names = [s.call for s in self.sources]
        for source in self.all_sources or self.sources:
            for expr in source_expressions(source):
                names.extend(n for n in expr.calls if n != "*")
        return tuple(dict.fromkeys(names))


def attribute_expressions(attr: Attribute) -> list[Expression]:
    """Every compiled expression of an attribute rule (nested ref parts included)."""
    found = [e for e in (attr.expression, attr.default_expression) if e is not None]
    found.extend((attr.cases or {}).values())
    for _, part in attr.ref_parts:
        found.extend(attribute_expressions(part) if isinstance(part, Attribute) else [part])
    return found


def source_expressions(source: Source) -> list[Expression]:
    """Every compiled expression of a source: items, each levels, where, attributes."""
    found = [e for e in (source.items, source.where, source.tags) if e is not None]
    found.extend(source.each)
    for attr in source.attributes:
        found.extend(attribute_expressions(attr))
    return found


@dataclass(frozen=True)
class Spec:
    path: str
    provider: Provider
    regions: tuple[Region, ...]
    form: tuple[FormField, ...]
    connection: Connection
    auth: Auth
    verify_call: str | None
    invalid_statuses: tuple[int, ...]
    calls: Mapping[str, Call]
    collections: Mapping[str, CollectionMapping]
    catalogue: Catalogue
    raw: Mapping[str, Any] = field(repr=False, default_factory=dict)
    replay_ignore_query_params: tuple[str, ...] = ()
    metrics: MetricsSpec | None = None  # the ``metrics`` section (metrics_model)
    events: EventsSpec | None = None  # the ``events`` section (events_model)
    targets: Mapping[str, CollectionTarget] = field(default_factory=dict)  # per collection
    # ``operations`` (collection -> name -> Operation) and ``provisioning`` (operations_model)
    operations: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    provisioning: Any = None

    @property
    def secret_fields(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.form if f.secret)

    def region(self, name: str | None) -> Region | None:
        return next((r for r in self.regions if r.name == name), None)
