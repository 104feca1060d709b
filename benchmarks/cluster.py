"""A real Airflow on CeleryExecutor for the distributed test and ``make bench-fleet``.

The api-server, scheduler, dag-processor and Celery workers (local Redis as broker, PostgreSQL as
metadata DB), each started in its own process group and killed with it at the end, whatever
happens. Development tooling: not in the product package.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PG = "postgresql://postgres@127.0.0.1:5432"
AIRFLOW = (sys.executable, "-m", "airflow")
DAG_ID = "trident1_sales_daily"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def redis_available() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=2):
            return True
    except OSError:
        return False


class Cluster:
    """Processes started by name, each in its own session (process group), logs in ``tmp``."""

    def __init__(self, tmp: Path):
        self.tmp, self.procs, self.dbs = tmp, [], []

    def start(self, name: str, *args: str, env: dict[str, str]) -> subprocess.Popen:
        log = open(self.tmp / f"{name}.log", "w")  # noqa: SIM115 - closed with the process group
        proc = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.procs.append((name, proc, log))
        return proc

    def pid(self, name: str) -> int:
        return next(proc.pid for n, proc, _ in self.procs if n == name)

    def dead(self) -> list[str]:
        return [name for name, proc, _ in self.procs if proc.poll() is not None]

    def logs(self) -> str:
        return "\n".join(f"--- {n}\n" + (self.tmp / f"{n}.log").read_text()[-3000:] for n, _, _ in self.procs)

    def stop(self) -> None:
        for _, proc, _ in self.procs:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 20
        for _, proc, log in self.procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # the worker's forked children too
            except ProcessLookupError:
                pass
            log.close()


def wait_for(what: str, check: Callable[[], Any], timeout: float, cluster: Cluster, every: float = 2) -> Any:
    """``check()``'s first truthy result within ``timeout`` seconds, else TimeoutError with the logs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(every)
    raise TimeoutError(f"timed out waiting for {what}\n{cluster.logs()}")


def celery_env(base: dict[str, str], *, home: Path, meta_db: str, warehouse_db: str, api_port: int,
               sandbox_port: int, queue: str, redis_db: int) -> dict[str, str]:
    """Every component's environment: one home, the metadata DB, Redis, one Celery queue of its own
    (isolated from any other worker on this Redis), the project's folders, the warehouse and the
    SMS gateway Connections. The Trident1 Connections and the Variables are the caller's."""
    env = {k: v for k, v in base.items() if not k.startswith(("AIRFLOW", "PYTEST"))}
    env.update({
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"postgresql+psycopg2://postgres@127.0.0.1:5432/{meta_db}",
        "AIRFLOW__CELERY__BROKER_URL": f"redis://127.0.0.1:6379/{redis_db}",
        "AIRFLOW__OPERATORS__DEFAULT_QUEUE": queue,
        "AIRFLOW__CELERY__RESULT_BACKEND": f"db+postgresql://postgres@127.0.0.1:5432/{meta_db}",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port}/execution/",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(api_port),
        "AIRFLOW__API_AUTH__JWT_SECRET": uuid.uuid4().hex,
        "AIRFLOW__CORE__AUTH_MANAGER":
            "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
        "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        "PYTHONPATH": str(ROOT / "plugins"),
        "GX_ANALYTICS_ENABLED": "false",
        "AIRFLOW_CONN_WAREHOUSE_DEFAULT": json.dumps({"conn_type": "postgres", "host": "127.0.0.1", "port": 5432,
                                                      "login": "postgres", "schema": warehouse_db}),
        "AIRFLOW_CONN_AIQ_SMS_DEFAULT": json.dumps({"conn_type": "http", "host": "127.0.0.1", "port": sandbox_port,
                                                    "schema": "http", "password": "sandbox-sms-token"}),
    })
    return env


def api_up(port: int) -> bool:
    import requests

    try:
        return requests.get(f"http://127.0.0.1:{port}/api/v2/version", timeout=2).ok
    except requests.RequestException:
        return False


def airflow_cli(env: dict[str, str], *args: str, timeout: float = 300) -> None:
    subprocess.run([*AIRFLOW, *args], env=env, check=True, timeout=timeout,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def meta_sql(meta_db: str, query: str, params: tuple = ()) -> list[tuple]:
    """Rows of ``query`` on the metadata DB (one short connection)."""
    import psycopg

    with psycopg.connect(f"{PG}/{meta_db}") as c:
        return c.execute(query, params).fetchall()


def start_airflow(cluster: Cluster, env: dict[str, str], *, meta_db: str, api_port: int, queue: str,
                  workers: int = 1, concurrency: int = 2, timeout: float = 180) -> None:
    """The api-server, scheduler, dag-processor and ``workers`` Celery workers on ``queue``; returns
    once the api-server answers and the DAG is parsed. The metadata DB must be migrated."""
    cluster.start("api-server", *AIRFLOW, "api-server", "--port", str(api_port), env=env)
    cluster.start("scheduler", *AIRFLOW, "scheduler", env=env)
    cluster.start("dag-processor", *AIRFLOW, "dag-processor", env=env)
    for n in range(workers):
        name = "worker" if workers == 1 else f"worker{n + 1}"
        # Two workers on one host need their own Celery names and log-server ports.
        wenv = env | {"AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port())}
        cluster.start(name, *AIRFLOW, "celery", "worker", "--concurrency", str(concurrency), "--queues", queue,
                      "--celery-hostname", f"{name}-{queue}@%h", env=wenv)
    wait_for("the api-server", lambda: api_up(api_port), timeout, cluster)
    wait_for("the DAG to be parsed", lambda: meta_sql(meta_db, "SELECT 1 FROM dag WHERE dag_id = %s", (DAG_ID,)),
             timeout, cluster)
