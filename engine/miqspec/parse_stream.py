"""Parse while collecting: build the objects of simple sources page by page as pages arrive.

Takes: a ``Spec``; then, from the collector (``Collector(on_page=stream.feed)``), each page's
records of a top-level call as they are added to the call's result.
Gives: ``ParseStream``: ``feed(call, records)`` (any thread), ``close()`` (waits for the work
fed so far), ``taken`` (how many sources parse took from it) and ``take(source, records)`` for
``parse``: the objects the stream built from
exactly ``records`` (the call's final records, same objects in the same order), or None when
the stream has nothing for that source or saw other records (a fallback replaced them, a
where dropped some later...): the parser then builds them itself. A mapping failure of a
streamed source is kept and raised by ``take``, where ``parse`` would have raised it.
Raises: nothing itself (see ``take``). No I/O; one worker thread while open.

Why: the collector waits for the API most of the time it spends on a page; a worker thread
parses the previous page meanwhile (the GIL is free while the collector waits on its socket).
Only sources whose objects depend on nothing but their own record stream: a top-level call
(no ``for_each``, no ``embed`` children writing into its records later), no ``each`` levels, no
``items``, no expression or template reading the scope (``$calls``, ``$provider``, ...).
Objects and their order are the parser's own: ``parse`` adds them to the inventory in spec
order, exactly where it would have built them.
"""

from __future__ import annotations

import queue
import sys
import threading
from operator import is_
from typing import Any

from .collect import embedders_of
from .functions_data import find_by_indexes
from .model import Source, Spec
from .objects import InventoryObject
from .parse import SourceParser

SWITCH_INTERVAL = 0.001  # s: the collector gets the GIL back soon after its socket answers
_DONE = object()


class _Sink:
    """Where a streamed source's ``SourceParser.one`` puts its objects (in build order)."""

    def __init__(self) -> None:
        self.objects: list[InventoryObject] = []
        self.records: list[Any] = []
        self.error: BaseException | None = None

    def build(self, obj: InventoryObject) -> None:  # not the object: no secondary index now
        self.objects.append(obj)


class ParseStream:
    """See the module docstring."""

    def __init__(self, spec: Spec) -> None:
        embedded = set(embedders_of(spec))
        self._by_call: dict[str, list[tuple[SourceParser, _Sink]]] = {}
        self._sinks: dict[int, _Sink] = {}
        for name, mapping in spec.collections.items():
            coll = spec.catalogue.collections[name]
            for source in mapping.all_sources or mapping.sources:
                call = spec.calls.get(source.call) if source.call else None
                if call is None or call.for_each is not None or source.call in embedded:
                    continue
                if source.each or source.items is not None:
                    continue
                parser = SourceParser(spec, coll, mapping, source)
                if parser.needs_scope:
                    continue
                sink = _Sink()
                self._sinks[id(source)] = sink
                self._by_call.setdefault(source.call, []).append((parser, sink))
        self.taken = 0  # sources whose streamed objects parse used
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._interval = sys.getswitchinterval()

    @property
    def active(self) -> bool:
        """True when some source can be streamed."""
        return bool(self._by_call)

    def start(self) -> ParseStream:
        if self._by_call and self._thread is None:
            sys.setswitchinterval(SWITCH_INTERVAL)
            self._thread = threading.Thread(target=self._work, name="miqspec-parse", daemon=True)
            self._thread.start()
        return self

    def feed(self, call: str, records: list[Any]) -> None:
        """One page of ``call``'s records, as the collector added them (in order)."""
        if self._thread is not None and call in self._by_call:
            self._queue.put((call, records))

    def close(self) -> None:
        """Wait for the pages fed so far; the stream takes no more."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._queue.put(_DONE)
        thread.join()
        sys.setswitchinterval(self._interval)

    def __enter__(self) -> ParseStream:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def take(self, source: Source, records: list[Any]) -> list[InventoryObject] | None:
        """The objects streamed for ``source`` when they came from exactly ``records``."""
        sink = self._sinks.pop(id(source), None)
        if sink is None or self._thread is not None:
            return None
        seen = sink.records
        if len(seen) != len(records) or not all(map(is_, seen, records)):
            return None
        if sink.error is not None:
            raise sink.error
        self.taken += 1
        return sink.objects

    def _work(self) -> None:
        with find_by_indexes():
            while True:
                item = self._queue.get()
                if item is _DONE:
                    return
                call, records = item
                for parser, sink in self._by_call[call]:
                    sink.records.extend(records)
                    if sink.error is not None:
                        continue
                    try:
                        for record in records:
                            parser.one(record, {}, sink)  # type: ignore[arg-type]
                    except Exception as exc:  # kept for take(): parse raises it in order
                        sink.error = exc
