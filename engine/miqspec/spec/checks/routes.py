"""Semantic checks of ``collections.<name>.route`` and of lazies to a collection alias.

Takes: the spec's data, the ``Findings`` sink, the ``TextChecker`` and the inventory
``Catalogue`` extended by the spec's ``models``. Gives: ``check_routes``: findings for a route
to an unknown collection, to the mapping's own collection, to a lookup-only one, or to a
collection of another table or manager_ref (a routed record must fit either), and for route
conditions that do not compile or read roots a source cannot; ``check_alias_lazy``: ``by:``
on a lazy to an alias (``vms_and_templates`` finds its object by manager_ref). Raises
nothing; no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from miqspec.spec import schema as schema_mod
from miqspec.spec.catalogue import Catalogue
from miqspec.spec.checks.findings import Findings
from miqspec.spec.checks.texts import TextChecker
from miqspec.spec.document import Path
from miqspec.spec.routes import LAZY_ALIASES

ROUTE_ROOTS = {"region", "provider", "settings", "calls", "index", "login", "parent", "ancestors"}


def check_routes(
    data: Mapping[str, Any], findings: Findings, text: TextChecker, catalogue: Catalogue
) -> None:
    cols = data.get("collections")
    for cname, craw in cols.items() if isinstance(cols, dict) else ():
        route = craw.get("route") if isinstance(craw, dict) else None
        if not isinstance(route, dict):
            continue
        home = catalogue.get(str(cname))
        for target, cond in route.items():
            tpath: Path = ("collections", cname, "route", target)
            text.expression(tpath, cond, ROUTE_ROOTS)
            tdef = catalogue.get(str(target))
            if tdef is None:
                findings.add(
                    tpath,
                    f"route to unknown collection '{target}'"
                    + schema_mod.suggest(str(target), catalogue.collections),
                    key=True,
                )
            elif target == cname:
                findings.add(
                    tpath,
                    f"a route to '{cname}' itself: records no route takes stay there anyway",
                    key=True,
                )
            elif tdef.owner == "none":
                findings.add(
                    tpath,
                    f"'{target}' is a lookup-only collection (nothing is saved into it)",
                    key=True,
                )
            elif home is not None and (
                tdef.table != home.table or tdef.manager_ref != home.manager_ref
            ):
                findings.add(
                    tpath,
                    f"'{target}' (table {tdef.table}, manager_ref {list(tdef.manager_ref)}) "
                    f"cannot take records of '{cname}' (table {home.table}, manager_ref "
                    f"{list(home.manager_ref)}): route: moves records between collections of "
                    "one table and manager_ref",
                    key=True,
                )


def check_alias_lazy(findings: Findings, path: Path, value: Mapping[str, Any]) -> None:
    """A lazy to an alias finds its object by manager_ref only."""
    name = value.get("lazy")
    if isinstance(name, str) and name in LAZY_ALIASES and "by" in value:
        findings.add(
            (*path, "by"),
            f"a lazy to '{name}' ({' or '.join(LAZY_ALIASES[name])}) finds its object by "
            "manager_ref; by: is not allowed here",
            key=True,
        )
