"""Semantic checks of find-or-build sources (``merge:``) and of a collection's ``tags:``.

Takes: the spec's data, the ``Findings`` sink, the ``TextChecker`` and the inventory
``Catalogue`` extended by the spec's ``models``. Gives: ``check_merging``: findings for
``merge: true`` on a collection's first source (nothing is built before it to merge into),
for a ``tags.from`` that does not compile or reads roots a source cannot, and for ``tags`` on
a lookup-only collection (its objects are never saved, so nothing can be tagged). Raises
nothing; no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from miqspec.spec.catalogue import Catalogue
from miqspec.spec.checks.findings import Findings
from miqspec.spec.checks.texts import TextChecker
from miqspec.spec.document import Path

TAG_ROOTS = {"region", "provider", "settings", "calls", "index", "login", "parent", "ancestors"}


def check_merging(
    data: Mapping[str, Any], findings: Findings, text: TextChecker, catalogue: Catalogue
) -> None:
    cols = data.get("collections")
    for cname, craw in cols.items() if isinstance(cols, dict) else ():
        if not isinstance(craw, dict):
            continue
        path: Path = ("collections", cname)
        sources = craw.get("sources")
        sources = sources if isinstance(sources, list) else []
        first = sources[0] if sources else None
        if isinstance(first, dict) and first.get("merge") is True:
            findings.add(
                (*path, "sources", 0, "merge"),
                "merge: true on the first source: no object is built before it to merge "
                "into (set merge: on the sources that complete it)",
                key=True,
            )
        tagged = [(path, craw)] + [
            ((*path, "sources", i), s) for i, s in enumerate(sources) if isinstance(s, dict)
        ]
        for tpath, owner in tagged:
            tags = owner.get("tags")
            if not isinstance(tags, dict):
                continue
            text.expression((*tpath, "tags", "from"), tags.get("from"), TAG_ROOTS)
            cdef = catalogue.get(str(cname))
            if cdef is not None and cdef.owner == "none" and cdef.delete == "none":
                findings.add(
                    (*tpath, "tags"),
                    f"'{cname}' is a lookup-only collection: its objects are never saved, "
                    "so none can be tagged",
                    key=True,
                )
