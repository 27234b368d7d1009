"""persist's mass-disappearance guard: would this save remove too much of a collection?

Takes: a finished ``PersistReport`` (counts of the save, still inside its transaction), the
collections to check, the share of a collection's stored rows that may go (0-1) and the
floor under which the share rule does not apply.
Gives: ``mass_removals`` -> one line per collection that would lose too much: more than
``share`` of its stored rows deleted or disconnected when at least ``floor`` rows go, or
every stored row (N > 0 to 0) whatever N. The caller decides (an error that rolls back, or a
warning on a dry run). No I/O, raises nothing.
"""

from __future__ import annotations

from collections.abc import Iterable

from miqspec.persist.report import PersistReport

DEFAULT_SHARE = 0.5
FLOOR = 10  # the share rule applies when at least this many rows would go


def mass_removals(
    report: PersistReport,
    collections: Iterable[str],
    share: float = DEFAULT_SHARE,
    floor: int = FLOOR,
) -> list[str]:
    """The collections of ``collections`` this save would empty or cut by more than ``share``.

    Stored rows before the save are the rows it kept, updated, deleted or disconnected; rows
    after are those it kept, updated, created or reconnected.
    """
    found = []
    for name in collections:
        rep = report.collections.get(name)
        if rep is None:
            continue
        gone = rep.deleted + rep.disconnected
        if not gone:
            continue
        before = rep.unchanged + rep.updated + gone
        after = rep.unchanged + rep.updated + rep.created + rep.reconnected
        verb = "disconnect" if rep.disconnected and not rep.deleted else "remove"
        if after == 0:
            found.append(f"{name}: would {verb} all {before} stored row(s), leaving none")
        elif gone >= floor and gone > share * before:
            found.append(
                f"{name}: would {verb} {gone} of {before} stored row(s) "
                f"({100 * gone / before:.0f}%, more than {100 * share:g}%)"
            )
    return found
