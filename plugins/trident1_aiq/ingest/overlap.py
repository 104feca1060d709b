"""Overlapping I/O and CPU in one credential's ingest (issue 14).

The pipeline's time per record is CPU in this process (normalise, validate, personas)
and waiting (on the Trident1 server for a page, on the warehouse for a merge). Three
tools let the two overlap without changing what a run does:

* :func:`read_ahead` fetches the next pages in a thread while a chunk is processed;
* :class:`Writer` runs a chunk's write behind the next chunk's processing (PostgreSQL);
* :func:`gc_paused` keeps the cyclic garbage collector out of a chunk's normalising.

``read_ahead``: the consumer sees exactly the pages, in the order, that iterating the source
directly would give, and the source's exception (retries exhausted, refused credentials) at
the point where that page would have come. ``depth`` pages at most wait in the queue, so
memory stays bounded. A consumer that stops early closes the generator; the reader then
stops at its next page.
"""

from __future__ import annotations

import gc
import queue
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from typing import TypeVar

from trident1_aiq.logs import get_logger

log = get_logger(__name__)
T = TypeVar("T")

_END = object()


def read_ahead(source: Iterator[T], depth: int = 4, name: str = "read-ahead") -> Iterator[T]:
    """Iterate ``source`` in a daemon thread, at most ``depth`` items ahead of the caller."""
    if depth <= 0:
        yield from source
        return
    buffer: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                buffer.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def reader() -> None:
        try:
            for item in source:
                if not put(item):
                    return
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, raised there
            put(_Failure(exc))
            return
        put(_END)

    thread = threading.Thread(target=reader, name=name, daemon=True)
    thread.start()
    try:
        while True:
            item = buffer.get()
            if item is _END:
                return
            if isinstance(item, _Failure):
                raise item.exc
            yield item
    finally:
        stop.set()
        thread.join(timeout=5)


class _Failure:
    __slots__ = ("exc",)

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


_gc_lock = threading.Lock()
_gc_pause = {"depth": 0, "was_enabled": False}  # nested or concurrent pauses: the outermost restores


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while a chunk is normalised.

    Normalising allocates hundreds of thousands of small objects, none of them in cycles;
    each allocation burst makes the collector walk every live object of the process again
    (measured: about a third of normalise's time). Reference counting still frees
    everything; the collector runs again as soon as the block ends.
    """
    with _gc_lock:
        if _gc_pause["depth"] == 0:
            _gc_pause["was_enabled"] = gc.isenabled()
            gc.disable()
        _gc_pause["depth"] += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_pause["depth"] -= 1
            if _gc_pause["depth"] == 0 and _gc_pause["was_enabled"]:
                gc.enable()


class Writer:
    """Runs each chunk's write (merge, quarantine, hold) behind the next chunk's processing.

    On PostgreSQL the merge is the server's work: while it runs, this process normalises
    and validates the next chunk. Writes stay in chunk order and one at a time (a write
    waits for the one before it), so at most one chunk's rows wait here; a write that
    fails is raised at the next ``submit`` or at ``drain``, and the run fails as it would
    have. SQLite allows one writer at a time, so there the write runs at once, inline.
    """

    def __init__(self, overlap: bool) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="chunk-writer") if overlap else None
        self._last: Future | None = None

    def submit(self, write: Callable[[], None]) -> None:
        self.drain()
        if self._pool is None:
            write()
        else:
            self._last = self._pool.submit(write)

    def drain(self) -> None:
        """Wait for the pending write; raise its error."""
        last, self._last = self._last, None
        if last is not None:
            last.result()

    def close(self) -> None:
        """Wait for the pending write without raising (the caller is already failing), then stop."""
        if self._last is not None:
            wait([self._last])
            if self._last.exception() is not None:  # the caller is failing for its own reason: say both
                log.error("a chunk write failed too: %s: %s", type(self._last.exception()).__name__,
                          self._last.exception())
            self._last = None
        if self._pool is not None:
            self._pool.shutdown(wait=True)
