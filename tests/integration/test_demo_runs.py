"""A run made by `make run` looks in Airflow like any other run (issue 19 item 3): each run keeps its own
row (a failed one too, when the same day runs again), its duration is the seconds it took, not the days
since its logical date, and each task that ran has a log the api-server's log endpoint returns, as the UI reads it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ..factories import ROOT

pytestmark = [pytest.mark.integration, pytest.mark.dag]
DAG_ID = "trident1_sales_daily"


def make_run(tmp_path, **env_extra: str) -> tuple[int, str, str]:
    """``python -m trident1_aiq demo`` for 2026-11-20 on this session's AIRFLOW_HOME; (exit code, run id,
    what it printed: stdout, then stderr)."""
    from airflow import settings

    # No connection of this process stays open on the session's SQLite metadata DB while the demo
    # (another process, which forks its tasks) writes it: with test_dag's runs before it, that
    # ended in "database disk image is malformed".
    settings.engine.dispose()
    env = dict(os.environ, PYTHONPATH=str(ROOT / "plugins"), **env_extra)
    env.pop("AIRFLOW_CONN_WAREHOUSE_DEFAULT", None)
    done = subprocess.run([sys.executable, "-m", "trident1_aiq", "demo", "--day", "2026-11-20",
                           "--warehouse", str(tmp_path / "wh.db")], env=env, capture_output=True, text=True,
                          timeout=300, check=False)
    found = re.search(r"; run (\S+); warehouse", done.stdout)
    assert found, done.stdout + done.stderr
    return done.returncode, found.group(1), done.stdout + done.stderr


@pytest.fixture
def api(monkeypatch):
    """Airflow's api-server app (the REST API the UI reads), every user an admin."""
    from airflow.api_fastapi.app import create_app, purge_cached_app
    from fastapi.testclient import TestClient

    monkeypatch.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS", "True")
    monkeypatch.setenv("AIRFLOW__API_AUTH__JWT_SECRET", "test-jwt-secret-" + "0123456789abcdef" * 4)
    purge_cached_app()
    client = TestClient(create_app("core"))
    token = client.get("/auth/token").json()["access_token"]
    client.headers["Authorization"] = f"Bearer {token}"
    yield client
    purge_cached_app()


def log_events(api, ti) -> list[str]:
    """The task instance's log as the UI gets it (the api-server's log endpoint): its events."""
    r = api.get(f"/api/v2/dags/{DAG_ID}/dagRuns/{ti.run_id}/taskInstances/{ti.task_id}/logs/{ti.try_number}",
                params={"map_index": ti.map_index})
    assert r.status_code == 200, r.text
    return [str(m.get("event", "")) for m in r.json()["content"]]


def test_item3_every_make_run_run_stays_with_its_real_duration_and_task_logs(airflow_db, tmp_path, api):
    from airflow.models import DagRun, TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import func, select

    from trident1_aiq.console.airflow_side import dag_state
    from trident1_aiq.console.app import _fmt_seconds

    with create_session() as session:
        before = session.scalar(select(func.count()).select_from(DagRun).where(DagRun.dag_id == DAG_ID))
    launched = datetime.now(UTC)
    # a malformed Variable: the run fails at check_config; then the same day again, successfully
    failed_rc, failed_id, failed_out = make_run(tmp_path, AIRFLOW_VAR_TRIDENT1_INTEGRATION='{"not json')
    assert failed_rc == 1, failed_out
    ok_rc, ok_id, out = make_run(tmp_path)
    assert ok_rc == 0, out
    assert failed_id != ok_id

    with create_session() as session:
        runs = {r.run_id: r for r in session.scalars(select(DagRun).where(DagRun.run_id.in_([failed_id, ok_id])))}
        assert session.scalar(select(func.count()).select_from(DagRun).where(DagRun.dag_id == DAG_ID)) == before + 2
        assert set(runs) == {failed_id, ok_id}  # the failed run is still there after the same day ran again
        assert (str(runs[failed_id].state), str(runs[ok_id].state)) == ("failed", "success")
        for run in runs.values():
            assert run.conf == {"business_date": "2026-11-20"}  # the business day, as a trigger from the UI gives it
            assert launched - timedelta(seconds=5) <= run.start_date <= run.end_date <= datetime.now(UTC)
            assert (run.end_date - run.start_date).total_seconds() < 120  # seconds, not days since a logical date

        tis = session.scalars(select(TaskInstance).where(TaskInstance.run_id.in_([failed_id, ok_id]))).all()
        ran = {(ti.run_id, ti.task_id, ti.map_index): ti for ti in tis if ti.try_number >= 1}
        assert {t for r, t, _ in ran if r == failed_id} >= {"check_config", "run_report"}
        assert {t for r, t, _ in ran if r == ok_id} == {"check_config", "ingest", "loyalty", "opt_in", "run_report"}
        for key, ti in ran.items():
            assert ti.hostname and ti.start_date and ti.end_date, key  # run by a supervised process, as a worker's
            events = log_events(api, ti)
            assert "::group::Pre Execute" in events, (key, events[:8])  # the task's own log, not "no log found"
            if ti.state == "success":
                assert any(e.startswith("Done. Returned value was") for e in events), (key, events)
        reason = log_events(api, ran[(failed_id, "check_config", -1)])
        assert any("malformed" in e for e in reason), reason  # why the run failed, in the UI's log

        state = dag_state(session)  # the console's Integration health: its runs and their durations

    # No key reaches a log in clear: the tasks' own files of both runs (what the UI shows; a
    # key that slipped past Airflow's secrets masker would be there in clear), make run's log of
    # Airflow's output (make-run.log, rewritten by each run: the second run's), and what both runs
    # printed on stdout and stderr. Each is found and read (none may be empty).
    secrets = ("sandbox-acme-key", "sandbox-bolt-key", "sandbox-sms-token")
    task_logs = [p for p in (Path(os.environ["AIRFLOW_HOME"]) / "logs").rglob("*")
                 if p.is_file() and (failed_id in str(p) or ok_id in str(p))]
    assert len(task_logs) >= len(ran), task_logs
    texts = {str(p): p.read_text(errors="replace") for p in [*task_logs, tmp_path / "make-run.log"]}
    texts["output of the failed run"], texts["output of the run"] = failed_out, out
    for where, text in texts.items():
        assert text.strip(), where
        leaked = [s for s in secrets if s in text]
        assert not leaked, (where, leaked)

    listed = {r["dag_run_id"]: r for r in api.get(f"/api/v2/dags/{DAG_ID}/dagRuns", params={"limit": 100}).json()["dag_runs"]}
    assert {failed_id, ok_id} <= set(listed)  # what the UI's grid lists
    assert listed[failed_id]["state"] == "failed"
    shown = {r["run_id"]: r for r in state["runs"]}
    for run_id in (failed_id, ok_id):
        assert shown[run_id]["business_date"] == "2026-11-20"
        assert _fmt_seconds(shown[run_id]["seconds"]).endswith(" s"), shown[run_id]  # "12 s", not "16174.0 min"
