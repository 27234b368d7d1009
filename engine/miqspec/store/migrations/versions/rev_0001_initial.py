"""Initial schema: core tables plus every table of the catalogue snapshot taken for 0001.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import yaml
from alembic import op
from sqlalchemy import MetaData

from miqspec.spec import parse_catalogue
from miqspec.store.migrations.snapshot_0001 import CATALOGUE_YAML
from miqspec.store.tables import build_metadata

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _metadata() -> MetaData:
    return build_metadata(parse_catalogue(yaml.safe_load(CATALOGUE_YAML)))


def upgrade() -> None:
    _metadata().create_all(op.get_bind())


def downgrade() -> None:
    _metadata().drop_all(op.get_bind())
