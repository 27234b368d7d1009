"""persist's mass-disappearance guard: would this save remove too much of a collection?

Takes: a finished ``PersistReport`` (counts of the save, still inside its transaction), the
collections to check, the share of a collection's stored rows that may go (0-1) and the
floor under which the share rule does not apply.
Gives: ``mass_removals`` -> one line per collection that would lose too much: more than
``share`` of its stored rows deleted or disconnected when at least ``floor`` rows go, or
every stored row (N > 0 to 0) whatever N. The caller decides (an error that rolls back, or a
warning on a dry run); ``guard_removals`` decides so (raises ``ApiError``, or gives the warnings);
``mass_share`` reads the share (argument, else ``$MIQSPEC_MASS_DELETE_SHARE``, else 0.5;
``UsageError`` outside 0-1). No I/O but the environment.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from miqspec.errors import ApiError, UsageError
from miqspec.persist.report import PersistReport

DEFAULT_SHARE = 0.5
MASS_DELETE_ENV = "MIQSPEC_MASS_DELETE_SHARE"
FLOOR = 10  # the share rule applies when at least this many rows would go


def mass_removals(
    report: PersistReport,
    collections: Iterable[str],
    share: float = DEFAULT_SHARE,
    floor: int = FLOOR,
) -> list[str]:
    """The collections of ``collections`` this save would empty or cut by more than ``share``.

    Stored rows before the save are the rows it kept, updated, deleted, disconnected or
    archived (``gone``: the last three); rows
    after are those it kept, updated, created or reconnected.
    """
    found = []
    for name in collections:
        rep = report.collections.get(name)
        if rep is None:
            continue
        gone = rep.deleted + rep.disconnected + rep.archived
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


def mass_share(share: float | None) -> float:
    """The share of a collection a refresh may remove: ``share``, else the environment's
    ``MIQSPEC_MASS_DELETE_SHARE``, else 0.5. Raises ``UsageError`` outside 0-1."""
    if share is None:
        text = os.environ.get(MASS_DELETE_ENV, "").strip()
        try:
            share = float(text) if text else DEFAULT_SHARE
        except ValueError:
            raise UsageError(f"{MASS_DELETE_ENV}={text[:40]!r} is not a number") from None
    if not 0 <= share <= 1:
        raise UsageError(f"the mass-delete share must be between 0 and 1 (got {share:g})")
    return share


def guard_removals(
    report: PersistReport, names: list[str], share: float, dry_run: bool
) -> list[str]:
    """Raise ``ApiError`` (inside the refresh transaction: nothing is written) when the save
    would remove too much of a collection; on a dry run give the warnings instead."""
    found = mass_removals(report, names, share)
    if not found:
        return []
    if dry_run:
        return [
            f"mass removal: {line} (a refresh stops here; --allow-mass-delete lets it through)"
            for line in found
        ]
    raise ApiError(
        "mass removal refused, nothing written: "
        + "; ".join(found)
        + " (the API may have answered incompletely; --allow-mass-delete or a higher "
        "--mass-delete-share lets it through)"
    )
