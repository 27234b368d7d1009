"""A metrics capture's outcome on the provider row (ManageIQ's ``last_metrics_*`` columns).

Takes: the database engine, the provider's id and an error (None: success). Gives:
``record_metrics_status``: ``last_metrics_update_date`` always; success clears
``last_metrics_error`` and sets ``last_metrics_success_date``, else the error's first 4000
characters are kept. Raises: ``DatabaseError``. Does database I/O.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from miqspec.metrics.store import db_failed
from miqspec.store import ProviderStore, now


def record_metrics_status(engine: sa.Engine, ems_id: int, error: str | None) -> None:
    """Record a capture's outcome on the provider row ``ems_id``."""
    ems = ProviderStore(engine).ems
    stamp = now()
    values: dict[str, Any] = {"last_metrics_update_date": stamp}
    if error is None:
        values.update(last_metrics_error=None, last_metrics_success_date=stamp)
    else:
        values["last_metrics_error"] = error[:4000]
    try:
        with engine.begin() as conn:
            conn.execute(ems.update().where(ems.c.id == ems_id).values(**values))
    except sa.exc.SQLAlchemyError as exc:
        raise db_failed("recording the metrics status", exc) from None
