"""``make bench-fleet``: one daily run of N Trident1 accounts through a real Airflow (issue 18).

For each N of ``--sizes`` (default 20,200,2000), from nothing:

* the sandbox (its own process) serving N franchisee accounts ``f0001``… (``--accounts N``), each
  ringing a log-uniform number of sales in ``--account-sales MIN:MAX`` (default 100:2000) on the
  business day only (yesterday, UTC), its clock pinned;
* a fresh PostgreSQL metadata DB and warehouse; the four Variables (N credentials, each account's
  location mapped) and N ``trident1_fNNNN`` Connections stored in the metadata DB as a deployment
  would (``airflow variables import`` / ``connections import``), the DAG's pools;
* the api-server, scheduler, dag-processor and ``--workers`` (2) Celery workers of ``--concurrency``
  (2) slots each, Redis as broker (a queue of its own);
* the DAG unpaused through the REST API: the scheduler starts the one daily run of yesterday
  (catchup off), which is waited for.

Measured: the run's wall time (dag_run start → end); CPU seconds of each component's process tree
(user + system of every live process and of its reaped children, from /proc via psutil, sampled
before the unpause and after the run: the workers' trees hold every task process); per credential
the workers' CPU and the run's wall ÷ N; the grid endpoints the UI calls for that run
(``/ui/grid/structure``, ``/ui/grid/runs``, ``/ui/grid/ti_summaries``), logged in as a user of
Airflow's simple auth manager; warehouse lock waits sampled every 0.5 s from ``pg_locks`` ⋈
``pg_stat_activity`` (backends waiting for a lock, the longest wait); and the sales loaded, which
must equal what the sandbox serves (its valid sales, computed from the same seeds).

Results merge into ``benchmarks/results/fleet.json`` (one entry per N and sales mix; ``--fresh``
starts over) and ``fleet.md`` is rewritten from all of them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import statistics
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
for _p in (ROOT, ROOT / "plugins"):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

from benchmarks.cluster import (  # noqa: E402
    DAG_ID,
    PG,
    Cluster,
    airflow_cli,
    celery_env,
    free_port,
    meta_sql,
    redis_available,
    start_airflow,
    wait_for,
)

RESULTS = ROOT / "benchmarks" / "results"
STORES = ("den-downtown", "nyc-soho", "la-venice", "chi-loop")
REDIS_DB = 11
#: Issue 18's target: CPU-seconds per credential at the largest N ≤ this × the figure at N = 20.
FLAT_TARGET = 1.2
BASE_N = 20
COMPONENTS = ("scheduler", "dag-processor", "api-server", "sandbox")


# ----------------------------------------------------------------------------- sampling


def tree_cpu(pid: int) -> float:
    """CPU seconds of ``pid``'s process tree so far: user + system of every live process in it and
    of the children each has reaped (a finished task process counts in its supervisor's)."""
    import psutil

    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0.0
    for p in procs:
        try:
            t = p.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += t.user + t.system + t.children_user + t.children_system
    return total


class DatabaseSampler(threading.Thread):
    """Every ``every`` s: the warehouse's backends waiting for a lock (``pg_locks.granted = false``)
    and how long the longest has waited (``waitstart``); and the CPU seconds of every backend
    serving the warehouse or the metadata DB (the most seen of each pid: a backend's work after its
    last sample is missed, so the figures are lower bounds)."""

    LOCKS = ("SELECT COUNT(DISTINCT l.pid), COALESCE(EXTRACT(EPOCH FROM MAX(now() - l.waitstart)), 0) "
             "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
             "WHERE NOT l.granted AND a.datname = %s")
    BACKENDS = "SELECT pid, datname FROM pg_stat_activity WHERE datname = ANY(%s) AND pid <> pg_backend_pid()"

    def __init__(self, warehouse: str, meta: str, every: float = 0.5):
        super().__init__(daemon=True)
        self.warehouse, self.meta, self.every = warehouse, meta, every
        self.samples: list[tuple[int, float]] = []
        self.backend_cpu: dict[int, tuple[str, float]] = {}
        self.halt = threading.Event()

    def run(self) -> None:
        import psutil
        import psycopg

        with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
            while not self.halt.is_set():
                waiting, longest = conn.execute(self.LOCKS, (self.warehouse,)).fetchone()
                self.samples.append((int(waiting), float(longest)))
                for pid, db in conn.execute(self.BACKENDS, ([self.warehouse, self.meta],)).fetchall():
                    try:
                        t = psutil.Process(pid).cpu_times()
                    except (psutil.NoSuchProcess, psutil.AccessDenied):
                        continue
                    self.backend_cpu[pid] = (db, max(self.backend_cpu.get(pid, (db, 0.0))[1], t.user + t.system))
                self.halt.wait(self.every)

    def stop(self) -> dict[str, Any]:
        self.halt.set()
        self.join(timeout=10)
        return lock_summary(self.samples)

    def cpu(self) -> dict[str, float]:
        """CPU seconds of the backends of each database (lower bounds; see the class)."""
        out = {"warehouse": 0.0, "metadata": 0.0}
        for db, seconds in self.backend_cpu.values():
            out["warehouse" if db == self.warehouse else "metadata"] += seconds
        return {k: round(v, 1) for k, v in out.items()}


def machine_busy() -> float:
    """CPU seconds the whole machine has been busy (every process, ours or not: /proc/stat)."""
    import psutil

    t = psutil.cpu_times()
    return t.user + t.nice + t.system + t.irq + t.softirq + t.steal


def lock_summary(samples: list[tuple[int, float]]) -> dict[str, Any]:
    with_waits = [s for s in samples if s[0]]
    return {
        "samples": len(samples),
        "samples_with_waiters": len(with_waits),
        "max_waiting": max((s[0] for s in samples), default=0),
        "mean_waiting": round(statistics.fmean(s[0] for s in samples), 3) if samples else 0.0,
        "max_wait_s": round(max((s[1] for s in samples), default=0.0), 2),
    }


# ----------------------------------------------------------------------------- the fleet's configuration


def parse_mix(text: str) -> tuple[int, int]:
    lo, hi = (int(x) for x in text.split(":"))
    if not 0 < lo <= hi:
        raise argparse.ArgumentTypeError(f"--account-sales {text!r}: want MIN:MAX with 0 < MIN <= MAX")
    return lo, hi


def fleet_config(n: int, sandbox_port: int, integration: dict[str, Any]) -> tuple[dict[str, str], dict[str, Any]]:
    """The four Variables and the N Trident1 Connections, as ``airflow variables/connections import`` files."""
    from trident1_aiq.dev.demo import fleet_variables

    accounts = [f"f{k:04d}" for k in range(1, n + 1)]
    variables = fleet_variables(accounts, list(STORES), integration)
    connections = {f"trident1_{a}": {"conn_type": "http", "host": "127.0.0.1", "port": sandbox_port,
                                     "schema": "http", "password": f"sandbox-{a}-key",
                                     "extra": json.dumps({"store_name": a})} for a in accounts}
    return variables, connections


def served_sales(n: int, mix: tuple[int, int], day, lookback_hours: int, now: datetime,
                 malformed_rate: float) -> tuple[int, int]:
    """(valid sales the sandbox serves in the run's window over all N accounts, all sales served)."""
    from trident1_sandbox import data

    stores = data.fleet_stores(n, min_sales=mix[0], max_sales=mix[1])
    volume = data.Volume(malformed_rate=malformed_rate, first_day=day.isoformat(), last_day=day.isoformat())
    start = datetime.combine(day, datetime.min.time(), UTC)
    since, before = start - timedelta(hours=lookback_hours), start + timedelta(days=1)
    valid = total = 0
    for store in stores.values():
        for s in data.list_sales(store, volume, since, before, now):
            total += 1
            valid += not s.get("_malformed")
        data.customer.cache_clear()
    return valid, total


# ----------------------------------------------------------------------------- the REST API


class Api:
    """The api-server as the UI sees it: a user's token from the simple auth manager's login."""

    def __init__(self, port: int, home: Path):
        import requests

        self.base, self.session = f"http://127.0.0.1:{port}", requests.Session()
        password = json.loads((home / "simple_auth_manager_passwords.json.generated").read_text())["admin"]
        r = self.session.post(f"{self.base}/auth/token", json={"username": "admin", "password": password}, timeout=30)
        r.raise_for_status()
        self.session.headers["Authorization"] = f"Bearer {r.json()['access_token']}"

    def call(self, method: str, path: str, **kw) -> Any:
        r = self.session.request(method, f"{self.base}{path}", timeout=120, **kw)
        r.raise_for_status()
        return r

    def grid_ms(self, run_id: str, repeats: int = 3) -> dict[str, float]:
        """Median response time (ms, body read) of each grid call the UI makes for the run's page."""
        calls = {
            "structure": (f"/ui/grid/structure/{DAG_ID}", {"limit": 10}),
            "runs": (f"/ui/grid/runs/{DAG_ID}", {"limit": 10}),
            "ti_summaries": (f"/ui/grid/ti_summaries/{DAG_ID}", {"run_ids": [run_id]}),
        }
        out: dict[str, list[float]] = {k: [] for k in calls}
        for _ in range(repeats):
            for name, (path, params) in calls.items():
                t = time.perf_counter()
                body = self.call("GET", path, params=params).content
                out[name].append((time.perf_counter() - t) * 1000)
                if name == "ti_summaries" and run_id.encode() not in body:
                    raise RuntimeError(f"the grid's task summaries do not hold run {run_id}")
        medians = {k: round(statistics.median(v), 1) for k, v in out.items()}
        medians["total"] = round(sum(medians.values()), 1)
        return medians


# ----------------------------------------------------------------------------- one size


def run_size(n: int, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    import psycopg

    from trident1_aiq.dev.local_airflow import create_pools
    from trident1_aiq.warehouse import Warehouse

    mix = args.account_sales
    tag = f"fleetbench_{n}_{uuid.uuid4().hex[:6]}"
    meta_db, wh_db = f"{tag}_meta", f"{tag}_wh"
    work.mkdir(parents=True, exist_ok=True)
    cluster = Cluster(work)
    api_port, sandbox_port = free_port(), free_port()
    queue = tag.replace("_", "-")
    now = datetime.now(UTC).replace(microsecond=0)
    day = now.date() - timedelta(days=1)
    load_start = os.getloadavg()
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as c:
        for db in (meta_db, wh_db):
            c.execute(f'CREATE DATABASE "{db}"')
    env = celery_env(dict(os.environ), home=work / "home", meta_db=meta_db, warehouse_db=wh_db, api_port=api_port,
                     sandbox_port=sandbox_port, queue=queue, redis_db=REDIS_DB)
    env |= {"AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin"}
    integration = {k: v for k, v in {"max_shards": args.max_shards, "chunk_size": args.chunk_size,
                                     "max_reject_rate": args.max_reject_rate}.items() if v is not None}
    variables, connections = fleet_config(n, sandbox_port, integration)
    lookback = json.loads(variables["trident1_integration"])["lookback_hours"]
    (work / "variables.json").write_text(json.dumps(variables))
    (work / "connections.json").write_text(json.dumps(connections))
    result: dict[str, Any] = {"n": n, "account_sales": f"{mix[0]}:{mix[1]}", "business_date": day.isoformat(),
                              "workers": args.workers, "concurrency": args.concurrency,
                              "started": now.isoformat(),
                              "settings": settings_of(variables, env) | {"malformed_rate": args.malformed_rate}}
    try:
        t = time.perf_counter()
        airflow_cli(env, "db", "migrate", timeout=600)
        airflow_cli(env, "variables", "import", str(work / "variables.json"))
        airflow_cli(env, "connections", "import", str(work / "connections.json"), timeout=900)
        create_pools(env)
        result["setup_s"] = round(time.perf_counter() - t, 1)
        cluster.start("sandbox", sys.executable, "-m", "trident1_sandbox", "--port", str(sandbox_port),
                      "--now", now.strftime("%Y-%m-%dT%H:%M:%SZ"), "--malformed-rate", str(args.malformed_rate),
                      "--accounts", str(n), "--account-sales", f"{mix[0]}:{mix[1]}",
                      "--first-day", day.isoformat(), "--last-day", day.isoformat(), env=env)
        start_airflow(cluster, env, meta_db=meta_db, api_port=api_port, queue=queue, workers=args.workers,
                      concurrency=args.concurrency, timeout=300)
        api = Api(api_port, work / "home")
        workers = [name for name, _, _ in cluster.procs if name.startswith("worker")]
        wait_for("the workers", lambda: all("ready" in (work / f"{w}.log").read_text() for w in workers), 180,
                 cluster)
        time.sleep(5)  # let the components settle: their start-up is not the run's cost
        names = [*COMPONENTS, *workers]
        cpu0 = {name: tree_cpu(cluster.pid(name)) for name in names}
        machine0 = machine_busy()
        db = DatabaseSampler(wh_db, meta_db)
        db.start()
        t0 = time.perf_counter()
        api.call("PATCH", f"/api/v2/dags/{DAG_ID}", json={"is_paused": False})
        try:
            run_id = wait_for("the scheduled run", lambda: meta_sql(
                meta_db, "SELECT run_id FROM dag_run WHERE dag_id = %s", (DAG_ID,)), 90, cluster, every=1)[0][0]
        except TimeoutError:  # no scheduled run (an interval not yet due?): trigger the day by hand
            run_id = api.call("POST", f"/api/v2/dags/{DAG_ID}/dagRuns", json={
                "logical_date": None, "conf": {"business_date": day.isoformat()}}).json()["dag_run_id"]
            result["triggered"] = "manual"

        def finished():
            if cluster.dead():
                raise RuntimeError(f"{', '.join(cluster.dead())} died\n{cluster.logs()}")
            rows = meta_sql(meta_db, "SELECT state FROM dag_run WHERE run_id = %s", (run_id,))
            return rows[0][0] if rows and rows[0][0] in ("success", "failed") else None

        state = wait_for(f"run {run_id}", finished, args.timeout, cluster, every=2)
        observed = time.perf_counter() - t0
        cpu1 = {name: tree_cpu(cluster.pid(name)) for name in names}
        result["locks"] = db.stop()
        result["postgres_cpu_s"] = db.cpu()
        result["machine_busy_cpu_s"] = round(machine_busy() - machine0, 1)
        result["load_avg"] = {"start": [round(x, 2) for x in load_start],
                              "end": [round(x, 2) for x in os.getloadavg()]}
        cpu = {name: round(cpu1[name] - cpu0[name], 1) for name in names}
        (start, end), = meta_sql(meta_db, "SELECT start_date, end_date FROM dag_run WHERE run_id = %s", (run_id,))
        result |= {"run_id": run_id, "state": state, "wall_s": round((end - start).total_seconds(), 1),
                   "observed_s": round(observed, 1), "cpu_s": cpu,
                   "worker_cpu_s": round(sum(cpu[w] for w in workers), 1)}
        tis = meta_sql(meta_db, "SELECT task_id, map_index, state, try_number, "
                                "EXTRACT(EPOCH FROM end_date - start_date)::float FROM task_instance "
                                "WHERE run_id = %s", (run_id,))
        result["tasks"] = task_summary(tis)
        result["grid_ms"] = api.grid_ms(run_id)
        wh = Warehouse(f"postgresql+psycopg://postgres@127.0.0.1:5432/{wh_db}")
        try:
            with wh.begin() as c:
                result["sales_loaded"] = wh.execute(c, "SELECT COUNT(*) FROM sales").scalar()
                result["rows"] = {  # what loyalty and opt_in worked through (each one run-wide task)
                    "personas": wh.execute(c, "SELECT COUNT(*) FROM personas").scalar(),
                    "ledger": wh.execute(c, "SELECT COUNT(*) FROM loyalty_ledger").scalar(),
                    "opt_in_requests": wh.execute(c, "SELECT COUNT(*) FROM opt_in_requests").scalar(),
                    "opt_ins_sent": wh.execute(
                        c, "SELECT COUNT(*) FROM opt_in_requests WHERE status = 'sent'").scalar(),
                }
                result["warehouse_mb"] = round(
                    wh.execute(c, "SELECT pg_database_size(current_database())").scalar() / 2**20, 1)
                runs = wh.execute(c, "SELECT status, COUNT(*), SUM(sales_read), "
                                     "AVG(EXTRACT(EPOCH FROM finished_at - started_at)) FROM etl_runs "
                                     "WHERE credential LIKE 'trident1_f%' GROUP BY status").all()
        finally:
            wh.dispose()
        result["credentials"] = {r[0]: r[1] for r in runs}
        result["sales_read"] = int(sum(r[2] or 0 for r in runs))
        result["ingest_s_per_credential"] = round(
            sum(float(r[3] or 0) * r[1] for r in runs) / max(1, sum(r[1] for r in runs)), 3)
        result["sales_served"], result["sales_served_all"] = served_sales(
            n, mix, day, lookback, now, args.malformed_rate)
        result |= derived(result)
        return result
    finally:
        cluster.stop()
        if not args.keep:
            with psycopg.connect(f"{PG}/postgres", autocommit=True) as c:
                for db in (meta_db, wh_db):
                    c.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        import subprocess

        subprocess.run(["redis-cli", "-n", str(REDIS_DB), "del", queue], check=False, stdout=subprocess.DEVNULL)


def settings_of(variables: dict[str, str], env: dict[str, str]) -> dict[str, Any]:
    """What sizes the run: the integration settings that shape shards and chunks, the pools and shard concurrency."""
    from trident1_aiq.airflow.pools import MAX_ACTIVE_SHARDS, POOL_SLOTS
    from trident1_aiq.settings.config import load_settings

    integ = load_settings(variables).integration
    return {"max_shards": integ.max_shards, "chunk_size": integ.chunk_size, "max_reject_rate": integ.max_reject_rate,
            "pools": dict(POOL_SLOTS),
            "max_active_shards": int(env.get("AIRFLOW__TRIDENT1__MAX_ACTIVE_SHARDS", MAX_ACTIVE_SHARDS))}


def task_summary(rows: list[tuple]) -> dict[str, Any]:
    """Per task id: instances, their states, try count, total and longest duration (s)."""
    out: dict[str, Any] = {}
    for task_id, _map_index, state, tries, seconds in rows:
        t = out.setdefault(task_id, {"instances": 0, "states": {}, "tries": 0, "sum_s": 0.0, "max_s": 0.0})
        t["instances"] += 1
        t["states"][state] = t["states"].get(state, 0) + 1
        t["tries"] += tries or 0
        t["sum_s"] = round(t["sum_s"] + (seconds or 0), 1)
        t["max_s"] = round(max(t["max_s"], seconds or 0), 1)
    return out


def airflow_cpu(r: dict[str, Any]) -> float:
    """CPU seconds of every Airflow component: workers, scheduler, dag-processor, api-server."""
    return r["worker_cpu_s"] + sum(r["cpu_s"][c] for c in ("scheduler", "dag-processor", "api-server"))


def derived(r: dict[str, Any]) -> dict[str, Any]:
    n, sales = r["n"], max(1, r["sales_loaded"])
    return {
        "cpu_per_credential_s": round(r["worker_cpu_s"] / n, 3),
        "wall_per_credential_s": round(r["wall_s"] / n, 3),
        "cpu_per_sale_ms": round(r["worker_cpu_s"] / sales * 1000, 3),
        "sales_per_credential": round(r["sales_loaded"] / n, 1),
        "loaded_equals_served": r["sales_loaded"] == r["sales_served"],
    }


# ----------------------------------------------------------------------------- the report


def flat_cost(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per sales mix with N = 20 and a larger N measured: CPU/credential at the largest ÷ at 20."""
    out = []
    for mix in sorted({r["account_sales"] for r in runs}):
        by_n = {r["n"]: r for r in runs if r["account_sales"] == mix and r.get("state") == "success"}
        top = max(by_n, default=0)
        if BASE_N in by_n and top > BASE_N:
            base, big = by_n[BASE_N], by_n[top]
            ratio = big["cpu_per_credential_s"] / base["cpu_per_credential_s"]
            per_sale = big["cpu_per_sale_ms"] / base["cpu_per_sale_ms"]
            out.append({"account_sales": mix, "n": top, "ratio": round(ratio, 3),
                        "per_sale_ratio": round(per_sale, 3), "met": ratio <= FLAT_TARGET})
    return out


def split_costs(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Where one N was run with a tiny mix (≤ 3 sales per account) and a real one: the fixed CPU per
    credential (the tiny run's, its few sales included) and the marginal CPU per sale beyond it."""
    out = []
    ok = [r for r in runs if r.get("state") == "success"]
    for n in sorted({r["n"] for r in ok}):
        tiny = [r for r in ok if r["n"] == n and int(r["account_sales"].split(":")[1]) <= 3]
        real = [r for r in ok if r["n"] == n and int(r["account_sales"].split(":")[1]) > 3]
        for t in tiny:
            for big in real:
                extra_sales = big["sales_per_credential"] - t["sales_per_credential"]
                per_sale = (big["cpu_per_credential_s"] - t["cpu_per_credential_s"]) / max(1.0, extra_sales)
                out.append({"n": n, "fixed_cpu_per_credential_s": t["cpu_per_credential_s"],
                            "cpu_per_sale_ms": round(per_sale * 1000, 3), "mix": big["account_sales"]})
    return out


def fmt(seconds: float | None) -> str:
    return "–" if seconds is None else f"{seconds:,.1f}"


def markdown(result: dict[str, Any]) -> str:
    runs = sorted(result["runs"], key=lambda r: (r["account_sales"], r["n"]))
    lines = [
        "# Fleet benchmark (`make bench-fleet`, benchmarks/fleet.py)",
        "",
        "One daily run of N sandbox accounts through the real api-server, scheduler, dag-processor and "
        "CeleryExecutor (Redis), PostgreSQL as metadata DB and warehouse, on one machine "
        f"({result['machine']['cpus']} CPUs, Python {result['machine']['python']}). Each run starts from "
        "empty databases; sales are rung on the business day only. CPU is the workers' process trees "
        "(every task process) between the unpause and the run's end; wall is the dag_run's start → end. "
        "The machine is shared with other jobs: see the load averages.",
        "",
        "| N | sales/account | sales loaded (= served) | shards | run wall s | wall/cred s | CPU/cred s "
        "| Airflow CPU/cred s | CPU/sale ms | grid ms (struct/runs/TIs) | lock waits: max waiting, max s "
        "| load avg start→end | state |",
        "|" + "---:|" * 12 + "---|",
    ]
    for r in runs:
        g, lk = r["grid_ms"], r["locks"]
        shards = r["tasks"].get("ingest", {}).get("instances", 0)
        same = "=" if r["loaded_equals_served"] else "≠"
        lines.append(
            f"| {r['n']:,} | {r['account_sales']} (mean {r['sales_per_credential']:,.0f}) "
            f"| {r['sales_loaded']:,} {same} {r['sales_served']:,} | {shards} | {r['wall_s']:,.1f} "
            f"| {r['wall_per_credential_s']:.3f} | {r['cpu_per_credential_s']:.3f} "
            f"| {airflow_cpu(r) / r['n']:.3f} | {r['cpu_per_sale_ms']:.3f} "
            f"| {g['total']:,.0f} ({g['structure']:,.0f}/{g['runs']:,.0f}/{g['ti_summaries']:,.0f}) "
            f"| {lk['max_waiting']}, {lk['max_wait_s']:.1f} "
            f"| {r['load_avg']['start'][0]:.2f}→{r['load_avg']['end'][0]:.2f} | {r['state']} |")
    lines += ["", "CPU seconds by component over the run (PostgreSQL backends: lower bounds, sampled; "
              "machine: every process on it, other jobs' included):", "",
              "| N | sales/account | workers | scheduler | dag-processor | api-server | sandbox "
              "| PG warehouse | PG metadata | machine busy | wall × CPUs |", "|---:|---|" + "---:|" * 9]
    for r in runs:
        cpu, pg = r["cpu_s"], r.get("postgres_cpu_s") or {}
        wh_cpu, meta_cpu, busy = (fmt(pg.get("warehouse")), fmt(pg.get("metadata")),
                                  fmt(r.get("machine_busy_cpu_s")))
        lines.append(f"| {r['n']:,} | {r['account_sales']} | {r['worker_cpu_s']:,.1f} | {cpu['scheduler']:,.1f} "
                     f"| {cpu['dag-processor']:,.1f} | {cpu['api-server']:,.1f} | {cpu['sandbox']:,.1f} "
                     f"| {wh_cpu} | {meta_cpu} | {busy} "
                     f"| {r['wall_s'] * result['machine']['cpus']:,.0f} |")
    lines += ["", "Task durations (s; sum over a task's instances / longest):", "",
              "| N | sales/account | check_config | ingest shards: n, sum, max | loyalty | opt_in | run_report "
              "| ingest per credential (etl_runs) | personas | ledger entries | opt-in requests (sent) "
              "| warehouse MB |", "|---:|---|" + "---:|" * 10]
    for r in runs:
        t = r["tasks"]

        def one(task: str, tasks: dict = t) -> str:
            return f"{tasks[task]['max_s']:,.1f}" if task in tasks else "–"

        counted = r.get("rows") or {}

        def count(what: str, rows: dict = counted) -> str:
            return f"{rows[what]:,}" if what in rows else "–"

        ing = t.get("ingest", {"instances": 0, "sum_s": 0, "max_s": 0})
        lines.append(f"| {r['n']:,} | {r['account_sales']} | {one('check_config')} "
                     f"| {ing['instances']}, {ing['sum_s']:,.1f}, {ing['max_s']:,.1f} | {one('loyalty')} "
                     f"| {one('opt_in')} | {one('run_report')} | {r['ingest_s_per_credential']:.3f} "
                     f"| {count('personas')} | {count('ledger')} | {count('opt_in_requests')} ({count('opt_ins_sent')}) "
                     f"| {fmt(r.get('warehouse_mb'))} |")
    lines += ["", "Settings of each run (Celery workers × slots; trident1_integration; pools; "
              "[trident1] max_active_shards):", "",
              "| N | sales/account | workers × slots | max_shards | chunk_size | max_reject_rate "
              "| pools api / warehouse | max_active_shards | sandbox malformed rate |",
              "|---:|---|" + "---:|" * 7]
    for r in runs:
        st = r.get("settings") or {}
        pools = st.get("pools", {})
        lines.append(f"| {r['n']:,} | {r['account_sales']} | {r['workers']} × {r['concurrency']} "
                     f"| {st.get('max_shards', '–')} | {st.get('chunk_size', '–')} | {st.get('max_reject_rate', '–')} "
                     f"| {pools.get('trident1_api', '–')} / {pools.get('trident1_warehouse', '–')} "
                     f"| {st.get('max_active_shards', '–')} | {st.get('malformed_rate', '–')} |")
    lines += ["", "## Flat cost per credential (issue 18: CPU/credential at the largest N ≤ "
              f"{FLAT_TARGET} × at N = {BASE_N}, same sales mix)", ""]
    flats = flat_cost(runs)
    if not flats:
        lines.append(f"Not measured: no sales mix has both N = {BASE_N} and a larger N.")
    for f in flats:
        lines.append(f"* {f['account_sales']}: N = {f['n']:,} ÷ N = {BASE_N}: **{f['ratio']:.2f}** "
                     f"({'met' if f['met'] else 'not met'}); per sale {f['per_sale_ratio']:.2f} "
                     "(the samples' mean sales per account differ).")
    splits = split_costs(runs)
    if splits:
        lines += ["", "## Fixed and per-sale cost", ""]
        for s in splits:
            lines.append(f"* N = {s['n']:,}: {s['fixed_cpu_per_credential_s']:.3f} CPU-s per credential with "
                         f"≤ 3 sales; each further sale of the {s['mix']} mix {s['cpu_per_sale_ms']:.3f} CPU-ms.")
    if result.get("notes"):
        lines += ["", "## Notes", "", *[f"* {n}" for n in result["notes"]]]
    return "\n".join(lines) + "\n"


def write_results(out: Path, result: dict[str, Any]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "fleet.json").write_text(json.dumps(result, indent=2, default=str) + "\n")
    (out / "fleet.md").write_text(markdown(result))


def merge(previous: dict[str, Any] | None, new: list[dict[str, Any]]) -> dict[str, Any]:
    """``previous``'s runs with ``new`` replacing any of the same N and sales mix."""
    keys = {(r["n"], r["account_sales"]) for r in new}
    kept = [r for r in (previous or {}).get("runs", []) if (r["n"], r["account_sales"]) not in keys]
    return {"machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
            "notes": (previous or {}).get("notes", []), "runs": kept + new}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="20,200,2000", help="numbers of accounts, one run each (default 20,200,2000)")
    p.add_argument("--account-sales", type=parse_mix, default=(100, 2000), metavar="MIN:MAX",
                   help="each account's sales on the day, log-uniform (default 100:2000)")
    p.add_argument("--workers", type=int, default=2, help="Celery workers (default 2)")
    p.add_argument("--concurrency", type=int, default=2, help="task slots per Celery worker (default 2)")
    p.add_argument("--max-shards", type=int, default=None, help="trident1_integration.max_shards (default: 64)")
    p.add_argument("--chunk-size", type=int, default=None, help="trident1_integration.chunk_size (default: 10,000)")
    p.add_argument("--malformed-rate", type=float, default=0.02, help="the sandbox's share of malformed records")
    p.add_argument("--max-reject-rate", type=float, default=0.2,
                   help="trident1_integration.max_reject_rate (default 0.2: at the sandbox's 2%% malformed records "
                        "the product's 0.05 fails a small account's day by chance)")
    p.add_argument("--timeout", type=float, default=4 * 3600, help="seconds to wait for a run (default 4 h)")
    p.add_argument("--out", type=Path, default=RESULTS)
    p.add_argument("--work", type=Path, default=None, help="logs and Airflow homes (default: a temporary folder)")
    p.add_argument("--keep", action="store_true", help="keep the databases (their names are in the results)")
    p.add_argument("--fresh", action="store_true", help="drop the earlier results of fleet.json")
    p.add_argument("--note", action="append", default=[], help="a line for fleet.md's notes")
    args = p.parse_args(argv)
    # SIGTERM (kill, or a job's end) unwinds like Ctrl-C: the components stop, the databases are dropped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    sizes = [int(s) for s in args.sizes.split(",") if s]
    if not redis_available():
        print("Redis is not reachable at 127.0.0.1:6379", file=sys.stderr)
        return 1
    work = args.work or Path(tempfile.mkdtemp(prefix="fleetbench-"))
    previous = None if args.fresh or not (args.out / "fleet.json").exists() else json.loads(
        (args.out / "fleet.json").read_text())
    done: list[dict[str, Any]] = []
    for n in sizes:
        print(f"fleet: N = {n:,}, {args.account_sales[0]}:{args.account_sales[1]} sales per account; logs in "
              f"{work / f'n{n}'} ...", flush=True)
        r = run_size(n, args, work / f"n{n}")
        print(f"fleet: N = {n:,}: {r['state']} in {r['wall_s']:,.1f} s, {r['cpu_per_credential_s']:.3f} CPU-s and "
              f"{r['wall_per_credential_s']:.3f} s per credential, {r['sales_loaded']:,} sales "
              f"(served {r['sales_served']:,}), grid {r['grid_ms']['total']:,.0f} ms", flush=True)
        done.append(r)
        result = merge(previous, done)
        result["notes"] = result["notes"] + [n_ for n_ in args.note if n_ not in result["notes"]]
        write_results(args.out, result)  # after each size: a later one's failure keeps what was measured
    bad = [r for r in done if r["state"] != "success" or not r["loaded_equals_served"]]
    for r in bad:
        print(f"fleet: N = {r['n']:,}: state {r['state']}, loaded {r['sales_loaded']:,} vs served "
              f"{r['sales_served']:,}", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
