"""Parse: collected records -> inventory objects with lazy references, through the mappings.

Offers: ``parse`` (a ``Spec`` and a ``CollectResult`` -> ``ParsedInventory``), the typed values
passed to persist (``InventoryObject``, ``LazyRef``, ``Carried``, ``ParsedInventory``), record
carry plans (``Carry``, ``CarryPlan``, ``carry_plans``) and the manager class names
(``MANAGER_CLASS``, ``camelize``), and ``parse_warnings`` (records dropped, attributes null on
every object). No I/O.
"""

from .audit import attribute_location, parse_warnings
from .carry import Carry, CarryPlan, carry_plans
from .objects import Carried, InventoryObject, LazyRef, ParsedInventory
from .parser import MANAGER_CLASS, camelize, parse

__all__ = [
    "MANAGER_CLASS",
    "Carried",
    "Carry",
    "CarryPlan",
    "InventoryObject",
    "LazyRef",
    "ParsedInventory",
    "attribute_location",
    "camelize",
    "carry_plans",
    "parse",
    "parse_warnings",
]
