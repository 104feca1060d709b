"""A task body gets its run's facts, read once from the Airflow context (issue 12)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime

import pytest

from trident1_aiq.airflow.adapter import RunFacts, run_facts

pytestmark = pytest.mark.unit


class TI:
    def __init__(self, xcom):
        self.xcom, self.asked = xcom, []

    def xcom_pull(self, task_ids):
        self.asked.append(task_ids)
        return self.xcom


def context(ti=None, start_date=datetime(2026, 11, 26, 0, 5, tzinfo=UTC)):
    run = type("R", (), {"run_after": datetime(2026, 11, 26, tzinfo=UTC), "start_date": start_date})()
    return {"run_id": "scheduled__2026-11-25", "params": {}, "data_interval_start": datetime(2026, 11, 25, tzinfo=UTC),
            "dag_run": run, "ti": ti}


def test_facts_of_a_run():
    facts = run_facts(context())
    assert (facts.run_id, facts.business_date, facts.now) == \
        ("scheduled__2026-11-25", date(2026, 11, 25), datetime(2026, 11, 26, tzinfo=UTC))
    assert abs((facts.clock() - datetime.now(UTC)).total_seconds()) < 5  # the real clock, not the run's instant
    assert facts.config_checked is False
    with pytest.raises(dataclasses.FrozenInstanceError):
        facts.run_id = "other"  # type: ignore[misc]


def test_the_runs_instant_is_its_run_after_whatever_its_start_and_never_the_wall_clock():
    """Clearing a run resets its start_date (and a run cleared while queued has none): the instant
    that keys request rows and expiry must not move with it (issue 19 item 3)."""
    first = run_facts(context()).now
    assert run_facts(context(start_date=datetime(2026, 11, 27, 9, tzinfo=UTC))).now == first  # after a clear
    assert run_facts(context(start_date=None)).now == first
    with pytest.raises(ValueError, match="run_after"):
        run_facts({"run_id": "r", "params": {"business_date": "2026-11-25"}, "dag_run": object()})


def test_after_check_asks_check_configs_xcom_only_when_told():
    ti = TI(["trident1_acme"])
    assert run_facts(context(ti)).config_checked is False and ti.asked == []
    assert run_facts(context(ti), after_check=True).config_checked is True and ti.asked == ["check_config"]
    assert run_facts(context(TI(None)), after_check=True).config_checked is False


def test_later_steps_skip_when_check_config_did_not_pass():
    from airflow.sdk.exceptions import AirflowSkipException

    from trident1_aiq.airflow.adapter import settings_or_skip

    with pytest.raises(AirflowSkipException):
        settings_or_skip(RunFacts("r", date(2026, 11, 25), datetime(2026, 11, 26, tzinfo=UTC)))
