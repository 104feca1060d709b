"""Read a listing ahead of its consumer: the next pages are fetched while a chunk is processed.

The pipeline's time per record is CPU in this process (normalise, validate, personas)
and waiting (on the Trident1 server for a page, on the warehouse for a merge). Fetching
in a thread overlaps the two: while the main thread works on a chunk, the reader waits
on the network and decodes the next pages. ``depth`` pages at most wait in the queue,
so memory stays bounded by the chunk size plus a few pages, never the day.

The consumer sees exactly the pages, in the order, that iterating the source directly
would give, and the source's exception (retries exhausted, refused credentials) at the
point where that page would have come. A consumer that stops early (its chunk failed)
closes the generator; the reader then stops at its next page.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import TypeVar

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
