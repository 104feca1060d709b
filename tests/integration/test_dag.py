"""The DAG itself: parse hygiene and dag.test() end to end on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import socket
from datetime import UTC, datetime, time, timedelta

import pytest
from sqlalchemy import text

from trident1_aiq.dev.demo import connection_env, variable_env
from trident1_aiq.settings.config import default_variable_text
from trident1_aiq.warehouse import Warehouse
from trident1_sandbox import SandboxState, ServerThread, data
from trident1_sandbox.data import DEFAULT_STORES

from ..factories import DAY, NOW, ROOT, Webhook, dag_warehouse, drop_pg_database

pytestmark = [pytest.mark.integration, pytest.mark.dag]
SECRET_KEYS = {"acme": "KEY-acme-7f3a9c1e-DO-NOT-LOG", "bolt": "KEY-bolt-2b8d44aa-DO-NOT-LOG"}


def _load_dag():
    import trident1_sales_daily  # dags/ is on pytest's pythonpath (pyproject.toml)

    return trident1_sales_daily.DAG


@pytest.fixture
def secret_sandbox():
    stores = {n: dataclasses.replace(s, api_key=SECRET_KEYS[n]) for n, s in DEFAULT_STORES.items()}
    with ServerThread(SandboxState(now=NOW, stores=stores)) as server:
        yield server


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def wired(request, secret_sandbox, tmp_path, monkeypatch, airflow_db):
    """Connections as environment variables, pointing at the sandbox and a fresh warehouse."""
    env = connection_env(secret_sandbox.url, tmp_path / "warehouse.db") | variable_env()
    for name, key in SECRET_KEYS.items():
        conn = json.loads(env[f"AIRFLOW_CONN_TRIDENT1_{name.upper()}"])
        conn["password"] = key
        env[f"AIRFLOW_CONN_TRIDENT1_{name.upper()}"] = json.dumps(conn)
    db_env, url, pg_name = dag_warehouse(request.param, tmp_path / "warehouse.db")
    env |= db_env
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    wh = Warehouse(url)
    yield wh, secret_sandbox
    wh.dispose()
    if pg_name:
        drop_pg_database(pg_name)


def run_day(day=DAY):
    dag = _load_dag()
    return dag.test(logical_date=datetime.combine(day + timedelta(days=1), time(0), UTC),
                    run_conf={"business_date": day.isoformat()})


def count(wh, sql, **params):
    with wh.begin() as conn:
        return wh.execute(conn, sql, params).scalar()


def test_dag_parses_without_touching_variables_connections_or_network(monkeypatch):
    from airflow.dag_processing.dagbag import DagBag
    from airflow.sdk import BaseHook, Variable

    def forbidden(*_a, **_k):
        raise AssertionError("touched at parse time")

    monkeypatch.setattr(Variable, "get", forbidden)
    monkeypatch.setattr(BaseHook, "get_connection", forbidden)
    monkeypatch.setattr(socket.socket, "connect", forbidden)
    bag = DagBag(dag_folder=str(ROOT / "dags"))
    assert bag.import_errors == {}
    dag = bag.dags["trident1_sales_daily"]
    assert {t.task_id for t in dag.tasks} == {"check_config", "ingest", "loyalty", "opt_in", "run_report"}
    assert dag.max_active_runs == 1 and type(dag.timetable).__name__ == "CronDataIntervalTimetable"


def test_rule11_daily_runs_that_finish_well_inside_24_hours():
    from airflow.sdk import CronDataIntervalTimetable

    dag = _load_dag()
    assert isinstance(dag.timetable, CronDataIntervalTimetable) and dag.timetable.expression == "0 0 * * *"
    assert dag.dagrun_timeout <= timedelta(hours=20)


def test_business_date_from_param_or_data_interval():
    from trident1_aiq.airflow.adapter import business_date_of

    start = datetime(2026, 11, 24, tzinfo=UTC)
    assert business_date_of({"params": {"business_date": "2026-11-20"}, "data_interval_start": start}).isoformat() \
        == "2026-11-20"
    assert business_date_of({"params": {}, "data_interval_start": start}).isoformat() == "2026-11-24"
    manual = {"params": {}, "dag_run": type("R", (), {"run_after": datetime(2026, 11, 26, 15, tzinfo=UTC)})()}
    assert business_date_of(manual).isoformat() == "2026-11-25"  # no logical date: the last complete day


def xcom_keys(run_id: str) -> set[str]:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        return {x.key for x in session.query(XComModel).filter(XComModel.run_id == run_id)}


def test_dag_end_to_end_loads_reruns_idempotently_and_leaks_no_key(wired, capfd, caplog, airflow_db):
    caplog.set_level(logging.DEBUG)
    wh, server = wired
    dr = run_day()
    assert str(dr.state).endswith("success")
    assert xcom_keys(dr.run_id) == {"return_value"}  # one XCom a task (counts), not one more per key
    st = server.state
    mapped = {(m["credential"], m["location_id"])
              for m in json.loads(default_variable_text("trident1_store_mappings"))}
    expected = 0
    for name in ("acme", "bolt"):
        start = datetime.combine(DAY, time(0), UTC) - timedelta(hours=48)
        for s in data.list_sales(st.stores[name], st.volume, start, start + timedelta(hours=72), NOW):
            if not s.get("_malformed") and (f"trident1_{name}", s["location_id"]) in mapped:
                expected += 1
    assert count(wh, "SELECT COUNT(*) FROM sales") == expected > 100
    tables = ("sales", "sale_items", "refunds", "personas", "quarantine")
    first = {t: count(wh, f"SELECT COUNT(*) FROM {t}") for t in tables}
    first_loaded_at = count(wh, "SELECT MAX(loaded_at) FROM sales")

    dr2 = run_day()  # the same day again
    assert str(dr2.state).endswith("success")
    assert {t: count(wh, f"SELECT COUNT(*) FROM {t}") for t in tables} == first
    assert count(wh, "SELECT MAX(loaded_at) FROM sales") == first_loaded_at  # no row rewritten
    assert count(wh, "SELECT COUNT(DISTINCT run_id) FROM etl_runs") == 2

    # Rule 28: the API keys appear in no log line, task output, XCom or table.
    out, err = capfd.readouterr()
    leaks = [k for k in SECRET_KEYS.values() if k in out or k in err]
    logged = caplog.text + "\n".join(r.getMessage() for r in caplog.records)
    leaks += [k for k in SECRET_KEYS.values() if k in logged]
    seen = (out + err + logged).encode()
    for path in airflow_db.rglob("*"):  # task logs, the metadata DB (XCom, rendered fields)
        if path.is_file():
            blob = path.read_bytes()
            seen += blob
            leaks += [f"{path}: {k}" for k in SECRET_KEYS.values() if k.encode() in blob]
    schema = wh.tables()
    with wh.begin() as conn:
        for table, columns in schema.items():
            for column in columns:
                for key in SECRET_KEYS.values():
                    hit = conn.execute(text(f"SELECT COUNT(*) FROM {table} WHERE CAST({column} AS TEXT) LIKE :k"),
                                       {"k": f"%{key}%"}).scalar()
                    if hit:
                        leaks.append(f"{table}.{column}")
    assert leaks == []
    assert b"run summary" in seen  # what was scanned really holds the task logs


def test_dag_declares_the_warehouse_tables_it_updates_as_assets():
    dag = _load_dag()
    uris = {t.task_id: sorted(a.uri for a in t.outlets) for t in dag.tasks if t.outlets}
    assert uris == {
        "ingest": ["trident1aiq://warehouse/personas", "trident1aiq://warehouse/refunds",
                   "trident1aiq://warehouse/sales"],
        "loyalty": ["trident1aiq://warehouse/loyalty_ledger"],
        "opt_in": ["trident1aiq://warehouse/opt_in_requests"],
    }
    assert {a.name for t in dag.tasks for a in t.outlets} >= {"trident1aiq.sales", "trident1aiq.loyalty_ledger"}


@pytest.mark.parametrize("wired", ["sqlite"], indirect=True)
def test_asset_events_carry_the_business_day_and_the_counts(wired, airflow_db):
    """Each successful task's outlets get an event of this run whose extra is the business day and
    what the task counted: per credential for the ingest, checked against the warehouse."""
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    wh, _ = wired
    dr = run_day()
    assert str(dr.state).endswith("success")
    with create_session() as session:
        rows = session.execute(select(AssetModel.uri, AssetEvent.extra, AssetEvent.source_task_id)
                               .join(AssetModel, AssetModel.id == AssetEvent.asset_id)
                               .where(AssetEvent.source_run_id == dr.run_id)).all()
    events: dict[str, list[dict]] = {}
    for uri, extra, task_id in rows:
        events.setdefault(uri.rsplit("/", 1)[1], []).append(dict(extra, task=task_id))
    assert sorted(events) == ["loyalty_ledger", "opt_in_requests", "personas", "refunds", "sales"]
    sales = {c: e for e in events["sales"] for c in e["credentials"]}
    assert sorted(sales) == ["trident1_acme", "trident1_bolt"]  # one event per mapped shard, naming its credentials
    assert sum(len(e["credentials"]) for e in events["sales"]) == 2
    day = DAY.isoformat()
    assert all(e["business_date"] == day for es in events.values() for e in es)
    assert sum(e["loaded"] for e in events["sales"]) == count(wh, "SELECT COUNT(*) FROM sales") > 100
    assert sum(e["refunds_loaded"] for e in events["refunds"]) == count(wh, "SELECT COUNT(*) FROM refunds")
    (ledger,) = events["loyalty_ledger"]
    assert ledger["task"] == "loyalty" and ledger["points_earned"] == count(
        wh, "SELECT COALESCE(SUM(points), 0) FROM loyalty_ledger WHERE entry_type = 'earn'") > 0
    (opt_in,) = events["opt_in_requests"]
    assert opt_in["created"] == count(wh, "SELECT COUNT(*) FROM opt_in_requests")


def test_rule7_broken_mapping_fails_the_run_and_writes_nothing(wired, monkeypatch, airflow_db):
    wh, _ = wired
    maps = json.loads(default_variable_text("trident1_store_mappings"))
    maps[2]["store_id"] = "no-such-store"
    monkeypatch.setenv("AIRFLOW_VAR_TRIDENT1_STORE_MAPPINGS", json.dumps(maps))
    dr = run_day()
    assert not str(dr.state).endswith("success")
    for table in ("sales", "refunds", "personas", "quarantine", "retail_stores", "store_mappings"):
        assert count(wh, f"SELECT COUNT(*) FROM {table}") == 0, table
    with wh.begin() as conn:
        row = conn.execute(text("SELECT credential, status, notes FROM etl_runs")).one()
    assert row.credential == "*" and row.status == "failed"
    assert "trident1_store_mappings[2].store_id" in row.notes and "no-such-store" in row.notes


def _states(dr) -> dict[str, str]:
    out: dict[str, set[str]] = {}
    for ti in dr.get_task_instances():
        out.setdefault(ti.task_id, set()).add(str(ti.state).rsplit(".", 1)[-1].lower())
    return {k: ",".join(sorted(v)) for k, v in out.items()}


def test_rule7_failed_check_config_skips_later_steps_and_writes_nothing(wired, monkeypatch, caplog):
    """A mirrored in-store-only discount (found through the Trident1 catalogue) on a fresh
    warehouse: check_config fails, loyalty and opt_in end as skipped at once, nothing but the
    run's own etl_runs row is written, and the failure callback does not crash."""
    wh, _ = wired
    discounts = json.loads(default_variable_text("aiq_discounts"))
    discounts.append({"id": "aiq-coupon", "name": "Coupon", "credential": "trident1_acme",
                      "trident1_discount_id": "D-99", "points_cost": 0})
    monkeypatch.setenv("AIRFLOW_VAR_AIQ_DISCOUNTS", json.dumps(discounts))
    dr = run_day()
    assert not str(dr.state).endswith("success")
    states = _states(dr)
    assert states["check_config"] == "failed"
    assert states["loyalty"] == "skipped" and states["opt_in"] == "skipped", states
    tables = set(wh.tables())
    with wh.begin() as conn:
        rows = conn.execute(text("SELECT credential, status, notes FROM etl_runs")).all()
        if "loyalty_state" in tables:
            assert conn.execute(text("SELECT COUNT(*) FROM loyalty_state")).scalar() == 0
    assert [(r.credential, r.status) for r in rows] == [("*", "failed")]
    assert "D-99" in rows[0].notes and "in-store-only" in rows[0].notes
    assert "get_template_env" not in caplog.text


def alerts_to(hook: Webhook, monkeypatch) -> None:
    """Alerts enabled on the webhook channel, delivered to ``hook``."""
    monkeypatch.setenv("AIRFLOW_CONN_AIQ_ALERTS_WEBHOOK", json.dumps(
        {"conn_type": "http", "host": "127.0.0.1", "port": hook.port, "schema": "http", "password": "t"}))
    integ = json.loads(default_variable_text("trident1_integration"))
    integ["alerts"] = {"enabled": True, "channel": "webhook"}
    monkeypatch.setenv("AIRFLOW_VAR_TRIDENT1_INTEGRATION", json.dumps(integ))


def test_failure_callback_delivers_its_alert_under_dags_test(wired, monkeypatch):
    """Defect 8: under `dag.test()` the failure callback crashed on the serialized DAG and buried
    the run's real error; now it runs and the alert names the run's failure."""
    hook = Webhook()
    try:
        alerts_to(hook, monkeypatch)
        bolt = json.loads(os.environ["AIRFLOW_CONN_TRIDENT1_BOLT"])
        monkeypatch.setenv("AIRFLOW_CONN_TRIDENT1_BOLT", json.dumps(dict(bolt, password="revoked-key")))
        dr = run_day()
        assert not str(dr.state).endswith("success")
        failures = [body for _, body in hook.received if body.get("kind") == "failure"]
        assert failures, "the failure callback delivered nothing"
    finally:
        hook.close()


def test_item13_a_refused_configuration_alerts_under_dags_test(wired, monkeypatch):
    """Issue 19 item 13: check_config refuses a broken mapping, and the alert still goes out (the
    alert channel's settings are read on their own; it once logged "settings unreadable")."""
    wh, _ = wired
    hook = Webhook()
    try:
        alerts_to(hook, monkeypatch)
        maps = json.loads(default_variable_text("trident1_store_mappings"))
        maps[0]["store_id"] = "atlantis"
        monkeypatch.setenv("AIRFLOW_VAR_TRIDENT1_STORE_MAPPINGS", json.dumps(maps))
        dr = run_day()
        assert not str(dr.state).endswith("success")
        assert count(wh, "SELECT COUNT(*) FROM etl_runs WHERE credential = '*' AND status = 'failed'") == 1
        failures = [body for _, body in hook.received if body.get("kind") == "failure"]
        assert failures and "atlantis" in failures[0]["text"], hook.received
    finally:
        hook.close()


def test_a_failed_ingest_of_one_credential_still_lets_loyalty_and_opt_in_run(wired, monkeypatch):
    wh, server = wired
    bolt = json.loads(os.environ["AIRFLOW_CONN_TRIDENT1_BOLT"])
    server.state.stores["bolt"] = dataclasses.replace(server.state.stores["bolt"], api_key="rotated-key")
    monkeypatch.setenv("AIRFLOW_CONN_TRIDENT1_BOLT", json.dumps(bolt))
    # check_config reads bolt's locations too: let it pass, then revoke the key before ingest reads sales.
    from trident1_aiq.airflow import adapter as airflow_adapter

    real = airflow_adapter.check_configuration

    def check_then_revoke(*args, **kwargs):
        server.state.stores["bolt"] = dataclasses.replace(server.state.stores["bolt"], api_key=SECRET_KEYS["bolt"])
        try:
            return real(*args, **kwargs)
        finally:
            server.state.stores["bolt"] = dataclasses.replace(server.state.stores["bolt"], api_key="rotated-key")

    monkeypatch.setattr(airflow_adapter, "check_configuration", check_then_revoke)
    dr = run_day()
    states = _states(dr)
    assert "failed" in states["ingest"] and "success" in states["ingest"], states
    assert states["loyalty"] == "success" and states["opt_in"] == "success", states
    assert count(wh, "SELECT COUNT(*) FROM loyalty_ledger WHERE credential = 'trident1_acme'") > 0
