"""A fleet of Trident1 accounts through the DAG (issue 18, issue 19 item 11).

More credentials than Airflow's ``[core] max_map_length`` map and load in shards; one refused key
and one API that is down fail alone and visibly while every other credential's sales, points
and texts land in the same run, and a rerun after recovery converges.
"""

from __future__ import annotations

import dataclasses
import os
from datetime import UTC, datetime, time, timedelta

import pytest
from sqlalchemy import text

from trident1_aiq.dev.demo import connection_env
from trident1_aiq.dev.demo import fleet_variables as demo_fleet_variables
from trident1_aiq.warehouse import Warehouse
from trident1_sandbox import SandboxState, ServerThread
from trident1_sandbox.data import DEFAULT_STORES, Volume, fleet_stores

from ..factories import DAY, NOW, dag_warehouse, drop_pg_database

pytestmark = [pytest.mark.integration, pytest.mark.dag]


def fleet_variables(accounts: list[str], stores: list[str]) -> dict[str, str]:
    """The demo's Variables for ``accounts`` as ``AIRFLOW_VAR_*`` (``dev.demo.fleet_variables``)."""
    return {f"AIRFLOW_VAR_{name.upper()}": value for name, value in demo_fleet_variables(accounts, stores).items()}


@pytest.fixture
def fleet(request, monkeypatch, tmp_path, airflow_db):
    """``fleet(stores, volume, db="sqlite")``: a sandbox serving ``stores``, the Connections and
    Variables of all its accounts, and a fresh warehouse; yields (warehouse, server)."""
    opened = []

    def make(stores, volume, db="sqlite"):
        server = ServerThread(SandboxState(now=NOW, stores=stores, volume=volume)).start()
        env = connection_env(server.url, tmp_path / "warehouse.db", accounts=list(stores))
        env |= fleet_variables(list(stores), ["den-downtown", "nyc-soho", "la-venice", "chi-loop"])
        db_env, url, pg = dag_warehouse(db, tmp_path / "warehouse.db")
        env |= db_env
        for k, val in env.items():
            monkeypatch.setenv(k, val)
        wh = Warehouse(url)
        opened.append((server, wh, pg))
        return wh, server

    yield make
    for server, wh, pg in opened:
        wh.dispose()
        server.stop()
        if pg:
            drop_pg_database(pg)


def run_day(*, fast_retries: bool = False):
    import trident1_sales_daily

    dag = trident1_sales_daily.DAG
    if fast_retries:  # Airflow's retries of a shard, without minutes of retry_delay
        for t in dag.tasks:
            t.retry_delay, t.retry_exponential_backoff = timedelta(0), False
    return dag.test(logical_date=datetime.combine(DAY + timedelta(days=1), time(0), UTC),
                    run_conf={"business_date": DAY.isoformat()})


def states(dr) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for ti in sorted(dr.get_task_instances(), key=lambda t: (t.task_id, t.map_index)):
        out.setdefault(ti.task_id, []).append(str(ti.state).rsplit(".", 1)[-1].lower())
    return out


def rows(wh, sql, **params):
    with wh.begin() as conn:
        return conn.execute(text(sql), params).all()


def test_more_credentials_than_max_map_length_map_in_shards_and_all_load(fleet, monkeypatch):
    """1,030 accounts (Airflow's max_map_length is 1024): check_config maps them into at most
    ``max_shards`` shards and every credential loads, each with its own etl_runs row. Days are
    tiny: every account reports its location and walk-in customers, one in 103 also rings a sale
    a day (a chunk of sales costs a Great Expectations run, about 0.5 s).

    ``dag.test`` runs every shard in this one process, and Airflow's secrets masker recompiles one
    pattern of every secret it holds at each new one: over 1,030 keys that was half of this test's
    time (profiled: 400 of 760 s), a cost a worker never pays (each shard is a process of its own,
    with its ≤ 32 keys). The fleet accounts' keys are left unmasked here; masking is test_dag's."""
    from airflow.sdk.execution_time import context

    masked = context._mask_connection_secrets
    monkeypatch.setattr(context, "_mask_connection_secrets",
                        lambda conn: None if conn.conn_id.startswith("trident1_f") else masked(conn))
    stores = fleet_stores(1030)
    stores = {name: dataclasses.replace(s, sales_per_day=1 if k % 103 == 0 else 0)
              for k, (name, s) in enumerate(stores.items())}
    volume = Volume(malformed_rate=0, first_day=(DAY - timedelta(days=2)).isoformat(), last_day=DAY.isoformat())
    wh, _ = fleet(stores, volume)
    dr = run_day()
    assert str(dr.state).endswith("success"), states(dr)
    st = states(dr)
    assert 1 < len(st["ingest"]) <= 64 and set(st["ingest"]) == {"success"}, st
    runs = rows(wh, "SELECT credential, status FROM etl_runs")
    assert len(runs) == 1030 and {r.status for r in runs} == {"success"}
    assert rows(wh, "SELECT COUNT(DISTINCT credential) FROM trident1_locations")[0][0] == 1030
    ringing = {f"trident1_{name}" for name, s in stores.items() if s.sales_per_day}
    sold = {r.credential for r in rows(wh, "SELECT DISTINCT credential FROM sales")}
    assert sold == ringing and len(ringing) == 10
    # The map's labels name each shard's credentials (or their range).
    labels = [ti.rendered_map_index for ti in dr.get_task_instances() if ti.task_id == "ingest"]
    assert all(label and "f0" in label for label in labels), labels


@pytest.mark.parametrize("db", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_a_refused_key_and_a_down_api_fail_alone_and_the_others_load_earn_and_are_texted(fleet, db, monkeypatch):
    """Issue 19 item 11: f0002's key is refused (401), f0003's API answers 500 until the
    client's and Airflow's retries run out, and f0004's Connection is not defined (issue 18: the
    run's check_config reads only the Connections of credentials with mirrored discounts, so a
    fleet's thousands are read by their shards). All three fail visibly (their etl_runs rows with
    the reason, their ingest shard failed, the run failed); acme, bolt and f0001 load, and loyalty
    and opt-ins run for them in that run. After recovery a new run loads the three and converges:
    a third run changes nothing."""
    from trident1_aiq import http_client

    monkeypatch.setattr(http_client, "_default_sleep", lambda _s: None)  # the client's back-off, not waited
    stores = dict(DEFAULT_STORES) | fleet_stores(4)
    wh, server = fleet(stores, Volume(sales_per_day=12, malformed_rate=0), db)
    refused, down, undefined = "trident1_f0002", "trident1_f0003", "trident1_f0004"
    its_connection = os.environ["AIRFLOW_CONN_TRIDENT1_F0004"]
    monkeypatch.delenv("AIRFLOW_CONN_TRIDENT1_F0004")
    good_key = stores["f0002"]
    server.state.stores["f0002"] = dataclasses.replace(good_key, api_key="rotated-key")
    server.state.down.add("f0003")

    dr = run_day(fast_retries=True)
    st = states(dr)
    assert not str(dr.state).endswith("success")
    assert st["check_config"] == ["success"], st  # a refused key is not a broken configuration
    assert sorted(st["ingest"]) == ["failed", "failed", "failed", "success", "success", "success"], st
    assert st["loyalty"] == ["success"] and st["opt_in"] == ["success"], st
    book = {r.credential: r for r in rows(wh, "SELECT credential, status, notes FROM etl_runs")}
    assert book[refused].status == "failed" and "401" in book[refused].notes
    assert book[down].status == "failed" and "500" in book[down].notes and "gave up" in book[down].notes
    assert book[undefined].status == "failed" and f"connection {undefined}: not defined" in book[undefined].notes
    ok = {"trident1_acme", "trident1_bolt", "trident1_f0001"}
    assert {c for c, r in book.items() if r.status == "success"} == ok
    for cred in ok:  # every other credential's sales, points and texts landed in this run
        assert rows(wh, "SELECT COUNT(*) FROM sales WHERE credential = :c", c=cred)[0][0] > 0, cred
        assert rows(wh, "SELECT COUNT(*) FROM loyalty_ledger WHERE credential = :c", c=cred)[0][0] > 0, cred
    assert rows(wh, "SELECT COUNT(*) FROM sales WHERE credential IN (:a, :b, :c)", a=refused, b=down,
                c=undefined)[0][0] == 0
    # Their opt-in requests were made in this run: sent, or pending when the real clock is in the
    # stores' quiet hours (judged at the send, rule 24); what was sent reached the gateway once.
    asked = rows(wh, "SELECT store_id, status, idempotency_key FROM opt_in_requests WHERE run_id = :r",
                 r=dr.run_id)
    assert {"den-downtown", "chi-loop"} <= {a.store_id for a in asked}, asked
    assert {a.idempotency_key for a in asked if a.status == "sent"} <= set(server.state.messages)

    server.state.stores["f0002"] = good_key  # the admin fixes the key; the API comes back
    server.state.down.clear()
    monkeypatch.setenv("AIRFLOW_CONN_TRIDENT1_F0004", its_connection)  # and adds the missing Connection
    dr2 = run_day(fast_retries=True)
    assert str(dr2.state).endswith("success"), rows(wh, "SELECT credential, status, notes FROM etl_runs WHERE run_id = :r",
                                                    r=dr2.run_id)
    for cred in (refused, down, undefined):
        assert rows(wh, "SELECT COUNT(*) FROM sales WHERE credential = :c", c=cred)[0][0] > 0, cred
        assert rows(wh, "SELECT COUNT(*) FROM loyalty_ledger WHERE credential = :c", c=cred)[0][0] > 0, cred
    tables = ("sales", "sale_items", "refunds", "personas", "loyalty_ledger", "opt_in_requests", "quarantine")
    before = {t: rows(wh, f"SELECT COUNT(*) FROM {t}")[0][0] for t in tables}
    sent = len(server.state.messages)
    dr3 = run_day(fast_retries=True)
    assert str(dr3.state).endswith("success")
    assert {t: rows(wh, f"SELECT COUNT(*) FROM {t}")[0][0] for t in tables} == before
    assert len(server.state.messages) == sent  # nobody texted twice
