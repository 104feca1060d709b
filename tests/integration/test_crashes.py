"""SIGKILL at each dangerous point, then rerun: the warehouse matches a clean run and the SMS
gateway shows no second text (issue 7, item 2)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from trident1_aiq.warehouse import Warehouse
from trident1_sandbox import SandboxState, ServerThread

from ..factories import identity_snapshot
from .crash_runner import NOW, POINTS

pytestmark = pytest.mark.integration
RUNNER = Path(__file__).with_name("crash_runner.py")


def run(port, url, run_id, crash=None):
    """The day in a separate process; with ``crash``, the runner arms that point (a test-side
    wrapper around the product function that runs there) and the process SIGKILLs itself."""
    args = [sys.executable, str(RUNNER), str(port), url, run_id] + ([crash] if crash else [])
    return subprocess.run(args, env=dict(os.environ), timeout=300, capture_output=True, text=True, check=False)


def state(wh, server):
    snap = identity_snapshot(wh)
    with wh.begin() as conn:
        snap["opt_in"] = sorted(tuple(r) for r in conn.execute(
            text("SELECT persona_id, attempt, status, message_id FROM opt_in_requests")))
    keys = [m["key"] for m in server.state.messages.values()]
    snap["texts"] = sorted(keys)
    return snap


@pytest.fixture(scope="module")
def clean_states():
    """The clean run's end state, per database kind (computed once)."""
    return {}


@pytest.mark.parametrize("point", POINTS)
def test_sigkill_then_rerun_matches_a_clean_run(point, warehouse, clean_states):
    url = warehouse.url.render_as_string(hide_password=False)
    kind = warehouse.dialect
    if kind not in clean_states:
        ref = Warehouse(url)
        with ServerThread(SandboxState(now=NOW)) as server:
            done = run(server.port, url, "clean")
            assert done.returncode == 0, done.stderr[-3000:]
            clean_states[kind] = state(ref, server)
        with ref.begin() as conn:  # empty the warehouse again for the crash run
            for table in ("opt_in_requests", "sms_replies", "sms_opt_outs", "refund_reconciliations",
                          "discount_redemptions", "loyalty_ledger", "sale_items", "sale_discounts", "refunds",
                          "sales", "persona_sources", "personas", "quarantine", "etl_run_locations", "etl_runs",
                          "trident1_locations", "trident1_discounts"):
                conn.execute(text(f"DELETE FROM {table}"))
        ref.dispose()
    with ServerThread(SandboxState(now=NOW)) as server:
        crashed = run(server.port, url, "run-1", crash=point)
        assert crashed.returncode == -signal.SIGKILL, crashed.stderr[-3000:]
        again = run(server.port, url, "run-1")
        assert again.returncode == 0, again.stderr[-3000:]
        end = state(warehouse, server)
        posts = len(server.state.message_log)
    assert end == clean_states[kind]  # rows, money, points and texts, as one clean run
    if point == "optin.after_accept":
        assert posts == len(end["texts"]) + 1  # the rerun asked again for one text, and got no second one
