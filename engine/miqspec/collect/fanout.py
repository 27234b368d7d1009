"""Fan-out: what a ``for_each`` call runs for, and running it once per item, in parallel.

Takes: the fan-out ``Call``, its parent call's records with their ancestor chains, a search
function (an expression on a subject with the chain enclosing it, for ``for_each.each`` and
``for_each.where``) and a fetch function (one call's requests for one item into a
``CallResult``). Gives: ``fan_out_items`` (each (item, chain) the call runs for: the parent
records, or with ``for_each.each`` the nested items of each, level by level; ``chain[0]`` is
the item, then what encloses it: the record, its own parents) and ``run_per_item`` (the
records of every item, with their parents and chains, in order; an item answering an
``item_fallback.on`` status is fetched again by the fallback, for that item only; an item
answering a ``skip_on`` status is skipped and the call marked incomplete).
Raises: what the fetch raises (the first failure; items not started yet are not sent).
No I/O of its own.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from miqspec.collect.results import CallResult, Skipped, truthy
from miqspec.errors import ApiError
from miqspec.spec import Call, Expression

# (expression, subject, the chain enclosing the subject, spec key) -> value
Search = Callable[[Expression, Any, list[Any], str], Any]
# (call, result to fill, template extras: parent and ancestors) -> None
Fetch = Callable[[Call, CallResult, dict[str, Any]], None]
Item = tuple[Any, list[Any]]


def fan_out_items(
    call: Call, records: list[Any], chains: list[list[Any]] | None, search: Search
) -> list[Item]:
    """Every (item, chain) ``call`` runs for, in order; ``chains[i]`` encloses ``records[i]``."""
    assert call.for_each is not None
    each, where = call.for_each.each, call.for_each.where
    out: list[Item] = []
    for record, up in zip(records, chains or [[]] * len(records), strict=True):
        subjects: list[Item] = [(record, up)]  # (subject, the chain enclosing it)
        for depth, level in enumerate(each):
            key = "for_each.each" if len(each) == 1 else f"for_each.each[{depth}]"
            found: list[Item] = []
            for subject, above in subjects:
                value = search(level, subject, above, key)
                items = [] if value is None else value if isinstance(value, list) else [value]
                chain = [subject, *above]
                found.extend((item, chain) for item in items)
            subjects = found
        for subject, above in subjects:
            if where is None or truthy(search(where, subject, above, "for_each.where")):
                out.append((subject, [subject, *above]))
    return out


def run_per_item(
    call: Call,
    items: list[Item],
    fetch: Fetch,
    res: CallResult,
    workers: int,
    progress: Callable[[str, int, int], None],
) -> None:
    """Fetch ``call`` once per item into ``res`` (records, parents, ancestors, counts)."""
    res.parents, res.ancestors, res.page_digests = [], [], None
    fallback = call.item_fallback

    def one(item: Item) -> tuple[CallResult, int | None]:
        extra = {"parent": item[0], "ancestors": item[1]}
        sub = CallResult(call.name)
        try:
            try:
                fetch(call, sub, extra)
                return sub, None
            except (Skipped, ApiError) as exc:
                status = getattr(exc, "status", None)
                if fallback is None or status not in fallback.on:
                    raise
            # this item only, from the start: what the first endpoint gave is dropped
            sub = CallResult(call.name, requests=sub.requests, pages=sub.pages)
            fetch(fallback.call, sub, extra)
            return sub, None
        except Skipped as skip:
            return CallResult(call.name, requests=sub.requests, pages=sub.pages), skip.status

    pool = ThreadPoolExecutor(max_workers=max(1, workers))
    try:
        for (parent, chain), (sub, skipped) in zip(items, pool.map(one, items), strict=True):
            res.records.extend(sub.records)
            res.parents.extend([parent] * len(sub.records))
            res.ancestors.extend([chain] * len(sub.records))
            res.pages += sub.pages
            res.requests += sub.requests
            if skipped is not None:
                res.complete = False
                res.status = f"partly skipped ({skipped})"
            progress(call.name, res.pages, len(res.records))
    finally:
        # on a failure, requests for items not started yet are not sent
        pool.shutdown(wait=True, cancel_futures=True)
