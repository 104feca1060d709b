"""Overlapping I/O and CPU: read_ahead gives the same pages in order, the source's error where it happened, bounded and stoppable; gc_paused restores the collector."""

from __future__ import annotations

import threading
import time

import pytest

from trident1_aiq.ingest.overlap import gc_paused, read_ahead

pytestmark = pytest.mark.unit


def test_same_items_in_order():
    assert list(read_ahead(iter(range(100)), depth=3)) == list(range(100))
    assert list(read_ahead(iter(range(5)), depth=0)) == list(range(5))  # 0: no thread


def test_error_raised_after_the_items_before_it():
    def source():
        yield 1
        yield 2
        raise RuntimeError("retries exhausted")

    got = []
    with pytest.raises(RuntimeError, match="retries exhausted"):
        for item in read_ahead(source(), depth=4):
            got.append(item)
    assert got == [1, 2]


def test_reads_at_most_depth_ahead():
    produced = []

    def source():
        for i in range(50):
            produced.append(i)
            yield i

    it = read_ahead(source(), depth=3)
    assert next(it) == 0
    time.sleep(0.3)
    # one handed out, three waiting, one more held by the reader blocked on the full queue
    assert len(produced) <= 5
    it.close()


def test_consumer_stopping_early_stops_the_reader():
    started = threading.Event()

    def endless():
        started.set()
        i = 0
        while True:
            i += 1
            yield i

    it = read_ahead(endless(), depth=2, name="endless-reader")
    assert next(it) == 1
    it.close()
    time.sleep(0.3)
    assert not any(t.name == "endless-reader" for t in threading.enumerate())


def test_gc_paused_restores_the_collector_nested_and_when_failing():
    import gc

    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the outer pause still holds
    assert gc.isenabled()
    with pytest.raises(ValueError), gc_paused():
        raise ValueError("a chunk failed")
    assert gc.isenabled()
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()  # left as the caller had it
    finally:
        gc.enable()
