"""A flaky Trident1 API: the run ends with exactly the rows of a fault-free run (issue 7, item 1)."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from trident1_aiq.ingest.client import RetriesExhausted, RetryPolicy, Trident1Client
from trident1_aiq.ingest.pipeline import ingest_credential, prepare_run, run_window
from trident1_sandbox.app import Faults

from ..factories import DAY, NOW, credential_for, snapshot

pytestmark = pytest.mark.integration


def run(wh, server, settings, waits, attempts=8, run_id="run"):
    for name in ("acme", "bolt"):
        client = Trident1Client(credential_for(server, name), page_limit=40, timeout=(2.0, 0.4),
                                retry=RetryPolicy(attempts=attempts, base_delay=0.01, jitter=lambda: 0.5),
                                sleep=waits.append)
        ingest_credential(wh=wh, client=client, settings=settings, credential=f"trident1_{name}", run_id=run_id,
                          window=run_window(DAY, settings.integration.lookback_hours, NOW), now=NOW)


def clean_snapshot(wh, server, settings):
    """Empty the warehouse, run fault-free, and snapshot: the reference on the same database."""
    faults, server.state.faults = server.state.faults, Faults()
    with wh.begin() as conn:
        for table in ("sale_items", "sale_discounts", "refunds", "sales", "persona_sources", "personas",
                      "quarantine", "etl_run_locations", "etl_runs", "trident1_locations", "trident1_discounts"):
            conn.execute(text(f"DELETE FROM {table}"))
    prepare_run(wh, settings, NOW)
    run(wh, server, settings, [], run_id="clean")
    server.state.faults = faults
    return snapshot(wh)


def test_ten_percent_faults_give_exactly_the_fault_free_rows(warehouse, sandbox, settings):
    # ~10 % random faults of every kind, plus one of each kind for certain
    sandbox.state.faults = Faults(rate=0.10, retry_after=2, timeout_s=1.0, duplicate_pages=True, seed=11,
                                  script=[k for kind in ("429", "500", "502", "503", "504", "nonjson", "truncated",
                                                         "nodata", "timeout", "reset") for k in (kind, "", "")])
    prepare_run(warehouse, settings, NOW)
    waits: list[float] = []
    run(warehouse, sandbox, settings, waits)
    assert sandbox.state.faults_served >= 10  # faults really happened
    assert waits
    faulty = snapshot(warehouse)
    assert faulty == clean_snapshot(warehouse, sandbox, settings)


def test_each_wait_honours_retry_after(warehouse, sandbox, settings):
    sandbox.state.faults = Faults(script=["429", "503", "429"], retry_after=2)
    prepare_run(warehouse, settings, NOW)
    waits: list[float] = []
    run(warehouse, sandbox, settings, waits)
    assert waits[0] >= 2 and waits[2] >= 2 and waits[1] < 2  # the 5xx uses back-off instead


def test_fault_outlasting_the_budget_fails_clearly_and_a_rerun_completes(warehouse, sandbox, settings):
    prepare_run(warehouse, settings, NOW)
    sandbox.state.faults = Faults(script=["503"] * 4)
    with pytest.raises(RetriesExhausted) as err:
        run(warehouse, sandbox, settings, [], attempts=3)
    assert "gave up after 3 attempts" in str(err.value) and "trident1_acme" in str(err.value)
    run(warehouse, sandbox, settings, [], run_id="rerun")
    rerun = snapshot(warehouse)
    assert rerun == clean_snapshot(warehouse, sandbox, settings)
