"""``python -m trident1_aiq demo``: the whole DAG on the embedded default, end to end.

Starts the sandbox in-process, points the Connections at it and sets the demo's
Variables from ``config/`` (environment variables, as a deployment may), runs ``trident1_sales_daily`` with
``dag.test(use_executor=True)`` for yesterday (UTC), a run like any other in Airflow's grid (:func:`run_dag`),
and prints what was loaded and quarantined.
Needs a migrated Airflow metadata DB (``make run`` does ``airflow db migrate``).
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from trident1_aiq.paths import REPO_ROOT as ROOT


def connection_env(sandbox_url: str, warehouse_path: Path,
                   accounts: Iterable[str] = ("acme", "bolt")) -> dict[str, str]:
    """The sandbox's Connections as ``AIRFLOW_CONN_*``: the warehouse, the SMS gateway and one
    ``trident1_<account>`` per sandbox account (its key ``sandbox-<account>-key``)."""
    host, port = sandbox_url.removeprefix("http://").split(":")
    env = {
        "AIRFLOW_CONN_WAREHOUSE_DEFAULT": json.dumps({"conn_type": "sqlite", "host": str(warehouse_path)}),
        "AIRFLOW_CONN_AIQ_SMS_DEFAULT": json.dumps({"conn_type": "http", "host": host, "port": int(port),
                                                    "schema": "http", "password": "sandbox-sms-token"}),
    }
    for name in accounts:
        env[f"AIRFLOW_CONN_TRIDENT1_{name.upper()}"] = json.dumps({
            "conn_type": "http", "host": host, "port": int(port), "schema": "http",
            "password": f"sandbox-{name}-key", "extra": {"store_name": name}})
    return env


def variable_env() -> dict[str, str]:
    """The demo's four Variables (the files of ``config/``) as ``AIRFLOW_VAR_*`` environment
    variables: the demo asks for the starting values explicitly; a deployment never gets them
    by default (rule 7)."""
    from trident1_aiq.settings.config import demo_variables

    return {f"AIRFLOW_VAR_{name.upper()}": text for name, text in demo_variables().items()}


def fleet_variables(accounts: Iterable[str], stores: list[str],
                    integration: Mapping[str, object] | None = None) -> dict[str, str]:
    """The demo's four Variables for a fleet of sandbox ``accounts`` (tests, ``make bench-fleet``):
    every account is a credential; each account's LOC-1 is mapped to one of ``stores`` in turn
    (acme's and bolt's mappings and discounts as in ``config/`` where they are among the accounts);
    ``integration`` overrides keys of ``trident1_integration`` (``max_shards``, ``chunk_size``)."""
    from trident1_aiq.settings.config import demo_variables

    accounts = list(accounts)
    v = demo_variables()
    integ = json.loads(v["trident1_integration"]) | dict(integration or {})
    integ["credentials"] = [f"trident1_{a}" for a in accounts]
    v["trident1_integration"] = json.dumps(integ)
    demo = json.loads(v["trident1_store_mappings"])
    demo_accounts = {m["credential"] for m in demo}
    keep = [m for m in demo if m["credential"] in integ["credentials"]]
    fleet = [a for a in accounts if f"trident1_{a}" not in demo_accounts]
    keep += [{"credential": f"trident1_{a}", "location_id": "LOC-1", "store_id": stores[k % len(stores)]}
             for k, a in enumerate(fleet)]
    v["trident1_store_mappings"] = json.dumps(keep)
    v["aiq_discounts"] = json.dumps([d for d in json.loads(v["aiq_discounts"])
                                     if d["credential"] in integ["credentials"]])
    return v


def seed_demo_variables() -> list[str]:
    """Store the demo's Variables (``config/``) in Airflow's metadata DB where Airflow holds none
    yet, and return their names. The demo asks for the starting values explicitly; whatever an
    admin set since (``airflow variables set``, the console's Store mappings page, an
    ``AIRFLOW_VAR_*``) is left as it is and wins."""
    from airflow.models.variable import Variable  # noqa: AIR311 — outside a task: the metadata DB

    from trident1_aiq.settings.config import VARIABLES, default_variable_text

    seeded = []
    for name in VARIABLES:
        if Variable.get(name, default_var=None) is None:  # noqa: AIR311
            Variable.set(name, default_variable_text(name), description="from config/ by make run")  # noqa: AIR311
            seeded.append(name)
    return seeded


def run_env(sandbox_url: str, warehouse_path: Path, environ: Mapping[str, str],
            stored: frozenset[str] | set[str] = frozenset()) -> dict[str, str]:
    """The Connections a demo run sets: the sandbox's and the SQLite warehouse — except each one the
    user defined, which wins: an ``AIRFLOW_CONN_<ID>`` in ``environ``, or a Connection ``stored`` in
    Airflow's metadata DB (an environment variable would shadow it)."""
    return {key: value for key, value in connection_env(sandbox_url, warehouse_path).items()
            if not environ.get(key) and _conn_id(key) not in stored}


def _conn_id(env_key: str) -> str:
    return env_key.removeprefix("AIRFLOW_CONN_").lower()


def connection_sources(sandbox_url: str, warehouse_path: Path, environ: Mapping[str, str],
                       stored: frozenset[str] | set[str] = frozenset()) -> list[str]:
    """Where each Connection of the run comes from, in words (printed by ``make run``)."""
    out = []
    for key in connection_env(sandbox_url, warehouse_path):
        conn_id = _conn_id(key)
        if environ.get(key):
            out.append(f"{conn_id}: yours ({key})")
        elif conn_id in stored:
            out.append(f"{conn_id}: yours (Airflow's metadata DB)")
        elif conn_id == "warehouse_default":
            out.append(f"{conn_id}: the demo's SQLite file {os.path.relpath(warehouse_path)}")
        else:
            out.append(f"{conn_id}: the sandbox's ({sandbox_url}; set {key} to use your own)")
    return out


def stored_connections(conn_ids: list[str]) -> set[str]:
    """Which of ``conn_ids`` Airflow's metadata DB holds (``airflow connections add``)."""
    from airflow.models import Connection  # noqa: AIR311 — outside a task: the metadata DB
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        return set(session.scalars(select(Connection.conn_id).where(Connection.conn_id.in_(conn_ids))))  # noqa: AIR311


@contextmanager
def airflow_output(log_path: Path | None) -> Iterator[None]:
    """Airflow's own output of ``dag.test()`` (~150 lines: its structlog lines, the tasks' logs and
    tracebacks) goes to ``log_path`` instead of the terminal, at the file-descriptor level so that
    nothing escapes; ``None`` leaves it on the terminal (``--verbose``). The summary printed after
    says what happened and why."""
    if log_path is None:
        yield
        return
    log_path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    try:
        with open(log_path, "wb") as log:
            os.dup2(log.fileno(), 1)
            os.dup2(log.fileno(), 2)
            try:
                yield
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os.dup2(saved[0], 1)
                os.dup2(saved[1], 2)
    finally:
        os.close(saved[0])
        os.close(saved[1])


#: How ``make run`` has Airflow run the tasks, set before Airflow reads its configuration: the executor
#: ``dag.test(use_executor=True)`` loads (``trident1_aiq.dev.executor``), and the task supervisor's longest
#: wait between looks at its task process (Airflow's default, 5 s, adds up to that to every task's end).
RUN_ENV = {"AIRFLOW__CORE__EXECUTOR": "trident1_aiq.dev.executor.DemoExecutor",
           "AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL": "1"}


def main(argv: list[str] | None = None) -> int:
    import argparse

    p = argparse.ArgumentParser(prog="python -m trident1_aiq demo")
    p.add_argument("--day", type=date.fromisoformat, default=None, help="business date (default: yesterday UTC)")
    p.add_argument("--warehouse", type=Path, default=ROOT / "var" / "warehouse.db")
    p.add_argument("--verbose", action="store_true",
                   help="show Airflow's own output of the run here (else to make-run.log beside the warehouse file: var/)")
    args = p.parse_args(argv)
    os.environ.update(RUN_ENV)
    day = args.day or (datetime.now(UTC).date() - timedelta(days=1))
    args.warehouse.parent.mkdir(parents=True, exist_ok=True)

    from trident1_sandbox import ServerThread  # the dev/demo package next to this one (plugins/)

    started = time.perf_counter()
    with ServerThread() as sandbox:
        stored = stored_connections([_conn_id(k) for k in connection_env(sandbox.url, args.warehouse)])
        sources = connection_sources(sandbox.url, args.warehouse, os.environ, stored)
        os.environ.update(run_env(sandbox.url, args.warehouse, os.environ, stored))
        seeded = seed_demo_variables()
        if seeded:
            print(f"demo: stored the starting Variables {', '.join(seeded)} from config/ (Airflow had none)")
        sys.path.insert(0, str(ROOT / "dags"))
        from trident1_sales_daily import DAG  # noqa: PLC0415

        log_path = None if args.verbose else args.warehouse.parent / "make-run.log"
        if log_path:
            print(f"demo: running trident1_sales_daily for {day}; Airflow's output goes to "
                  f"{os.path.relpath(log_path)} (--verbose: here) ...", flush=True)
        with airflow_output(log_path):
            dagrun = run_dag(DAG, day)
        state = str(getattr(dagrun, "state", "unknown")).rsplit(".", 1)[-1]
        texts = len(sandbox.state.messages)
    print_summary(warehouse_url(args.warehouse), getattr(dagrun, "run_id", "?"), day, state,
                  run_seconds(dagrun, time.perf_counter() - started))
    print(f"  texts the sandbox gateway sent  {texts:>10}  (opt-in requests outside 08:00–21:00 store time wait)")
    print("  Connections used:\n" + "\n".join(f"    {line}" for line in sources))
    print(f"  the run's task logs (Airflow's UI shows them, make airflow): {task_log_dir(dagrun)}")
    if log_path:
        print(f"  Airflow's output of the run (task logs, tracebacks): {os.path.relpath(log_path)}")
    return 0 if state.endswith("success") else 1


def run_dag(dag, day: date):
    """One run of ``dag`` for business day ``day``, as Airflow shows any other manual run (issue 19 item 3).

    Its logical date is the real instant it is made, as a run triggered in the UI now would have (the
    business day goes in the ``business_date`` param). ``dag.test`` replaces any run of the same logical
    date and clears its task instances, so a fixed logical date per day (as before) kept only the last run
    of a day; and it makes the run's ``start_date`` the logical date, so its duration was the days since.
    Now every run keeps its own row and its duration is seconds. Its tasks run through Airflow's task
    supervisor (:mod:`trident1_aiq.dev.executor`), each writing its log where the api-server reads it."""
    from trident1_aiq.ingest.validate import preload

    preload()  # Great Expectations' import (seconds), once here rather than in each forked ingest task
    now = datetime.now(UTC)
    return dag.test(logical_date=now, run_after=now, run_conf={"business_date": day.isoformat()},
                    use_executor=True)


def run_seconds(dagrun, fallback: float) -> float:
    """The run's duration as Airflow records it (the grid and the console show the same), else ``fallback``."""
    start, end = getattr(dagrun, "start_date", None), getattr(dagrun, "end_date", None)
    return (end - start).total_seconds() if start and end else fallback


def task_log_dir(dagrun) -> str:
    """Where the run's task logs are: ``[logging] base_log_folder``, then the DAG and the run (Airflow's default
    ``log_filename_template``)."""
    from airflow.configuration import conf

    folder = Path(conf.get("logging", "base_log_folder")) / f"dag_id={getattr(dagrun, 'dag_id', '?')}"
    return os.path.relpath(folder / f"run_id={getattr(dagrun, 'run_id', '?')}")


def warehouse_url(default_path: Path) -> str:
    """The warehouse the run wrote to: ``AIRFLOW_CONN_WAREHOUSE_DEFAULT`` as Airflow parses it, else SQLite."""
    from trident1_aiq.airflow.adapter import warehouse_url_from

    conn = None
    if os.environ.get("AIRFLOW_CONN_WAREHOUSE_DEFAULT"):
        from airflow.secrets.environment_variables import EnvironmentVariablesBackend

        conn = EnvironmentVariablesBackend().get_connection("warehouse_default")
    return warehouse_url_from(conn, default_path)


def print_summary(warehouse: str | Path, run_id: str, day: date, state: str, seconds: float) -> None:
    """The closing summary (``report.closing_summary``), after everything else the run printed."""
    from trident1_aiq.report import closing_summary
    from trident1_aiq.warehouse import Warehouse, sqlite_url

    wh = Warehouse(warehouse if isinstance(warehouse, str) else sqlite_url(warehouse))
    where = os.path.relpath(wh.url.database) if wh.dialect == "sqlite" and wh.url.database else wh.safe_url
    try:
        print("\n" + closing_summary(wh, run_id, day, state, seconds, where), flush=True)
    finally:
        wh.dispose()
