"""`make bench`'s dlt reference arm, without dlt or a bench run: the pairs' arithmetic, the report, the
dlt configuration the arm hands to ``rest_api_source``, and the memory probe's formatting."""

from __future__ import annotations

import sys
from types import SimpleNamespace

import pytest

from benchmarks import bench, dlt_arm

pytestmark = pytest.mark.unit


def pair(n: int, project_s: float, dlt_s: float, project_rss: float = 400.0, dlt_rss: float = 170.0) -> dict:
    return bench.make_pair(n, "project→dlt" if n % 2 else "dlt→project",
                           {"total_s": project_s, "peak_rss_mb": project_rss, "lines_new": 278_566},
                           {"total_s": dlt_s, "peak_rss_mb": dlt_rss, "lines": 283_306})


def test_pairs_give_the_median_of_per_pair_ratios_and_the_ratio_of_medians():
    # A slow neighbour hit pair 3: both arms slowed, its ratio did not move; the medians disagree.
    pairs = [pair(1, 80.0, 40.0), pair(2, 60.0, 40.0), pair(3, 150.0, 100.0)]
    s = bench.summarise_pairs(pairs)
    assert s["n"] == 3
    assert s["project_s"] == 80.0 and s["dlt_s"] == 40.0
    assert s["ratio_of_pairs"] == 1.5  # median of 2.0, 1.5, 1.5
    assert s["ratio_of_medians"] == 2.0  # 80 / 40
    assert s["project_range_s"] == [60.0, 150.0] and s["dlt_range_s"] == [40.0, 100.0]
    assert s["project_rss_mb"] == 400.0 and s["dlt_rss_mb"] == 170.0
    assert [p["ratio"] for p in pairs] == [2.0, 1.5, 1.5]
    assert [p["order"] for p in pairs] == ["project→dlt", "dlt→project", "project→dlt"]


def test_issue_14_targets_met_and_missed():
    fast = bench.summarise_pairs([pair(1, 20.0, 40.0, project_rss=300.0), pair(2, 28.0, 40.0, project_rss=300.0)])
    met = bench.dlt_targets(fast, (300_000, 320.0, 98_644, 300.0))
    assert [ok for _, _, ok in met] == [True, True, True]
    assert "0.60×" in met[0][1] and "300,000 sales ≤ 1.1 × the 98,644-sale figure" in met[2][0]

    slow = bench.summarise_pairs([pair(1, 80.0, 40.0, project_rss=484.0)])
    missed = bench.dlt_targets(slow, None)
    assert [ok for _, _, ok in missed] == [False, False, None]  # no scale run: not measured, not "no"
    assert "2.00×" in missed[0][1] and "367 MB" in missed[1][0] and "not measured" in missed[2][1]
    # the boundary itself meets the target
    assert bench.dlt_targets(bench.summarise_pairs([pair(1, 67.0, 100.0)]), None)[0][2] is True


def dlt_only_result(pairs: list[dict]) -> dict:
    first = {"total_s": 80.0, "lines_new": 278_566, "sales_read": 98_644, "peak_rss_mb": 484.0,
             "peak_rss_ingest_mb": 480.0,
             "stages": {"extract": 12.0, "normalize": 15.0, "load": 14.0, "loyalty": 10.0}}
    runs = [{"total_s": p["dlt_s"], "peak_rss_mb": p["dlt_rss_mb"], "lines": p["dlt_lines"], "dlt": "1.31.0",
             "steps": {"setup": 0.1, "extract": 10.0, "normalize": 18.0, "load": 8.0}} for p in pairs]
    return {"when": "2026-11-28T00:00:00Z", "note": "Shared machine.",
            "machine": {"cpus": 2, "python": "3.11.7", "loadavg_start": [1.0, 1.0, 1.0], "loadavg_end": [2.0, 2.0, 2.0]},
            "params": {"sales": 100_000, "locations": 20, "repeats": len(pairs), "chunk_size": 10_000,
                       "business_day": "2026-11-25", "dlt_only": True},
            "runs": {"postgresql": {"first": [first] * len(pairs), "rerun": []}},
            "references": {"copy": [], "naive": []},
            "dlt": {"runs": runs, "pairs": pairs, "requirements": "benchmarks/requirements-dlt.txt",
                    "version": "1.31.0"}}


def test_dlt_only_report_has_the_against_dlt_section_and_no_reference_or_rerun_targets():
    r = dlt_only_result([pair(1, 80.0, 40.0), pair(2, 78.0, 42.0), pair(3, 90.0, 41.0)])
    s = bench.summarise(r)
    names = [t["target"] for t in s["targets"]]
    assert not any("COPY" in n or "to_sql" in n or "Rerun" in n for n in names)
    assert any("25,000 sale lines/s" in n for n in names)
    assert s["dlt"]["steps"] == {"setup": 0.1, "extract": 10.0, "normalize": 18.0, "load": 8.0}
    md = bench.markdown(r, s)
    assert "## Against dlt: project ÷ dlt = 2.00× (median of 3 interleaved pairs; above 1: the project is slower)" in md
    assert "| in-process s, median | 80.0 | 41.0 | 1.95× (of the medians) |" in md
    assert "| peak RSS MB (VmHWM), median | 400.0 | 170.0 |" in md
    assert "| 2 | dlt→project | 78.0 | 42.0 | 1.86× | 400.0 | 170.0 |" in md
    assert "normalize 18.0 (44%)" in md and "dlt 1.31.0" in md
    assert "| End to end ≤ 0.67 × dlt" in md and "| **no** |" in md and "| — |" in md
    assert "## References" not in md and "Rerun of the same" not in md
    assert "Peak RSS by the end of ingestion (before loyalty): 480.0 MB." in md
    assert "Shared machine. Load average (1, 5, 15 min): [1.0, 1.0, 1.0] at the start" in md


def test_dlt_gets_a_password_and_the_fresh_database():
    assert bench.dlt_dsn("postgresql://postgres@127.0.0.1:5432/postgres", "t1_bench_ab") == \
        "postgresql://postgres:bench@127.0.0.1:5432/t1_bench_ab"
    assert bench.dlt_dsn("postgresql+psycopg://u:secret@db.local/postgres?sslmode=disable", "x") == \
        "postgresql://u:secret@db.local/x?sslmode=disable"


def test_the_dlt_arm_configures_rest_api_source_as_issue_14_says():
    cfg = dlt_arm.rest_api_config("http://127.0.0.1:1/api/v1", "chain", "k", "2026-11-23T00:00:00Z",
                                  "2026-11-26T00:00:00Z")
    client = cfg["client"]
    assert client["auth"] == {"type": "bearer", "token": "k"} and client["headers"] == {"X-Trident1-Store": "chain"}
    assert client["paginator"] == {"type": "cursor", "cursor_path": "next_cursor", "cursor_param": "cursor"}
    assert cfg["resource_defaults"] == {"primary_key": "id", "write_disposition": "merge",
                                        "endpoint": {"data_selector": "data"}}
    assert [r["name"] for r in cfg["resources"]] == ["customers", "sales", "refunds"]
    for r in cfg["resources"]:
        assert r["endpoint"] == {"path": r["name"], "params": {"updated_since": "2026-11-23T00:00:00Z",
                                                                "updated_before": "2026-11-26T00:00:00Z", "limit": 500}}
        (step,) = r["processing_steps"]
        assert step["filter"]({"id": "S-1"}) and not step["filter"]({"id": None}) and not step["filter"]({})
    assert dlt_arm.LOADER_FILE_FORMAT == "csv" and dlt_arm.SETTINGS["DATA_WRITER__DISABLE_COMPRESSION"] == "true"
    assert "dlt" not in sys.modules  # building the configuration needs no dlt (it lives in .venv-dlt)


def test_dlt_requirements_pin_every_package():
    lines = [x for x in bench.DLT_REQUIREMENTS.read_text().splitlines() if x and not x.startswith("#")]
    assert lines[0] == "dlt[postgres]==1.31.0"
    assert all("==" in x for x in lines) and any(x.startswith("psycopg2-binary==") for x in lines)


def test_memory_probe_lists_the_sites_that_grew_most():
    def diff(filename: str, line: int, grew: int, blocks: int, size: int):
        return SimpleNamespace(traceback=[SimpleNamespace(filename=filename, lineno=line)], size_diff=grew,
                               count_diff=blocks, size=size)

    diffs = [diff("/x/lib/python3.11/site-packages/pandas/core/frame.py", 10, 2048, 3, 4096),
             diff(str(bench.ROOT / "plugins" / "trident1_aiq" / "ingest" / "client.py"), 99, 10 * 1024, 40, 10 * 1024),
             diff("/x/lib/python3.11/json/decoder.py", 353, -5000, -2, 0)]  # shrank: not listed
    top = bench.top_growth(diffs, n=10)
    assert top == [{"site": "trident1_aiq/ingest/client.py:99", "grew_kb": 10.0, "blocks": 40, "now_kb": 10.0},
                   {"site": "pandas/core/frame.py:10", "grew_kb": 2.0, "blocks": 3, "now_kb": 4.0}]
    assert bench.short_site("/usr/lib/python3.11/json/decoder.py", 353) == "json/decoder.py:353"
    assert len(bench.top_growth([diff("/a.py", n, n + 1, 1, 1) for n in range(20)], n=10)) == 10


def test_memory_probe_takes_its_baseline_after_the_first_validated_chunk():
    import tracemalloc

    if tracemalloc.is_tracing():
        pytest.skip("tracemalloc is already on in this process")
    probe = bench.MemoryProbe()
    try:
        probe.after_chunk("customer", validated=False)  # customers: not validated, no baseline yet
        assert probe.first is None
        probe.after_chunk("sale", validated=True)
        held = [bytearray(1024) for _ in range(2000)]  # ~2 MB that stays to the end
        probe.after_chunk("sale", validated=True)
        probe.phase("ingest")
        passing = [bytearray(1024) for _ in range(4000)]  # ~4 MB for a moment, in "loyalty"
        del passing
        report = probe.report()
    finally:
        if tracemalloc.is_tracing():
            tracemalloc.stop()
    assert len(held) == 2000
    assert report["fullest_at"] == "chunk 3 (sale)"
    top = report["top_growth"][0]
    assert "test_bench_dlt.py" in top["site"] and top["grew_kb"] >= 2000 and top["blocks"] >= 2000
    assert report["top_growth_fullest"][0]["site"] == top["site"]
    assert len(report["top_growth"]) <= 10
    phases = report["traced_peak_by_phase_mb"]
    assert set(phases) == {"ingest", "loyalty"} and phases["loyalty"] >= phases["ingest"] + 3
    assert report["traced_peak_mb"] == max(phases.values())


def test_pairs_in_words():
    assert bench.pairs(1) == "one pair"
    assert bench.pairs(3) == "median of 3 interleaved pairs"
