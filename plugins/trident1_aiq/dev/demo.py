"""``python -m trident1_aiq demo``: the whole DAG on the embedded default, end to end.

Starts the sandbox in-process, points the Connections at it and sets the demo's
Variables from ``config/`` (environment variables, as a deployment may), runs ``trident1_sales_daily`` with
``dag.test()`` for yesterday (UTC) and prints what was loaded and quarantined.
Needs a migrated Airflow metadata DB (``make run`` does ``airflow db migrate``).
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
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


def run_env(sandbox_url: str, warehouse_path: Path, environ: Mapping[str, str]) -> dict[str, str]:
    """The Connections a demo run sets: the sandbox's, and the SQLite warehouse unless the user
    gave a ``warehouse_default`` of their own (``AIRFLOW_CONN_WAREHOUSE_DEFAULT``), which wins."""
    env = connection_env(sandbox_url, warehouse_path)
    if environ.get("AIRFLOW_CONN_WAREHOUSE_DEFAULT"):
        env.pop("AIRFLOW_CONN_WAREHOUSE_DEFAULT")
    return env


def main(argv: list[str] | None = None) -> int:
    import argparse

    p = argparse.ArgumentParser(prog="python -m trident1_aiq demo")
    p.add_argument("--day", type=date.fromisoformat, default=None, help="business date (default: yesterday UTC)")
    p.add_argument("--warehouse", type=Path, default=ROOT / "var" / "warehouse.db")
    args = p.parse_args(argv)
    day = args.day or (datetime.now(UTC).date() - timedelta(days=1))
    args.warehouse.parent.mkdir(parents=True, exist_ok=True)

    from trident1_sandbox import ServerThread  # the dev/demo package next to this one (plugins/)

    started = time.perf_counter()
    with ServerThread() as sandbox:
        os.environ.update(run_env(sandbox.url, args.warehouse, os.environ))
        seeded = seed_demo_variables()
        if seeded:
            print(f"demo: stored the starting Variables {', '.join(seeded)} from config/ (Airflow had none)")
        sys.path.insert(0, str(ROOT / "dags"))
        from trident1_sales_daily import DAG  # noqa: PLC0415

        # A manual run names its business day; logical_date is when that day's interval ends.
        dagrun = DAG.test(logical_date=datetime.combine(day + timedelta(days=1), dtime(0), UTC),
                          run_conf={"business_date": day.isoformat()})
        state = str(getattr(dagrun, "state", "unknown"))
        texts = len(sandbox.state.messages)
    print_summary(warehouse_url(args.warehouse), day, state, time.perf_counter() - started)
    print(f"  texts the sandbox gateway sent     {texts:>8}  (opt-in requests outside 08:00–21:00 store time wait)")
    return 0 if state.endswith("success") else 1


def warehouse_url(default_path: Path) -> str:
    """The warehouse the run wrote to: ``AIRFLOW_CONN_WAREHOUSE_DEFAULT`` as Airflow parses it, else SQLite."""
    from trident1_aiq.airflow.adapter import warehouse_url_from

    conn = None
    if os.environ.get("AIRFLOW_CONN_WAREHOUSE_DEFAULT"):
        from airflow.secrets.environment_variables import EnvironmentVariablesBackend

        conn = EnvironmentVariablesBackend().get_connection("warehouse_default")
    return warehouse_url_from(conn, default_path)


def print_summary(warehouse: str | Path, day: date, state: str, seconds: float) -> None:
    from trident1_aiq.warehouse import Warehouse, sqlite_url

    wh = Warehouse(warehouse if isinstance(warehouse, str) else sqlite_url(warehouse))
    queries = {
        "sales": "SELECT COUNT(*) FROM sales",
        "sale lines": "SELECT COUNT(*) FROM sale_items",
        "refunds": "SELECT COUNT(*) FROM refunds",
        "personas": "SELECT COUNT(*) FROM personas",
        "quarantined (open, rejected)": "SELECT COUNT(*) FROM quarantine WHERE released_at IS NULL AND held = FALSE",
        "held for mapping (open)": "SELECT COUNT(*) FROM quarantine WHERE released_at IS NULL AND held = TRUE",
        "loyalty members": "SELECT COUNT(*) FROM personas WHERE loyalty_member = TRUE",
        "points earned": "SELECT COALESCE(SUM(points), 0) FROM loyalty_ledger WHERE entry_type = 'earn'",
        "points reversed (refunds)": "SELECT COALESCE(-SUM(points), 0) FROM loyalty_ledger WHERE entry_type = 'earn_reversal'",
        "discount redemptions": "SELECT COUNT(*) FROM discount_redemptions",
        "refunds reconciled": "SELECT COUNT(*) FROM refund_reconciliations",
        "opt-in requests sent": "SELECT COUNT(*) FROM opt_in_requests WHERE status = 'sent'",
        "opt-in requests pending": "SELECT COUNT(*) FROM opt_in_requests WHERE status = 'pending'",
    }
    where = os.path.relpath(wh.url.database) if wh.dialect == "sqlite" and wh.url.database else wh.safe_url
    print(f"\n=== trident1_sales_daily for {day}: {state} in {seconds:.1f} s; warehouse {where}")
    with wh.begin() as conn:
        for label, sql in queries.items():
            print(f"  {label:<30}{wh.execute(conn, sql).scalar():>8}")
        print("  daily_store_sales for that day:")
        for row in wh.execute(conn, "SELECT store_id, sales, net_sales, refunds, personas FROM daily_store_sales "
                                    "WHERE business_date = :d ORDER BY store_id", {"d": day.isoformat()}):
            print(f"    {row.store_id:<16} sales {row.sales:>5}  net {row.net_sales:>10}  refunds "
                  f"{row.refunds:>8}  personas {row.personas:>4}")
    wh.dispose()
