"""Load, check and build specs: the front door used by every command.

Takes: spec file paths. Gives: findings (``check_file``) or a typed ``Spec`` (``load_spec``).
Raises: ``SpecError`` carrying all findings when a spec is invalid. Reads files.
"""

from __future__ import annotations

from miqspec.errors import Finding, SpecError
from miqspec.spec.build import build_spec
from miqspec.spec.catalogue import load_catalogue
from miqspec.spec.checks import check_document
from miqspec.spec.document import load_file
from miqspec.spec.model import Spec
from miqspec.spec.valid_cache import known_valid, remember_valid


def check_file(path: str) -> list[Finding]:
    """Every problem in the spec at ``path`` (empty when valid); never raises for bad input."""
    try:
        doc = load_file(path)
    except SpecError as exc:
        if exc.findings:
            return exc.findings
        return [_finding_from_message(path, str(exc))]
    return check_document(doc, load_catalogue())


def _finding_from_message(path: str, message: str) -> Finding:
    from miqspec.errors import Location

    rest = message[len(path) :].lstrip(":") if message.startswith(path) else message
    parts = rest.split(":", 2)
    if len(parts) == 3 and parts[0].isdigit() and parts[1].isdigit():
        return Finding(Location(path, int(parts[0]), int(parts[1])), "", parts[2].strip())
    return Finding(Location(path, 1, 1), "", rest.strip())


def load_spec(path: str) -> Spec:
    """The typed model of a valid spec; ``SpecError`` with all findings otherwise. A spec
    whose exact bytes passed the checks before under this engine is not checked again
    (``valid_cache``); the bytes are those parsed, read once."""
    doc = load_file(path)
    data = doc.text.encode("utf-8")  # the bytes parsed (UTF-8 round-trips exactly)
    if not known_valid(data):
        findings = check_document(doc, load_catalogue())
        if findings:
            raise SpecError(
                f"{findings[0]} ({len(findings)} problem(s); run miqspec validate)", findings
            )
        remember_valid(data)
    return build_spec(doc)
