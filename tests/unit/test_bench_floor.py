"""`make bench`'s floor arm and issue 20's report, without a bench run: the rounds' order, the ratios,
the targets' rows and the floor script's own reading and loading."""

from __future__ import annotations

import pytest

from benchmarks import bench, floor_arm

from .test_bench_dlt import dlt_only_result, pair

pytestmark = pytest.mark.unit


def test_rounds_rotate_the_order_of_the_arms():
    assert [bench.round_order(n, ["dlt", "floor"]) for n in range(4)] == [
        ["project", "dlt", "floor"], ["dlt", "floor", "project"], ["floor", "project", "dlt"],
        ["project", "dlt", "floor"]]
    assert bench.round_order(1, []) == ["project"]


def with_floor(r: dict, floor_s: list[float], rerun_s: float | None = None) -> dict:
    first = r["runs"]["postgresql"]["first"]
    runs = [{"total_s": f, "peak_rss_mb": 90.0, "lines": 283_306, "steps": {"extract": f - 1, "load": 1.0}}
            for f in floor_s]
    r["floor"] = {"runs": runs, "script": "benchmarks/floor_arm.py",
                  "pairs": [bench.make_floor_pair(k + 1, "project→dlt→floor", first[k], runs[k])
                            for k in range(len(runs))]}
    if rerun_s is not None:
        r["runs"]["postgresql"]["rerun"] = [dict(first[0], total_s=rerun_s)]
    return r


def test_project_over_floor_is_the_median_of_the_rounds_and_each_target_is_a_row():
    r = with_floor(dlt_only_result([pair(1, 80.0, 40.0), pair(2, 80.0, 42.0), pair(3, 80.0, 41.0)]),
                   [10.0, 40.0, 50.0], rerun_s=16.0)
    s = bench.summarise(r)
    assert s["floor"]["ratio_of_pairs"] == 2.0  # median of 8.0, 2.0, 1.6
    assert s["floor"]["floor_s"] == 40.0 and s["floor"]["steps"] == {"extract": 39.0, "load": 1.0}
    rows = {t["target"]: t for t in s["issue20_targets"]}
    assert rows["End to end ≤ 2.0 × the floor arm (postgresql)"]["met"] is True  # the boundary meets it
    assert rows["End to end ≤ 2.5 × the floor arm (sqlite)"]["met"] is None  # no SQLite run: not measured
    assert rows["Peak RSS ≤ 250 MB at 98,644 sales (PostgreSQL)"]["met"] is False  # 484 MB
    assert rows["Rerun of the unchanged day ≤ 0.25 × the first run (postgresql)"]["met"] is True  # 16 / 80
    assert rows["Peak RSS at 3 × the sales ≤ 1.1 × the base figure"]["met"] is None
    assert "1.95×" in rows["Project ÷ dlt (reported; the issue expects ≈ 0.4)"]["measured"]  # 80 / 41
    md = bench.markdown(r, s)
    assert "## Against the floor: project ÷ floor = 2.00× (median of 3 interleaved pairs)" in md
    assert "| 2 | project→dlt→floor | 80.0 | 40.0 | 2.00× |" in md
    assert "| load | 13.8 | 14.0 |" in md and "| validate | 6.9 | — |" in md  # stage seconds before and after
    assert "| End to end ≤ 2.0 × the floor arm (postgresql) | 2.00× (median of 3 interleaved pairs" in md
    assert "| Rerun of the unchanged day ≤ 0.25 × the first run (postgresql) | 16.0 s / 80.0 s = 0.20× | yes |" in md


def test_a_slower_pipeline_misses_the_floor_target():
    r = with_floor(dlt_only_result([pair(1, 80.0, 40.0)]), [30.0])
    rows = {t["target"]: t for t in bench.summarise(r)["issue20_targets"]}
    assert rows["End to end ≤ 2.0 × the floor arm (postgresql)"]["met"] is False  # 2.67×


def test_the_floor_keeps_the_newest_version_of_each_record_and_writes_text():
    class Session:
        def __init__(self, pages):
            self.pages = pages

        def get(self, url, params, timeout):
            body = self.pages[params.get("cursor", "")]
            return type("R", (), {"content": body, "raise_for_status": lambda self: None})()

    pages = {"": b'{"data": [{"id": "S-1", "updated_at": "2026-11-25T10:00:00Z", "total": "1.00"},'
                 b' {"id": null}], "next_cursor": "p2"}',
             "p2": b'{"data": [{"id": "S-1", "updated_at": "2026-11-25T11:00:00Z", "total": "84,OO"}],'
                   b' "next_cursor": null}'}
    got = floor_arm.read_all(Session(pages), "http://x", "sales", {}, floor_arm.Sale)
    assert list(got) == ["S-1"] and got["S-1"].total == "84,OO"  # the newer version; malformed money kept as text
    assert floor_arm.text(7) == "7" and floor_arm.text(None) is None
