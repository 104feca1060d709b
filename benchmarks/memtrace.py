"""Where the memory of one run goes: RSS per step and per chunk, and tracemalloc's growth sites.

Runs ``bench.worker`` once, in this process, against a fresh sandbox day and a fresh
PostgreSQL (or SQLite) database, as ``make bench`` does, and reports:

* RSS after the imports, after Great Expectations' import, and the peak (VmHWM);
* after each chunk: the entity, its size, RSS now, the peak so far and (with
  ``--trace``) the bytes Python holds (tracemalloc current/peak);
* the peak RSS seen inside each step (a sampler thread reads VmRSS every 10 ms);
* with ``--trace``: the top allocation sites that grew between the second chunk of
  sales and the end of the ingest (what stays behind chunk after chunk), and those alive
  at the end of the run (what the whole run keeps).

``--trim`` calls glibc ``malloc_trim(0)`` after every chunk, to tell fragmentation
(RSS the allocator keeps but Python freed) from memory still in use. Set
``MALLOC_ARENA_MAX=2`` in the environment to try fewer arenas.

    PYTHONPATH=plugins .venv/bin/python benchmarks/memtrace.py --sales 100000 [--trace] [--trim]

tracemalloc slows the run about twice and adds its own bookkeeping to RSS: compare
RSS figures between runs without ``--trace``.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import sys
import tempfile
import threading
import time
import tracemalloc
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench  # noqa: E402  (puts plugins/ on the path)


def rss_mb(field: str = "VmRSS") -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


class Sampler:
    """Peak VmRSS per step of the run (the step ``RunCounts.step`` is in, else "other")."""

    def __init__(self) -> None:
        self.step = "other"
        self.peaks: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.01):
            now = rss_mb()
            if now > self.peaks.get(self.step, 0.0):
                self.peaks[self.step] = now

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()


def _top(stats: list, n: int, title: str) -> list[str]:
    out = [title]
    for s in stats[:n]:
        frames = list(s.traceback)[::-1]  # a Traceback runs from the oldest frame to the allocation
        size = getattr(s, "size_diff", s.size)
        count = getattr(s, "count_diff", s.count)
        out.append(f"  {size / 2**20:+8.1f} MB {count:+9d} blocks  {frames[0].filename}:{frames[0].lineno}")
        for f in frames[1:4]:
            out.append(f"  {'':29}<- {f.filename}:{f.lineno}")
    return out


def instrument(sampler: Sampler, trace: bool, trim: bool) -> dict[str, Any]:
    """Wrap the pipeline's chunk, step and loyalty functions to record memory as they run."""
    from trident1_aiq import runs
    from trident1_aiq.ingest import pipeline
    from trident1_aiq.loyalty import points as loyalty

    libc = ctypes.CDLL("libc.so.6") if trim else None
    state: dict[str, Any] = {"chunks": [], "snapshots": {}}
    step = runs.RunCounts.step.__wrapped__  # the generator under @contextmanager

    from contextlib import contextmanager

    @contextmanager
    def sampled_step(self, name):
        outer, sampler.step = sampler.step, name
        try:
            yield from step(self, name)
        finally:
            sampler.step = outer

    runs.RunCounts.step = sampled_step
    process_chunk = pipeline.process_chunk
    sales_seen = [0]

    def chunk(b, e, raw):
        n = len(raw)
        process_chunk(b, e, raw)
        del raw
        if libc is not None:
            libc.malloc_trim(0)
        row = {"entity": e.name, "records": n, "rss_mb": rss_mb(), "hwm_mb": rss_mb("VmHWM")}
        if trace:
            cur, peak = tracemalloc.get_traced_memory()
            row.update(py_mb=round(cur / 2**20, 1), py_peak_mb=round(peak / 2**20, 1))
            if e.name == "sale":
                sales_seen[0] += 1
                if sales_seen[0] == 2:
                    state["snapshots"]["second"] = tracemalloc.take_snapshot()
        state["chunks"].append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)

    pipeline.process_chunk = chunk
    run_loyalty = loyalty.run_loyalty

    def loyal(*args, **kwargs):
        state["before_loyalty_mb"] = rss_mb()
        if trace:  # after the last chunk (one snapshot per chunk would itself cost RSS)
            state["snapshots"]["last"] = tracemalloc.take_snapshot()
        outer, sampler.step = sampler.step, "loyalty"
        try:
            return run_loyalty(*args, **kwargs)
        finally:
            sampler.step = outer
            state["after_loyalty_mb"] = rss_mb()

    loyalty.run_loyalty = loyal
    return state


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sales", type=int, default=20_000)
    ap.add_argument("--locations", type=int, default=20)
    ap.add_argument("--chunk-size", type=int, default=None)
    ap.add_argument("--db", choices=("postgresql", "sqlite"), default="postgresql")
    ap.add_argument("--trace", action="store_true", help="tracemalloc: growth sites between chunks")
    ap.add_argument("--frames", type=int, default=6, help="tracemalloc traceback depth")
    ap.add_argument("--top", type=int, default=20)
    ap.add_argument("--trim", action="store_true", help="malloc_trim(0) after every chunk")
    args = ap.parse_args(argv)

    report: dict[str, Any] = {"rss_start_mb": rss_mb()}
    day, now = bench.DAY, bench.NOW
    sb = bench.Sandbox(args.locations, args.sales // args.locations, day - timedelta(days=1), day - timedelta(days=1), now)
    try:
        sb.warm(day, now, bench.settings_for(args.locations).integration.lookback_hours)
        report["rss_after_imports_mb"] = rss_mb()  # trident1_aiq, SQLAlchemy, requests, pydantic
        from trident1_aiq.ingest import validate

        validate.prefetch()
        validate._prefetched.join()
        report["rss_after_gx_import_mb"] = rss_mb()
        url, drop = bench.new_database(args.db, Path(tempfile.mkdtemp()))
        with Sampler() as sampler:
            state = instrument(sampler, args.trace, args.trim)
            if args.trace:
                tracemalloc.start(args.frames)
            spec = {"locations": args.locations, "day": day.isoformat(), "now": now.isoformat(),
                    "chunk_size": args.chunk_size, "db": url, "sandbox": sb.addr}
            t0 = time.perf_counter()
            try:
                out = bench.worker(spec)
            finally:
                drop()
            report["seconds"] = round(time.perf_counter() - t0, 1)
            end = tracemalloc.take_snapshot() if args.trace else None
        report.update({k: v for k, v in state.items() if k.endswith("_mb")})
        report["rss_end_mb"] = rss_mb()
        report["peak_rss_mb"] = out["peak_rss_mb"]
        report["peak_by_step_mb"] = sampler.peaks
        report["run"] = {k: out[k] for k in ("sales_read", "refunds_read", "customers_read", "loaded", "quarantined",
                                             "chunks", "points_earned")}
        print(json.dumps(report, indent=1))
        snaps = state["snapshots"]
        if "second" in snaps and "last" in snaps:
            grown = snaps["last"].compare_to(snaps["second"], "traceback")
            print("\n".join(_top(grown, args.top, "growth from the 2nd chunk of sales to the end of the ingest:")))
        if end is not None:
            print("\n".join(_top(end.statistics("traceback"), args.top, "alive at the end of the run:")))
    finally:
        sb.stop()


if __name__ == "__main__":
    main()
