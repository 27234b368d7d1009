"""ManageIQ's derived columns of a VM's realtime rows: vCPUs, memory available and used.

Takes: the database engine, the spec's tables, the spec and the target row ids.
Gives: ``capacities`` (per VM id its ``Capacity``: vCPUs and memory in MB, from its
``hardwares`` row, else its flavor's ``cpu_total_cores`` and ``memory`` bytes; nothing for
targets that are not VMs or have neither) and ``derived_values`` (``derived_vm_numvcpus``,
``derived_memory_available`` and ``derived_memory_used`` = memory percent x available / 100,
as ``Metric::Processing`` derives them; null where unknown).
Raises: ``DatabaseError``. Does database I/O (``capacities``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from miqspec.metrics.store import db_failed
from miqspec.spec import Spec

NONE = {"derived_vm_numvcpus": None, "derived_memory_available": None, "derived_memory_used": None}
CHUNK = 500


@dataclass(frozen=True)
class Capacity:
    vcpus: float | None
    memory_mb: float | None


def capacities(
    engine: sa.Engine, md: sa.MetaData, spec: Spec, ids: Sequence[int]
) -> dict[int, Capacity]:
    """Per VM id in ``ids``: its vCPUs and memory (hardware first, else flavor)."""
    ms = spec.metrics
    if ms is None or ms.collection != "vms" or not ids:
        return {}
    vms, hw, flavors = (md.tables.get(n) for n in ("vms", "hardwares", "flavors"))
    out: dict[int, Capacity] = {}
    try:
        with engine.connect() as conn:
            for start in range(0, len(ids), CHUNK):
                chunk = list(ids[start : start + CHUNK])
                if flavors is not None and vms is not None:
                    query = (
                        sa.select(vms.c.id, flavors.c.cpu_total_cores, flavors.c.memory)
                        .join(flavors, flavors.c.id == vms.c.flavor_id)
                        .where(vms.c.id.in_(chunk))
                    )
                    for vid, cores, memory in conn.execute(query):
                        out[vid] = Capacity(_num(cores), _mb(memory))
                if hw is not None:
                    query = sa.select(
                        hw.c.vm_or_template_id, hw.c.cpu_total_cores, hw.c.memory_mb
                    ).where(hw.c.vm_or_template_id.in_(chunk))
                    for vid, cores, memory_mb in conn.execute(query):
                        old = out.get(vid, Capacity(None, None))
                        out[vid] = Capacity(
                            _num(cores) or old.vcpus, _num(memory_mb) or old.memory_mb
                        )
    except sa.exc.SQLAlchemyError as exc:
        raise db_failed("reading VM capacities", exc) from None
    return out


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and value else None


def _mb(memory: Any) -> float | None:
    number = _num(memory)
    return number / 2**20 if number is not None else None


def derived_values(cap: Capacity | None, mem_percent: float | None) -> dict[str, Any]:
    """The derived columns of one realtime row."""
    if cap is None:
        return NONE
    used = None
    if cap.memory_mb is not None and mem_percent is not None:
        used = mem_percent * cap.memory_mb / 100
    return {
        "derived_vm_numvcpus": cap.vcpus,
        "derived_memory_available": cap.memory_mb,
        "derived_memory_used": used,
    }
