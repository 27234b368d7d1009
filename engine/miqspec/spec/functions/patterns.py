"""Regular expressions from a spec, evaluated with a time limit.

Takes: pattern text from a spec (``regex_*`` functions, ``match:`` rules of attributes and
``power_states``) and the strings to search. Gives: ``compile_pattern(text)`` (a ``Pattern``,
cached) whose ``search`` and ``sub`` give up after ``PATTERN_SECONDS``, and ``pattern_problem``
(why a pattern does not compile, for the validator). The language is Python's ``re`` (a pattern
must compile there too); patterns run on the ``regex`` package in its ``re``-compatible mode
(``VERSION0``): ``re`` cannot be stopped, and a pattern such as ``^(a+)+$`` backtracks for
hours on 40 characters of API data.
Raises: ``FunctionError`` (a ValueError: the expression layer makes it a ``MappingError``, the
parser adds the attribute's location) for a pattern that does not compile, a bad replacement,
or a search that runs out of time. No I/O.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from miqspec.spec.functions.args import FunctionError

PATTERN_SECONDS = 0.5  # one search or substitution (the regex package overshoots by ~0.3 s)


class Pattern:
    """A compiled spec pattern; ``search`` and ``sub`` are bounded in time."""

    __slots__ = ("_compiled", "groups", "names", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self._compiled: Any = None
        try:  # the language is Python's re (and so are its error messages)
            compiled = re.compile(text)
            self.groups = compiled.groups
            self.names = frozenset(compiled.groupindex)
        except (re.error, ValueError, OverflowError, RecursionError) as exc:
            raise FunctionError(f"bad regular expression {text!r}: {exc}") from None

    def _engine(self) -> Any:
        """The pattern on the regex package, compiled at its first search (``validate`` never
        imports the package: 20 ms and more)."""
        if self._compiled is None:
            import regex

            try:
                self._compiled = regex.compile(self.text, regex.VERSION0)
            except (regex.error, ValueError, OverflowError, RecursionError) as exc:
                raise FunctionError(f"bad regular expression {self.text!r}: {exc}") from None
        return self._compiled

    def __repr__(self) -> str:
        return f"Pattern({self.text!r})"

    def search(self, subject: str) -> Any:
        """The first match in ``subject`` (a ``regex`` match object), or None."""
        try:
            return self._engine().search(subject, timeout=PATTERN_SECONDS)
        except TimeoutError:
            raise FunctionError(self._too_slow()) from None

    def sub(self, replacement: str, subject: str) -> str:
        """``subject`` with every match replaced by ``replacement`` (``\\1`` for groups)."""
        try:
            return str(self._engine().sub(replacement, subject, timeout=PATTERN_SECONDS))
        except TimeoutError:
            raise FunctionError(self._too_slow()) from None
        except FunctionError:
            raise
        except Exception as exc:  # the regex package's error for a bad group reference
            raise FunctionError(f"bad replacement {replacement!r}: {exc}") from None

    def _too_slow(self) -> str:
        return (
            f"regular expression {self.text!r} ran for more than {PATTERN_SECONDS:g} s "
            "(catastrophic backtracking? avoid nested quantifiers such as (a+)+)"
        )


@functools.lru_cache(maxsize=512)
def compile_pattern(text: str) -> Pattern:
    """The ``Pattern`` for ``text`` (cached); ``FunctionError`` when it does not compile."""
    return Pattern(text)


def pattern_problem(text: Any) -> str | None:
    """Why ``text`` is not a usable pattern (for a finding), or None."""
    if not isinstance(text, str):
        return "the pattern must be a string"
    try:
        compile_pattern(text)
    except FunctionError as exc:
        return "bad regular expression: " + str(exc).split(": ", 1)[-1]
    return None
