"""The DAG on Airflow's distributed executor: real api-server, scheduler, dag-processor and a
Celery worker (local Redis as broker, PostgreSQL as metadata DB), against the sandbox (issue 5).

Deselect locally with ``-m "not distributed"``; CI runs it. Every process it starts is in its own
process group and is killed at the end, whatever happens.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from benchmarks.cluster import Cluster, celery_env, free_port, meta_sql, redis_available, start_airflow, wait_for
from trident1_aiq.dev.demo import variable_env
from trident1_aiq.dev.local_airflow import create_pools
from trident1_aiq.settings.config import default_variable_text
from trident1_aiq.warehouse import Warehouse
from trident1_sandbox import data
from trident1_sandbox.data import DEFAULT_STORES, Volume

from ..factories import drop_pg_database, identity_snapshot, make_pg_database, require_postgres

pytestmark = [pytest.mark.integration, pytest.mark.distributed, pytest.mark.postgres]
REDIS_DB = 9


def make_pg_reference(tmp_path, cluster):
    name, url = make_pg_database()
    cluster.dbs.append(name)
    return url


def one_by_one(wh, sandbox_port, now, days):
    from trident1_aiq.ingest.client import Trident1Client
    from trident1_aiq.ingest.pipeline import ingest_credential, prepare_run, run_window
    from trident1_aiq.loyalty.points import run_loyalty
    from trident1_aiq.settings.config import demo_settings, trident1_credential

    settings = demo_settings({})
    prepare_run(wh, settings, now)
    for d in days:
        for name in ("acme", "bolt"):
            cred = trident1_credential(f"trident1_{name}", host=f"127.0.0.1:{sandbox_port}", schema="http", port=None,
                                       password=f"sandbox-{name}-key", extra={"store_name": name})
            ingest_credential(wh=wh, client=Trident1Client(cred), settings=settings, credential=f"trident1_{name}",
                              run_id=f"ref-{d}", window=run_window(d, settings.integration.lookback_hours, now),
                              now=now)
        run_loyalty(wh, settings, f"ref-{d}", now)


def test_dag_runs_on_celery_executor_and_loads_what_dag_test_would(tmp_path):
    require_postgres()
    if not redis_available():
        if os.environ.get("CI") == "true":
            pytest.fail("Redis at 127.0.0.1:6379 is required when CI=true")
        pytest.skip("Redis is not reachable at 127.0.0.1:6379")
    cluster = Cluster(tmp_path)
    meta_name, _ = make_pg_database()
    wh_name, wh_url = make_pg_database()
    api_port, sandbox_port = free_port(), free_port()
    queue = f"t1test-{uuid.uuid4().hex[:8]}"  # isolated from any other worker on this Redis
    now = datetime.now(UTC).replace(microsecond=0)
    day = now.date() - timedelta(days=1)
    sandbox_now = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    conn = {"conn_type": "http", "host": "127.0.0.1", "port": sandbox_port, "schema": "http"}
    env = celery_env(dict(os.environ), home=tmp_path / "home", meta_db=meta_name, warehouse_db=wh_name,
                     api_port=api_port, sandbox_port=sandbox_port, queue=queue, redis_db=REDIS_DB)
    env.update(variable_env())  # the demo's Variables, set explicitly (rule 7: no fall-back)
    for name in ("acme", "bolt"):
        env[f"AIRFLOW_CONN_TRIDENT1_{name.upper()}"] = json.dumps(
            dict(conn, password=f"sandbox-{name}-key", extra={"store_name": name}))
    airflow = [sys.executable, "-m", "airflow"]
    try:
        subprocess.run([*airflow, "db", "migrate"], env=env, check=True, timeout=300,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        create_pools(env)  # the DAG's tasks name them: without them the scheduler queues nothing
        cluster.start("sandbox", sys.executable, "-m", "trident1_sandbox", "--port", str(sandbox_port),
                      "--now", sandbox_now, env=env)
        start_airflow(cluster, env, meta_db=meta_name, api_port=api_port, queue=queue, workers=1, concurrency=2,
                      timeout=120)

        def sql(query):
            return meta_sql(meta_name, query)

        subprocess.run([*airflow, "dags", "unpause", "trident1_sales_daily"], env=env, check=True, timeout=120,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        subprocess.run([*airflow, "dags", "trigger", "trident1_sales_daily", "-c",
                        json.dumps({"business_date": day.isoformat()})], env=env, check=True, timeout=120,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def runs_done():
            states = [r[0] for r in sql("SELECT state FROM dag_run WHERE dag_id = 'trident1_sales_daily'")]
            return states if states and all(s in ("success", "failed") for s in states) else None

        states = wait_for("the DAG runs to finish", runs_done, 420, cluster)
        assert states and set(states) == {"success"}, cluster.logs()
        tasks = sql("SELECT COUNT(*) FROM task_instance WHERE state = 'success'")[0][0]
        worker_log = (tmp_path / "worker.log").read_text()
        assert worker_log.count("Executing workload in Celery") >= tasks >= 6  # every task ran on the worker

        # What dag.test() would have loaded: every valid served sale of a mapped location.
        mapped = {(m["credential"], m["location_id"]) for m in json.loads(default_variable_text("trident1_store_mappings"))}
        start = datetime.combine(day, datetime.min.time(), UTC) - timedelta(hours=48)
        pinned = datetime.fromisoformat(sandbox_now.replace("Z", "+00:00"))
        expected = sum(
            1 for name in ("acme", "bolt")
            for s in data.list_sales(DEFAULT_STORES[name], Volume(), start, start + timedelta(hours=72), pinned)
            if not s.get("_malformed") and (f"trident1_{name}", s["location_id"]) in mapped)
        wh = Warehouse(wh_url)
        with wh.begin() as c:
            loaded = wh.execute(c, "SELECT COUNT(*) FROM sales").scalar()
            ledger = wh.execute(c, "SELECT COUNT(*) FROM loyalty_ledger").scalar()
        assert loaded == expected > 100
        assert ledger > 0

        # Backfill: `airflow backfill create` over the three days before yields the same warehouse
        # as running the four days one by one (in order, in process).
        subprocess.run([*airflow, "backfill", "create", "--dag-id", "trident1_sales_daily",
                        "--from-date", (day - timedelta(days=3)).isoformat(),
                        "--to-date", (day - timedelta(days=1)).isoformat()],
                       env=env, check=True, timeout=120, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for("the backfill", lambda: len(runs_done() or []) >= len(states) + 3 and runs_done(), 600, cluster)
        assert set(runs_done()) == {"success"}, cluster.logs()
        assert {r[0] for r in sql("SELECT DISTINCT run_type FROM dag_run")} >= {"backfill"}
        ref = Warehouse(make_pg_reference(tmp_path, cluster))
        one_by_one(ref, sandbox_port, pinned, [day - timedelta(days=n) for n in (3, 2, 1, 0)])
        assert identity_snapshot(wh) == identity_snapshot(ref)  # ledger included
        ref.dispose()
        wh.dispose()
    finally:
        cluster.stop()
        for name in (meta_name, wh_name, *cluster.dbs):
            drop_pg_database(name)
        subprocess.run(["redis-cli", "-n", str(REDIS_DB), "del", queue], check=False, stdout=subprocess.DEVNULL)
