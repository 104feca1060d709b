"""`make bench` end to end at a tiny volume: it runs from a clone and reports every issue-6 target.

``--no-dlt``: the dlt reference arm needs its own virtualenv (a pip install); no test makes it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from ..factories import ROOT, require_postgres

pytestmark = [pytest.mark.integration, pytest.mark.postgres]


def test_bench_runs_and_reports_every_target(tmp_path):
    require_postgres()
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench.py"), "--sales", "400", "--locations", "4",
         "--repeats", "1", "--scale", "2", "--backfill-days", "2", "--no-dlt", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads((tmp_path / "latest.json").read_text())
    first = result["runs"]["postgresql"]["first"][0]
    assert first["sales_read"] > 300 and first["lines_new"] > first["sales_read"]
    assert set(first["stages"]) == {"extract", "compare", "normalize", "validate", "personas", "load", "loyalty"}
    rerun = result["runs"]["sqlite"]["rerun"][0]
    assert rerun["loaded"] == 0 and rerun["unchanged"] > 300  # the rerun changed nothing
    assert result["references"]["copy"][0]["lines"] == first["lines_total"]  # COPY of the same lines
    assert result["references"]["naive"][0]["sales"] >= first["sales_read"] - first["quarantined"]
    targets = [t["target"] for t in result["summary"]["targets"]]
    for needle in ("raw COPY", "25,000 sale lines/s", "to_sql", "SQLite ≥ 20,000", "GX validation",
                   "Peak RSS ≤ 500 MB", "× the", "Rerun", "backfill"):
        assert any(needle in t for t in targets), needle
    markdown = (tmp_path / "latest.md").read_text()
    assert "| extract |" in markdown and "## Targets" in markdown
    assert "dlt" not in result and "Against dlt" not in markdown
    floor = result["floor"]["pairs"][0]  # the floor arm ran in the same round, on the same served day
    assert floor["floor_lines"] >= first["lines_new"] and floor["ratio"] == round(first["total_s"] / floor["floor_s"], 3)
    issue20 = {t["target"]: t for t in result["summary"]["issue20_targets"]}
    assert isinstance(issue20["End to end ≤ 2.0 × the floor arm (postgresql)"]["met"], bool)
    assert "## Against the floor: project ÷ floor =" in markdown and "## Targets (issue 20)" in markdown
    plans = (tmp_path / "explain.md").read_text()  # one plan per hot statement (tiny tables: any plan)
    from benchmarks.explain import HOT

    assert plans.count("Execution Time") == len(HOT) and all(f"## {what}" in plans for what, _, _ in HOT)
