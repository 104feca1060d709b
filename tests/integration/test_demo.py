"""`make run` (python -m trident1_aiq demo) as a user meets it (issue 19, items 10 and 12): a Connection
the user gave is the one used, and says so; a failed run ends with a summary naming the reason, after
a short output (Airflow's own lines go to a file)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from ..factories import ROOT, RefusesEveryKey

pytestmark = [pytest.mark.integration, pytest.mark.dag]


def test_item10_item12_make_run_uses_the_users_connection_and_ends_with_why_it_failed(airflow_db, tmp_path):
    refusing = RefusesEveryKey()
    try:
        mine = {"conn_type": "http", "host": "127.0.0.1", "port": refusing.port, "schema": "http",
                "password": "my-wrong-key", "extra": {"store_name": "bolt"}}
        env = dict(os.environ, PYTHONPATH=str(ROOT / "plugins"), AIRFLOW_CONN_TRIDENT1_BOLT=json.dumps(mine))
        env.pop("AIRFLOW_CONN_WAREHOUSE_DEFAULT", None)
        done = subprocess.run([sys.executable, "-m", "trident1_aiq", "demo", "--day", "2026-11-20",
                               "--warehouse", str(tmp_path / "wh.db")], env=env, capture_output=True, text=True,
                              timeout=600, check=False)
    finally:
        refusing.close()
    out = done.stdout
    assert done.returncode == 1, out + done.stderr
    assert "trident1_bolt: yours (AIRFLOW_CONN_TRIDENT1_BOLT)" in out  # honoured, and said so
    assert "trident1_acme: the sandbox's" in out
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("=== trident1_sales_daily for 2026-11-20: failed"))
    assert start < 15, f"{start} lines of output before the summary:\n{out}"  # not ~150 lines of dag.test
    summary = "\n".join(lines[start:])
    assert "my-wrong-key" not in out + done.stderr + (tmp_path / "make-run.log").read_text()
    # the reason is in the summary, under what failed, naming the credential and the refusal
    assert any("trident1_bolt" in line and "401" in line for line in lines[start + 1:]), summary
    assert "warehouse totals (every day, every run):" in summary
    assert (tmp_path / "make-run.log").stat().st_size > 0  # Airflow's output is kept, not lost


def test_item10_a_connection_stored_in_airflow_or_given_in_the_environment_is_never_replaced(tmp_path):
    from trident1_aiq.dev.demo import connection_sources, run_env

    environ = {"AIRFLOW_CONN_TRIDENT1_BOLT": "http://mine", "PATH": "/usr/bin"}
    env = run_env("http://127.0.0.1:9999", tmp_path / "w.db", environ, stored={"trident1_acme"})
    assert set(env) == {"AIRFLOW_CONN_WAREHOUSE_DEFAULT", "AIRFLOW_CONN_AIQ_SMS_DEFAULT"}  # an env var would shadow acme's
    said = connection_sources("http://127.0.0.1:9999", tmp_path / "w.db", environ, stored={"trident1_acme"})
    assert "trident1_acme: yours (Airflow's metadata DB)" in said
    assert "trident1_bolt: yours (AIRFLOW_CONN_TRIDENT1_BOLT)" in said
    assert any(s.startswith("aiq_sms_default: the sandbox's (http://127.0.0.1:9999") for s in said)
