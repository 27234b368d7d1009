"""The one exception tree of miqspec, with exit codes and secret masking.

Takes: messages, optional spec locations and the secrets known at the time of raising.
Gives: exceptions whose ``str()`` is a single line, safe to print, and whose ``exit_code`` the
CLI returns. Does no I/O.

Exit codes (documented in docs/cli.md):
  0 ok; 1 spec invalid (validate findings); 2 usage error; 3 invalid credentials;
  4 unreachable; 5 API/collect error; 6 mapping/parse error; 7 database error;
  8 refresh busy (another refresh of the same provider holds the lock); 9 replay mismatch;
  10 not found (provider, collection); 11 other provider error; 13 an operation the object
  does not support now (ManageIQ's unsupported reason; nothing was done).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import quote, quote_plus

MASK = "********"


@dataclass(frozen=True, order=True)
class Location:
    """A position in a spec file: 1-based line and column."""

    file: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


def mask_secrets(text: str, secrets: Iterable[str | None]) -> str:
    """Replace every secret value found in ``text`` by ``********``, also as it is spelled in a
    URL (percent- and form-encoded) or inside a JSON string. Secrets of one or two characters
    are masked where they stand alone (not inside a longer word or number), so that a short
    password is hidden without garbling every word that contains its letters."""
    spellings: set[str] = set()
    short: set[str] = set()
    for secret in {str(s) for s in secrets if s}:
        raw = "surrogatepass"  # a token an API sent may hold lone surrogates
        url = (quote(secret, safe="", errors=raw), quote_plus(secret, errors=raw))
        forms = (secret, *url, json.dumps(secret)[1:-1])
        (spellings if len(secret) >= 3 else short).update(forms)
    for spelling in sorted(spellings, key=len, reverse=True):
        text = text.replace(spelling, MASK)
    if short:
        alternatives = "|".join(re.escape(s) for s in sorted(short, key=len, reverse=True))
        text = re.sub(rf"(?<![A-Za-z0-9])(?:{alternatives})(?![A-Za-z0-9])", MASK, text)
    return text


class MiqspecError(Exception):
    """Root of every error miqspec reports to a user. Always one line."""

    exit_code = 11

    def __init__(self, message: str, *, secrets: Iterable[str | None] = ()) -> None:
        one_line = " ".join(str(message).split())
        super().__init__(mask_secrets(one_line, secrets))

    @property
    def message(self) -> str:
        return str(self)


class UsageError(MiqspecError):
    exit_code = 2


class SpecError(MiqspecError):
    """A spec that cannot be loaded or is invalid; carries the findings."""

    exit_code = 1

    def __init__(self, message: str, findings: list[Finding] | None = None) -> None:
        super().__init__(message)
        self.findings = findings or []


class CredentialsError(MiqspecError):
    exit_code = 3


class UnreachableError(MiqspecError):
    exit_code = 4


class ApiError(MiqspecError):
    exit_code = 5


class MappingError(MiqspecError):
    exit_code = 6


class DatabaseError(MiqspecError):
    exit_code = 7


class RefreshBusyError(MiqspecError):
    exit_code = 8


class ReplayError(ApiError):
    exit_code = 9


class NotFoundError(MiqspecError):
    exit_code = 10


class UnsupportedError(MiqspecError):
    """An operation the object does not support now (ManageIQ's unsupported reason)."""

    exit_code = 13


@dataclass(frozen=True, order=True)
class Finding:
    """One problem in a spec: where, which spec path, what."""

    location: Location
    path: str
    message: str
    caret: str = ""

    def __post_init__(self) -> None:
        # A finding is one line whatever the spec's values hold (quoted newlines, tabs).
        for name in ("path", "message"):
            text = getattr(self, name)
            if any(c in text for c in "\n\r\t"):
                clean = text.replace("\r", "\\r").replace("\n", "\\n").replace("\t", " ")
                object.__setattr__(self, name, clean)

    def __str__(self) -> str:
        head = (
            f"{self.location}: {self.path}: {self.message}"
            if self.path
            else (f"{self.location}: {self.message}")
        )
        return head

    def as_dict(self) -> dict[str, object]:
        return {
            "file": self.location.file,
            "line": self.location.line,
            "col": self.location.col,
            "path": self.path,
            "message": self.message,
        }
