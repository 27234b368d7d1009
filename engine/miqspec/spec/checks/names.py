"""Names one section declares and the others read, filled in as the sections run.

Takes: nothing (the ``form`` and ``auth`` section checks fill it in).
Gives: ``Names`` (the input fields the form declares, the form fields something reads, the
variables login steps extract; the roots every template may read; the fields of ``provider``),
``IMPLICIT_FORM_FIELDS`` and ``BASE_ROOTS``. Raises nothing; no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from miqspec.spec.model import PROVIDER_FACTS, PROVIDER_ROW_FIELDS

# Form fields the engine itself fills or that only steer the UI; never "unused".
IMPLICIT_FORM_FIELDS = {"provider_region", "name", "zone_id", "type", "uid_ems"}
# Template roots of every auth, connection and call template (plus top-level form fields).
BASE_ROOTS = {"region", "endpoints", "authentications", "settings", "provider"}


@dataclass
class Names:
    """What the form declares, what reads it, and what login steps extract."""

    form: set[str] = field(default_factory=set)  # input fields the form declares
    used: set[str] = field(default_factory=set)  # form fields a template or $provider reads
    login: set[str] = field(default_factory=set)  # variables login steps extract

    def base_roots(self) -> set[str]:
        """The roots of auth, connection and call templates."""
        return set(BASE_ROOTS) | {n for n in self.form if "." not in n}

    def provider_fields(self) -> set[str]:
        """The fields ``provider`` holds: its facts, its row fields, the top-level form fields."""
        top = {n for n in self.form if "." not in n}
        return set(PROVIDER_FACTS) | top | IMPLICIT_FORM_FIELDS | PROVIDER_ROW_FIELDS
