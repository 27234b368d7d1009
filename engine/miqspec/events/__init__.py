"""Events and targeted refresh: what a provider's event stream says, and what to refresh.

Offers: refresh targets (``Target``, ``parse_target``, ``group_targets``), the plan of a
targeted refresh (``plan_targeted`` -> ``TargetedPlan``: a derived spec whose target calls
stand for the calls they replace, the collections in scope and how each is swept), raw
events -> ``event_streams`` rows and targets (``map_events`` -> ``EventBatch``,
``parse_timestamp``), the stream's cursor (``cursor_vars``, ``advance``) and the worker's
merging of targets per provider (``TargetQueue``, ``Batch``). Uses ``spec`` for the model;
no I/O (``pipeline`` collects, ``store`` keeps events and cursors).
"""

from .cursor import advance, cursor_vars
from .mapping import EventBatch, map_event, map_events, parse_timestamp
from .queue import Batch, TargetQueue
from .targets import Target, TargetedPlan, group_targets, parse_target, plan_targeted

__all__ = [
    "Batch",
    "EventBatch",
    "Target",
    "TargetQueue",
    "TargetedPlan",
    "advance",
    "cursor_vars",
    "group_targets",
    "map_event",
    "map_events",
    "parse_target",
    "parse_timestamp",
    "plan_targeted",
]
