"""Metrics: ``metrics`` (realtime, 20-second samples) and ``metric_rollups`` (hourly, daily).

ManageIQ's names and columns (``timestamp``, ``capture_interval``, ``capture_interval_name``,
``resource_type``, ``resource_id``, the four counters a cloud provider fills, the derived
columns and ``parent_*_id``; rollups add ``min_max`` and ``intervals_in_rollup``). One row
per resource and time: ``metrics`` is unique on (resource_type, resource_id, timestamp),
``metric_rollups`` also on capture_interval_name, so a capture repeated over the same window
writes nothing twice. On PostgreSQL ``metrics`` is partitioned by range of ``timestamp``
(one partition per hour, created as captures need them, ``metrics_pYYYYMMDDHH``), so the
retention purge drops partitions; on SQLite it is a plain table indexed on ``timestamp``.
The tables' shape is frozen here; ``miqspec.metrics.tables`` describes the same columns.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

COUNTERS = (
    "cpu_usage_rate_average",
    "cpu_usagemhz_rate_average",
    "mem_usage_absolute_average",
    "disk_usage_rate_average",
    "net_usage_rate_average",
)
DERIVED = (
    "derived_vm_numvcpus",
    "derived_cpu_available",
    "derived_memory_available",
    "derived_memory_used",
)
PARENTS = ("parent_host_id", "parent_ems_cluster_id", "parent_storage_id", "parent_ems_id")


def _columns(postgres: bool) -> list[sa.Column[Any]]:
    return [
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("timestamp", sa.DateTime(), nullable=False, primary_key=postgres),
        sa.Column("capture_interval", sa.Integer()),
        sa.Column("capture_interval_name", sa.String(255)),
        sa.Column("resource_type", sa.String(255), nullable=False),
        sa.Column("resource_id", sa.BigInteger(), nullable=False),
        sa.Column("resource_name", sa.String(255)),
        *(sa.Column(name, sa.Float()) for name in (*COUNTERS, *DERIVED)),
        *(sa.Column(name, sa.BigInteger()) for name in PARENTS),
        sa.Column("tag_names", sa.Text()),
        sa.Column("assoc_ids", sa.Text()),
        sa.Column("created_on", sa.DateTime()),
    ]


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    options: dict[str, Any] = {"postgresql_partition_by": "RANGE (timestamp)"} if postgres else {}
    op.create_table(
        "metrics",
        *_columns(postgres),
        sa.UniqueConstraint(
            "resource_type", "resource_id", "timestamp", name="uq_metrics_resource_timestamp"
        ),
        **options,
    )
    if not postgres:  # PostgreSQL's purge drops partitions instead
        op.create_index("ix_metrics_timestamp", "metrics", ["timestamp"])
    op.create_table(
        "metric_rollups",
        *_columns(False),
        sa.Column("time_profile_id", sa.BigInteger()),
        sa.Column("min_max", sa.Text()),
        sa.Column("intervals_in_rollup", sa.Integer()),
        sa.UniqueConstraint(
            "resource_type",
            "resource_id",
            "capture_interval_name",
            "timestamp",
            name="uq_metric_rollups_resource_interval_timestamp",
        ),
    )
    op.create_index("ix_metric_rollups_timestamp", "metric_rollups", ["timestamp"])


def downgrade() -> None:
    op.drop_table("metric_rollups")
    op.drop_table("metrics")  # on PostgreSQL its partitions go with it
