"""``make bench``: the real pipeline on a big day, on PostgreSQL and SQLite, with references.

The sandbox (its own process) serves a store account of ``--locations`` locations
that rings ``--sales`` sales on the business day. Every measured run is a fresh
Python process (as an Airflow task is), so Great Expectations' import is counted
and peak RSS is the run's own:

* first run of the day on an empty warehouse: extract → normalise → validate →
  load (stage timings from the pipeline's own step timer), then loyalty and refunds;
* the rerun of the same, unchanged day;
* references, on the same rows: raw ``COPY`` of the loaded lines (psycopg 3
  ``write_row``) and the script a user would otherwise write (``naive_script.py``);
* peak RSS at ``--scale`` × the sales, and a backfill of ``--backfill-days`` days.

Results go to ``benchmarks/results/latest.json`` and ``latest.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "plugins"))
sys.path.insert(0, str(ROOT / "benchmarks"))
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

RESULTS = ROOT / "benchmarks" / "results"
PG_ADMIN = os.environ.get("BENCH_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
PG_BASE = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
DAY = date(2026, 11, 25)
NOW = datetime(2026, 11, 26, 6, 0, tzinfo=UTC)
STORE, KEY, CRED = "chain", "sandbox-chain-key", "trident1_chain"
STORES = ("den-downtown", "nyc-soho", "la-venice", "chi-loop")


# ----------------------------------------------------------------------------- worker (one run)


def settings_for(locations: int):
    from trident1_aiq.config import default_variable_text, demo_settings

    integration = json.loads(default_variable_text("trident1_integration"))
    integration["credentials"] = [CRED]
    mappings = [{"credential": CRED, "location_id": f"LOC-{n + 1}", "store_id": STORES[n % len(STORES)]}
                for n in range(locations)]
    discounts = [{"id": "aiq-ten-off", "name": "10% off", "credential": CRED, "trident1_discount_id": "D-10",
                  "points_cost": 100}]
    return demo_settings({"trident1_integration": json.dumps(integration),
                          "trident1_store_mappings": json.dumps(mappings),
                          "aiq_discounts": json.dumps(discounts)})


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def worker(spec: dict[str, Any]) -> dict[str, Any]:
    """One Airflow-task-like run: ingest the day, then loyalty; report timings and RSS."""
    t_import = time.perf_counter()
    from trident1_aiq.client import Trident1Client
    from trident1_aiq.config import trident1_credential
    from trident1_aiq.loyalty import run_loyalty
    from trident1_aiq.pipeline import ingest_credential, prepare_run, run_window
    from trident1_aiq.warehouse import Warehouse

    imports = time.perf_counter() - t_import
    settings = settings_for(spec["locations"])
    day = date.fromisoformat(spec["day"])
    now = datetime.fromisoformat(spec["now"])
    wh = Warehouse(spec["db"])
    prepare_run(wh, settings, now)
    cred = trident1_credential(CRED, host=spec["sandbox"], schema="http", port=None, password=KEY,
                               extra={"store_name": STORE})
    lines_before = _count(wh, "sale_items")
    run_id = f"bench-{uuid.uuid4().hex[:8]}"
    t0 = time.perf_counter()
    summary = ingest_credential(wh=wh, client=Trident1Client(cred), settings=settings, credential=CRED,
                                run_id=run_id, window=run_window(day, settings.integration.lookback_hours, now),
                                now=now, chunk_size=spec.get("chunk_size"))
    t1 = time.perf_counter()
    counts = run_loyalty(wh, settings, run_id, now)
    t2 = time.perf_counter()
    stages = dict(summary["step_seconds"])
    stages["loyalty"] = round(t2 - t1, 3)
    out = {
        "total_s": round(t2 - t0, 3), "ingest_s": round(t1 - t0, 3), "stages": stages, "imports_s": round(imports, 3),
        "sales_read": summary["sales_read"], "refunds_read": summary["refunds_read"],
        "customers_read": summary["customers_read"], "loaded": summary["loaded"], "updated": summary["updated"],
        "unchanged": summary["unchanged"], "quarantined": summary["quarantined"], "chunks": summary["chunks"],
        "lines_new": _count(wh, "sale_items") - lines_before, "lines_total": _count(wh, "sale_items"),
        "sales_total": _count(wh, "sales"), "points_earned": counts.summary()["points_earned"],
        "refunds_reconciled": counts["refunds_reconciled"], "peak_rss_mb": peak_rss_mb(),
    }
    wh.dispose()
    return out


def _count(wh, table: str) -> int:
    with wh.begin() as conn:
        return int(wh.execute(conn, f"SELECT COUNT(*) FROM {table}").scalar())


def run_worker(spec: dict[str, Any]) -> dict[str, Any]:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "plugins"))
    proc = subprocess.run([sys.executable, __file__, "worker", json.dumps(spec)], check=False, capture_output=True,
                          text=True,
                          env=env, cwd=ROOT)
    if proc.returncode != 0:
        raise RuntimeError(f"worker failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ----------------------------------------------------------------------------- databases


def new_database(kind: str, tmp: Path) -> tuple[str, Any]:
    if kind == "sqlite":
        path = tmp / f"bench-{uuid.uuid4().hex[:8]}.db"
        return f"sqlite:///{path}", lambda: [p.unlink(missing_ok=True) for p in tmp.glob(path.name + "*")]
    import psycopg

    name = f"t1_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return f"{PG_BASE}/{name}", drop


def copy_reference(db_url: str) -> dict[str, Any]:
    """The floor for loading here: COPY the warehouse's lines into an empty table."""
    import psycopg

    url = db_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT * FROM sale_items").fetchall()
        cols = [d.name for d in conn.execute("SELECT * FROM sale_items LIMIT 0").description]
        conn.execute("CREATE TABLE bench_copy_ref (LIKE sale_items)")
        conn.commit()
        t0 = time.perf_counter()
        with conn.cursor() as cur, cur.copy(f"COPY bench_copy_ref ({', '.join(cols)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        conn.commit()
        seconds = time.perf_counter() - t0
    return {"lines": len(rows), "seconds": round(seconds, 3), "lines_per_s": round(len(rows) / seconds)}


def naive_reference(sandbox: str, db_url: str, day: date, now: datetime, lookback: int) -> dict[str, Any]:
    from trident1_aiq.pipeline import run_window

    w = run_window(day, lookback, now)
    z = lambda t: t.strftime("%Y-%m-%dT%H:%M:%SZ")  # noqa: E731
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "naive_script.py"), f"http://{sandbox}",
                           STORE, KEY, z(w.start), z(w.end), db_url], capture_output=True, text=True, check=True)
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["lines_per_s"] = round(out["lines"] / out["seconds"])
    return out


# ----------------------------------------------------------------------------- sandbox


class Sandbox:
    def __init__(self, locations: int, per_location: int, first: date, last: date, now: datetime):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.addr = f"127.0.0.1:{self.port}"
        env = dict(os.environ, PYTHONPATH=str(ROOT / "plugins"))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "trident1_sandbox", "--port", str(self.port), "--chain-locations",
             str(locations), "--sales-per-day", str(per_location), "--first-day", first.isoformat(),
             "--last-day", last.isoformat(), "--now", now.isoformat()], env=env)
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://{self.addr}/_sandbox/state", timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise RuntimeError("sandbox did not start") from None
                time.sleep(0.2)

    def configure(self, **body: Any) -> None:
        req = urllib.request.Request(f"http://{self.addr}/_sandbox/config", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
        urllib.request.urlopen(req, timeout=30)

    def warm(self, day: date, now: datetime, lookback: int) -> float:
        """Make the sandbox generate the day before anything is timed (its cost is not ours)."""
        from trident1_aiq.client import Trident1Client
        from trident1_aiq.config import trident1_credential
        from trident1_aiq.entities import ENTITIES
        from trident1_aiq.pipeline import run_window

        t0 = time.perf_counter()
        client = Trident1Client(trident1_credential(CRED, host=self.addr, schema="http", port=None, password=KEY,
                                                    extra={"store_name": STORE}))
        w = run_window(day, lookback, now)
        for e in ENTITIES:
            next(client.iter_window(e.path, w.start, w.end))
        return round(time.perf_counter() - t0, 1)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


# ----------------------------------------------------------------------------- orchestration


def bench(args: argparse.Namespace) -> dict[str, Any]:
    import tempfile

    per_loc = args.sales // args.locations
    lookback = settings_for(args.locations).integration.lookback_hours
    tmp = Path(tempfile.mkdtemp(prefix="t1-bench-"))
    base = {"locations": args.locations, "day": DAY.isoformat(), "now": NOW.isoformat(), "chunk_size": args.chunk_size}
    result: dict[str, Any] = {
        "when": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "params": {"sales": per_loc * args.locations, "locations": args.locations, "repeats": args.repeats,
                   "chunk_size": args.chunk_size or settings_for(args.locations).integration.chunk_size,
                   "business_day": DAY.isoformat()},
        "runs": {}, "references": {"copy": [], "naive": []},
    }
    # Sales ring on the day before: the business day's window (48 h look-back) holds all of them.
    sandbox = Sandbox(args.locations, per_loc, DAY - timedelta(days=1), DAY - timedelta(days=1), NOW)
    try:
        result["sandbox_warm_s"] = sandbox.warm(DAY, NOW, lookback)
        for db in args.databases:
            runs = result["runs"].setdefault(db, {"first": [], "rerun": []})
            for n in range(args.repeats):
                url, drop = new_database(db, tmp)
                try:
                    first = run_worker(dict(base, db=url, sandbox=sandbox.addr))
                    rerun = run_worker(dict(base, db=url, sandbox=sandbox.addr))
                    runs["first"].append(first)
                    runs["rerun"].append(rerun)
                    _say(f"{db} #{n + 1}: first {first['total_s']} s ({first['lines_new']} lines, "
                         f"{first['peak_rss_mb']} MB), rerun {rerun['total_s']} s")
                    if db == "postgresql":
                        ref = copy_reference(url)
                        result["references"]["copy"].append(ref)
                        naive = naive_reference(sandbox.addr, url, DAY, NOW, lookback)
                        result["references"]["naive"].append(naive)
                        _say(f"  COPY {ref['lines_per_s']} lines/s; to_sql script {naive['seconds']} s")
                finally:
                    drop()
        if args.scale:
            per_big = args.sales * args.scale // args.locations
            ring = (DAY - timedelta(days=1)).isoformat()
            sandbox.configure(volume={"sales_per_day": per_big, "first_day": ring, "last_day": ring})
            sandbox.warm(DAY, NOW, lookback)
            url, drop = new_database("postgresql", tmp)
            try:
                big = run_worker(dict(base, db=url, sandbox=sandbox.addr))
                result["scale"] = {"sales": per_big * args.locations, "run": big}
                _say(f"x{args.scale}: {big['total_s']} s, {big['peak_rss_mb']} MB")
            finally:
                drop()
    finally:
        sandbox.stop()
    if args.backfill_days:
        result["backfill"] = backfill(args, base, tmp, lookback)
    return result


def backfill(args: argparse.Namespace, base: dict, tmp: Path, lookback: int) -> dict[str, Any]:
    """Days 1..N in order into one PostgreSQL warehouse, each as its own process."""
    per_loc = (args.backfill_sales or args.sales) // args.locations
    first_day = DAY - timedelta(days=args.backfill_days - 1)
    sandbox = Sandbox(args.locations, per_loc, first_day, DAY, NOW)
    url, drop = new_database("postgresql", tmp)
    days = []
    try:
        for k in range(args.backfill_days):
            day = first_day + timedelta(days=k)
            now = datetime.combine(day + timedelta(days=1), datetime.min.time(), UTC) + timedelta(hours=6)
            sandbox.configure(now=now.isoformat())
            sandbox.warm(day, now, lookback)
            run = run_worker(dict(base, db=url, sandbox=sandbox.addr, day=day.isoformat(), now=now.isoformat()))
            days.append(dict(run, day=day.isoformat()))
            _say(f"backfill day {k + 1}: {run['total_s']} s, warehouse {run['sales_total']} sales")
        from explain import explain

        (args.out / "explain.md").parent.mkdir(parents=True, exist_ok=True)
        (args.out / "explain.md").write_text(explain(url, DAY - timedelta(days=1)))
    finally:
        drop()
        sandbox.stop()
    return {"sales_per_day": per_loc * args.locations, "days": days}


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------- report


def med(values: list[float]) -> float:
    return round(statistics.median(values), 3) if values else float("nan")


def summarise(r: dict[str, Any]) -> dict[str, Any]:
    """Medians per database and stage, and each target with its measured figure."""
    out: dict[str, Any] = {}
    for db, runs in r["runs"].items():
        first = runs["first"]
        lines = med([x["lines_new"] for x in first])
        stages = sorted({s for x in first for s in x["stages"]}, key=list(STAGE_ORDER).index)
        total = med([x["total_s"] for x in first])
        out[db] = {
            "lines": lines, "sales": med([x["sales_read"] for x in first]), "total_s": total,
            "lines_per_s": round(lines / total), "rerun_s": med([x["total_s"] for x in runs["rerun"]]),
            "peak_rss_mb": med([x["peak_rss_mb"] for x in first]),
            "stages": {s: med([x["stages"].get(s, 0.0) for x in first]) for s in stages},
        }
    targets = []
    pg, lite = out.get("postgresql"), out.get("sqlite")
    copy = med([x["lines_per_s"] for x in r["references"]["copy"]])
    naive = med([x["seconds"] for x in r["references"]["naive"]])
    if pg:
        load_rate = pg["lines"] / pg["stages"]["load"]
        targets += [
            ("Load stage on PostgreSQL ≥ 0.5 × raw COPY of the same lines",
             f"{load_rate:,.0f} vs COPY {copy:,.0f} lines/s = {load_rate / copy:.2f}×", load_rate >= 0.5 * copy),
            ("End to end on PostgreSQL ≥ 25,000 sale lines/s", f"{pg['lines_per_s']:,} lines/s",
             pg["lines_per_s"] >= 25_000),
            ("End to end on PostgreSQL ≥ 5 × the to_sql script", f"script {naive} s / pipeline {pg['total_s']} s = "
             f"{naive / pg['total_s']:.2f}×", naive >= 5 * pg["total_s"]),
        ]
    if lite:
        targets.append(("End to end on SQLite ≥ 20,000 sale lines/s", f"{lite['lines_per_s']:,} lines/s",
                        lite["lines_per_s"] >= 20_000))
    for db, s in out.items():
        share = s["stages"].get("validate", 0) / s["total_s"]
        targets.append((f"GX validation ≤ 20 % of end to end ({db})", f"{share:.0%}", share <= 0.20))
        targets.append((f"Peak RSS ≤ 500 MB at {s['sales']:,.0f} sales ({db})", f"{s['peak_rss_mb']} MB",
                        s["peak_rss_mb"] <= 500))
        targets.append((f"Rerun of the unchanged day ≤ 0.5 × first run ({db})",
                        f"{s['rerun_s']} s / {s['total_s']} s = {s['rerun_s'] / s['total_s']:.2f}×",
                        s["rerun_s"] <= 0.5 * s["total_s"]))
    if "scale" in r and pg:
        big = r["scale"]["run"]["peak_rss_mb"]
        targets.append((f"Peak RSS at {r['scale']['sales']:,} sales ≤ 1.2 × the {pg['sales']:,.0f}-sale figure",
                        f"{big} MB / {pg['peak_rss_mb']} MB = {big / pg['peak_rss_mb']:.2f}×",
                        big <= 1.2 * pg["peak_rss_mb"]))
    if r.get("backfill"):
        days = r["backfill"]["days"]
        d1, dn = days[0]["total_s"], days[-1]["total_s"]
        targets.append((f"Day {len(days)} of a {len(days)}-day backfill ≤ 1.2 × day 1 (PostgreSQL, "
                        f"{r['backfill']['sales_per_day']:,} sales/day)", f"{dn} s / {d1} s = {dn / d1:.2f}×",
                        dn <= 1.2 * d1))
    return {"databases": out, "copy_lines_per_s": copy, "naive_s": naive,
            "targets": [{"target": t, "measured": m, "met": bool(ok)} for t, m, ok in targets]}


STAGE_ORDER = {"extract": 0, "compare": 1, "normalize": 2, "validate": 3, "personas": 4, "load": 5, "loyalty": 6}


def markdown(r: dict[str, Any], s: dict[str, Any]) -> str:
    p = r["params"]
    lines = [f"# Benchmark — {p['sales']:,} sales, {p['locations']} locations, business day {p['business_day']}",
             "",
             f"Run {r['when']} on {r['machine']['cpus']} CPUs, Python {r['machine']['python']}; "
             f"chunk size {p['chunk_size']:,}; medians of {p['repeats']} (each run a fresh process, "
             f"Great Expectations' import included). Made by `make bench`; raw figures in `latest.json`.",
             ""]
    for db, d in s["databases"].items():
        lines += [f"## {db}: {d['total_s']} s end to end, {d['lines_per_s']:,} sale lines/s, "
                  f"peak RSS {d['peak_rss_mb']} MB", "",
                  "| stage | seconds | sale lines/s | share |", "|---|---:|---:|---:|"]
        for stage, sec in d["stages"].items():
            rate = f"{d['lines'] / sec:,.0f}" if sec else "—"
            lines.append(f"| {stage} | {sec} | {rate} | {sec / d['total_s']:.0%} |")
        lines += [f"| **total** | **{d['total_s']}** | **{d['lines_per_s']:,}** | 100% |",
                  "", f"Rerun of the same unchanged day: {d['rerun_s']} s.", ""]
    lines += ["## References (same rows, same run)", "",
              f"* raw `COPY` of the loaded lines into an empty table: {s['copy_lines_per_s']:,} lines/s",
              f"* requests → pandas → `to_sql` script (`naive_script.py`): {s['naive_s']} s", ""]
    if r.get("backfill"):
        days = r["backfill"]["days"]
        lines += [f"## Backfill: {len(days)} days × {r['backfill']['sales_per_day']:,} sales on PostgreSQL", "",
                  "| day | seconds | warehouse sales after |", "|---:|---:|---:|"]
        lines += [f"| {k + 1} | {d['total_s']} | {d['sales_total']:,} |" for k, d in enumerate(days)]
        lines.append("")
    lines += ["## Targets (issue 6)", "", "| target | measured | met |", "|---|---|---|"]
    lines += [f"| {t['target']} | {t['measured']} | {'yes' if t['met'] else '**no**'} |" for t in s["targets"]]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "worker":
        profile = os.environ.get("BENCH_PROFILE")  # a path: write a pyinstrument profile of the run there
        if profile:
            from pyinstrument import Profiler

            with Profiler() as prof:
                out = worker(json.loads(argv[1]))
            Path(profile).write_text(prof.output_text(unicode=False, color=False, show_all=False))
        else:
            out = worker(json.loads(argv[1]))
        print(json.dumps(out))
        return
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sales", type=int, default=100_000)
    p.add_argument("--locations", type=int, default=20)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--databases", nargs="+", default=["postgresql", "sqlite"], choices=["postgresql", "sqlite"])
    p.add_argument("--chunk-size", type=int, default=None)
    p.add_argument("--scale", type=int, default=3, help="one more PostgreSQL run at this × sales (0: skip)")
    p.add_argument("--backfill-days", type=int, default=30, help="0: skip")
    p.add_argument("--backfill-sales", type=int, default=None, help="sales per backfill day (default --sales)")
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    r = bench(args)
    s = summarise(r)
    r["summary"] = s
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "latest.json").write_text(json.dumps(r, indent=1) + "\n")
    (args.out / "latest.md").write_text(markdown(r, s))
    print(markdown(r, s))


if __name__ == "__main__":
    main()
