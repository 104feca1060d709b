"""``make bench-fleet``'s arithmetic and report (benchmarks/fleet.py), without starting Airflow: the
measured runs themselves take minutes and are not part of the suite."""

from __future__ import annotations

import argparse
import json
import os

import pytest

from benchmarks import fleet

pytestmark = pytest.mark.unit


def run(n: int, mix: str, worker_cpu: float, sales: int, *, state: str = "success", served: int | None = None):
    r = {"n": n, "account_sales": mix, "state": state, "wall_s": 2.0 * n, "worker_cpu_s": worker_cpu,
         "sales_loaded": sales, "sales_served": sales if served is None else served,
         "cpu_s": {"scheduler": 3.0, "dag-processor": 1.0, "api-server": 2.0, "sandbox": 4.0},
         "grid_ms": {"structure": 10.0, "runs": 20.0, "ti_summaries": 30.0, "total": 60.0},
         "locks": fleet.lock_summary([(0, 0.0), (3, 1.25), (1, 0.5)]),
         "load_avg": {"start": [1.5, 1.0, 1.0], "end": [2.5, 2.0, 1.0]},
         "tasks": fleet.task_summary([("check_config", -1, "success", 1, 4.0),
                                      ("ingest", 0, "success", 1, 10.0), ("ingest", 1, "failed", 3, 12.5),
                                      ("loyalty", -1, "success", 1, 2.0)]),
         "ingest_s_per_credential": 0.5, "workers": 2, "concurrency": 2}
    return r | fleet.derived(r)


def test_derived_figures_divide_the_workers_cpu_by_credentials_and_sales():
    r = run(20, "100:2000", worker_cpu=50.0, sales=10_000)
    assert r["cpu_per_credential_s"] == 2.5
    assert r["cpu_per_sale_ms"] == 5.0
    assert r["wall_per_credential_s"] == 2.0
    assert r["sales_per_credential"] == 500.0
    assert r["loaded_equals_served"]
    assert not run(20, "100:2000", 50.0, 10_000, served=10_001)["loaded_equals_served"]


def test_lock_and_task_summaries():
    assert fleet.lock_summary([(0, 0.0), (3, 1.25), (1, 0.5)]) == {
        "samples": 3, "samples_with_waiters": 2, "max_waiting": 3, "mean_waiting": 1.333, "max_wait_s": 1.25}
    assert fleet.lock_summary([])["max_waiting"] == 0
    tasks = run(2, "1:3", 1.0, 2)["tasks"]
    assert tasks["ingest"] == {"instances": 2, "states": {"success": 1, "failed": 1}, "tries": 4,
                               "sum_s": 22.5, "max_s": 12.5}


def test_flat_cost_ratio_compares_the_largest_n_with_twenty_of_the_same_mix_only():
    runs = [run(20, "100:2000", 50.0, 10_000), run(200, "100:2000", 550.0, 110_000),
            run(2000, "100:2000", 9000.0, 1_000_000, state="failed"),  # a failed run is no evidence
            run(200, "1:3", 100.0, 400)]  # no N = 20 of this mix: no ratio
    (flat,) = fleet.flat_cost(runs)
    assert flat == {"account_sales": "100:2000", "n": 200, "ratio": 1.1, "per_sale_ratio": 1.0, "met": True}
    assert not fleet.flat_cost([run(20, "100:2000", 50.0, 10_000), run(200, "100:2000", 650.0, 100_000)])[0]["met"]  # 1.3


def test_split_costs_take_the_fixed_cost_from_the_tiny_mix_and_the_rest_per_sale():
    runs = [run(200, "1:3", 100.0, 400), run(200, "100:2000", 1300.0, 120_400)]
    (split,) = fleet.split_costs(runs)
    # 0.5 s fixed; (6.5 − 0.5) s over (602 − 2) further sales per credential = 10 ms a sale
    assert split == {"n": 200, "fixed_cpu_per_credential_s": 0.5, "cpu_per_sale_ms": 10.0, "mix": "100:2000"}


def test_report_has_a_row_per_run_the_ratio_and_merges_with_earlier_results(tmp_path):
    earlier = fleet.merge(None, [run(20, "100:2000", 50.0, 10_000), run(20, "1:3", 10.0, 40)])
    earlier["notes"] = ["N = 2,000 not run"]
    big = run(200, "100:2000", 550.0, 110_000) | {"postgres_cpu_s": {"warehouse": 80.5, "metadata": 9.0},
                                                   "machine_busy_cpu_s": 700.0, "warehouse_mb": 321.5,
                                                   "rows": {"personas": 9_000, "ledger": 100_000,
                                                            "opt_in_requests": 5_000, "opt_ins_sent": 4_000}}
    result = fleet.merge(earlier, [big, run(20, "1:3", 12.0, 40)])
    assert [(r["n"], r["account_sales"], r["worker_cpu_s"]) for r in result["runs"]] == [
        (20, "100:2000", 50.0), (200, "100:2000", 550.0), (20, "1:3", 12.0)]  # the new 20 @ 1:3 replaced the old
    fleet.write_results(tmp_path, result)
    md = (tmp_path / "fleet.md").read_text()
    assert json.loads((tmp_path / "fleet.json").read_text())["runs"] == json.loads(json.dumps(result["runs"]))
    # workers' CPU per credential 550 / 200; every Airflow component's (550 + 3 + 1 + 2) / 200
    assert "| 200 | 100:2000 (mean 550) | 110,000 = 110,000 | 2 | 400.0 | 2.000 | 2.750 | 2.780 | 5.000 |" in md
    assert "| 200 | 100:2000 | 550.0 | 3.0 | 1.0 | 2.0 | 4.0 | 80.5 | 9.0 | 700.0 | 800 |" in md  # by component
    assert "| 20 | 100:2000 | 50.0 | 3.0 | 1.0 | 2.0 | 4.0 | – | – | – | 80 |" in md  # not sampled: dashes
    assert "N = 200 ÷ N = 20: **1.10** (met)" in md
    assert "| 3, 1.2 |" in md  # lock waits: most backends waiting at once, the longest wait
    assert "| 9,000 | 100,000 | 5,000 (4,000) | 321.5 |" in md  # what loyalty and opt_in worked through
    assert "| 200 | 100:2000 | 2 × 2 | – |" in md  # settings not recorded: dashes
    assert "* N = 2,000 not run" in md
    assert md.count("\n| 20 | 1:3") == 4  # one row in each of the four tables


def test_parse_mix_and_cpu_of_a_process_tree():
    assert fleet.parse_mix("100:2000") == (100, 2000)
    with pytest.raises(argparse.ArgumentTypeError):
        fleet.parse_mix("5:1")
    sum(i * i for i in range(200_000))  # some CPU of our own
    assert fleet.tree_cpu(os.getpid()) > 0
    assert fleet.tree_cpu(2**22 + 12345) == 0.0  # gone (above pid_max's default): nothing to count
