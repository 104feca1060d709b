"""RunCounts: one counts type for every step of a run."""

from __future__ import annotations

from collections import Counter

import pytest

from trident1_aiq.runs import MEASURES, RunCounts

pytestmark = pytest.mark.unit


def test_counts_per_place_and_totals():
    c = RunCounts("loyalty")
    c.add("points_earned", 10, at="trident1_acme")
    c.add("points_earned", 5, at="trident1_bolt")
    c.add("points_earned", Counter({"trident1_acme": 2, "trident1_bolt": 0}))
    c.add("earn_entries")
    c.add("earn_entries", 0)
    assert c["points_earned"] == c.points_earned == 17
    assert c.by("points_earned") == Counter({"trident1_acme": 12, "trident1_bolt": 5})
    assert c.earn_entries == 1 and c.by("earn_entries") == Counter()  # counted with no place


def test_a_measure_of_another_step_is_refused():
    c = RunCounts("opt_in")
    with pytest.raises(KeyError, match="points_earned"):
        c.add("points_earned", 1)
    with pytest.raises(AttributeError):
        _ = c.points_earned
    with pytest.raises(ValueError):
        RunCounts("nope")


@pytest.mark.parametrize("step", MEASURES)
def test_one_summary_shape_for_every_step(step):
    c = RunCounts(step)
    c.notes.append("n")
    with c.step("work"):
        pass
    summary = c.summary()
    assert list(summary) == [*MEASURES[step], "notes", "errors", "step_seconds"]
    assert all(summary[m] == 0 for m in MEASURES[step])
    assert summary["notes"] == ["n"] and summary["errors"] == [] and set(summary["step_seconds"]) == {"work"}
