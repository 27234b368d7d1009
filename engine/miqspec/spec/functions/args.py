"""What miqspec's custom JMESPath functions accept, and how they refuse input.

Takes: nothing. Gives: the argument specs the ``functions_*`` families pass to JMESPath's
``@signature`` (``STR``: a string or null; ``TEXT``: a string; ``ANY``: any value;
``VARIADIC``: any number of any values) and ``FunctionError``.
Raises: nothing itself. No I/O.
"""

from __future__ import annotations

from typing import Any

STR = {"types": ["string", "null"]}
TEXT = {"types": ["string"]}
ANY: dict[str, Any] = {"types": []}
VARIADIC = {"types": [], "variadic": True}


class FunctionError(ValueError):
    """A custom function got input it cannot use (the expression layer adds the context)."""
