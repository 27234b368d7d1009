"""miqspec: ManageIQ-style providers as one YAML spec, interpreted by a generic engine.

The public Python API (``miqspec.api``, described in docs/python-api.md) is importable from here:
``import miqspec; spec = miqspec.load_spec("awesome_cloud")``. Its names are loaded on first
use, so ``import miqspec.errors`` (or ``miqspec.version``) stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .version import __version__

if TYPE_CHECKING:
    from .api import (
        DEMO_NAME,
        MANAGER_TYPES,
        CaptureResult,
        CredentialsError,
        Database,
        DatabaseError,
        Finding,
        InventoryRows,
        MetricsSeries,
        MiqspecError,
        NotFoundError,
        Progress,
        ProviderInfo,
        RefreshBusyError,
        RefreshResult,
        Spec,
        SpecError,
        TestResult,
        TryResult,
        UnreachableError,
        UsageError,
        VerifyResult,
        add_provider,
        capture_metrics,
        check_form_fields,
        delete_provider,
        demo_database_url,
        edit_provider,
        expectations_for,
        inventory_counts,
        json_schema,
        list_providers,
        load_expectations,
        load_spec,
        metrics_report,
        metrics_retention,
        metrics_series,
        nest_form,
        new_spec,
        open_database,
        params_for_create,
        parse_duration,
        provider_info,
        provider_names,
        provider_spec,
        read_inventory,
        read_secret,
        refresh,
        rotate_keys,
        run_demo,
        run_simulator,
        run_worker,
        shipped_specs,
        spec_path,
        test_spec,
        try_call,
        unlock_provider,
        validate_spec,
        verify,
        verify_provider,
    )

__all__ = [
    "DEMO_NAME",
    "MANAGER_TYPES",
    "CaptureResult",
    "CredentialsError",
    "Database",
    "DatabaseError",
    "Finding",
    "InventoryRows",
    "MetricsSeries",
    "MiqspecError",
    "NotFoundError",
    "Progress",
    "ProviderInfo",
    "RefreshBusyError",
    "RefreshResult",
    "Spec",
    "SpecError",
    "TestResult",
    "TryResult",
    "UnreachableError",
    "UsageError",
    "VerifyResult",
    "__version__",
    "add_provider",
    "capture_metrics",
    "check_form_fields",
    "delete_provider",
    "demo_database_url",
    "edit_provider",
    "expectations_for",
    "inventory_counts",
    "json_schema",
    "list_providers",
    "load_expectations",
    "load_spec",
    "metrics_report",
    "metrics_retention",
    "metrics_series",
    "nest_form",
    "new_spec",
    "open_database",
    "params_for_create",
    "parse_duration",
    "provider_info",
    "provider_names",
    "provider_spec",
    "read_inventory",
    "read_secret",
    "refresh",
    "rotate_keys",
    "run_demo",
    "run_simulator",
    "run_worker",
    "shipped_specs",
    "spec_path",
    "test_spec",
    "try_call",
    "unlock_provider",
    "validate_spec",
    "verify",
    "verify_provider",
]


def __getattr__(name: str) -> Any:
    """A public API name, imported from ``miqspec.api`` when first asked for."""
    if name in __all__:
        value = getattr(importlib.import_module("miqspec.api"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
