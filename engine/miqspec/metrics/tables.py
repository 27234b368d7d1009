"""The metrics tables as SQLAlchemy Core sees them (migration 0005 creates them).

Takes: nothing. Gives: ``METADATA`` with ``METRICS`` (realtime rows) and ``ROLLUPS``
(``metric_rollups``: hourly and daily), the column groups (``COUNTERS``: the four counters
captured, ``DERIVED``, ``ROW_COLUMNS``: what a realtime row holds, in insert order), the
unique keys the upserts name (``METRICS_KEY``, ``ROLLUPS_KEY``) and ``CAPTURE_INTERVALS``
(``realtime`` 20 s, ``hourly`` 3600 s, ``daily`` 86400 s). Raises nothing; no I/O.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from miqspec.spec import COUNTERS as SPEC_COUNTERS

COUNTERS: tuple[str, ...] = tuple(SPEC_COUNTERS)
DERIVED = (
    "derived_vm_numvcpus",
    "derived_cpu_available",
    "derived_memory_available",
    "derived_memory_used",
)
PARENTS = ("parent_host_id", "parent_ems_cluster_id", "parent_storage_id", "parent_ems_id")
CAPTURE_INTERVALS = {"realtime": 20, "hourly": 3600, "daily": 86400}
METRICS_KEY = ("resource_type", "resource_id", "timestamp")
ROLLUPS_KEY = ("resource_type", "resource_id", "capture_interval_name", "timestamp")
ROW_COLUMNS = (
    "timestamp",
    "capture_interval",
    "capture_interval_name",
    "resource_type",
    "resource_id",
    "resource_name",
    *COUNTERS,
    "derived_vm_numvcpus",
    "derived_memory_available",
    "derived_memory_used",
    "parent_ems_id",
    "created_on",
)

METADATA = sa.MetaData()


def _columns() -> list[sa.Column[Any]]:
    return [
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
        sa.Column("timestamp", sa.DateTime(), nullable=False),
        sa.Column("capture_interval", sa.Integer()),
        sa.Column("capture_interval_name", sa.String(255)),
        sa.Column("resource_type", sa.String(255), nullable=False),
        sa.Column("resource_id", sa.BigInteger(), nullable=False),
        sa.Column("resource_name", sa.String(255)),
        sa.Column("cpu_usagemhz_rate_average", sa.Float()),
        *(sa.Column(name, sa.Float()) for name in (*COUNTERS, *DERIVED)),
        *(sa.Column(name, sa.BigInteger()) for name in PARENTS),
        sa.Column("tag_names", sa.Text()),
        sa.Column("assoc_ids", sa.Text()),
        sa.Column("created_on", sa.DateTime()),
    ]


METRICS = sa.Table("metrics", METADATA, *_columns())
ROLLUPS = sa.Table(
    "metric_rollups",
    METADATA,
    *_columns(),
    sa.Column("time_profile_id", sa.BigInteger()),
    sa.Column("min_max", sa.Text()),
    sa.Column("intervals_in_rollup", sa.Integer()),
)
