"""The findings sink every section check writes to.

Takes: the ``LoadedDocument`` being checked (for locations and the source line of a caret).
Gives: ``Findings``: ``add`` (a finding at a spec path, at its key, or at a character of its
string value), ``syntax_error`` (a finding with a caret under the bad character), ``extend``
(findings made elsewhere, such as the schema's), ``doc`` and ``sorted`` (every finding once,
by position). Raises nothing; no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable

from miqspec.errors import Finding
from miqspec.spec.document import LoadedDocument, Path, format_path


class Findings:
    """The problems found in one document, in the order they were found."""

    def __init__(self, doc: LoadedDocument) -> None:
        self.doc = doc
        self.items: list[Finding] = []

    def add(self, path: Path, message: str, *, key: bool = False, at: int | None = None) -> None:
        """A finding at ``path`` (its key with ``key``; character ``at`` of its string value)."""
        loc = self.doc.location(path, key=key) if at is None else self.doc.offset_location(path, at)
        self.items.append(Finding(loc, format_path(path), message))

    def syntax_error(self, path: Path, offset: int, message: str) -> None:
        """A finding at character ``offset`` of the string at ``path``, with a caret line."""
        loc = self.doc.offset_location(path, offset)
        caret = self.doc.line_text(loc.line) + "\n" + " " * (loc.col - 1) + "^"
        self.items.append(Finding(loc, format_path(path), message, caret))

    def extend(self, findings: Iterable[Finding]) -> None:
        self.items.extend(findings)

    def sorted(self) -> list[Finding]:
        """Every distinct finding, sorted by position."""
        return sorted(set(self.items))
