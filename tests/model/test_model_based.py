"""Model-based test of the whole pipeline (issue 11): hypothesis writes multi-day histories on an
independent fake of the Trident1 and SMS contracts; after every run the warehouse is compared
with a small reference model written from the domain rules.

Profiles (``MODEL_PROFILE``): ``ci`` (default; derandomized, bounded: part of ``make test``) and
``soak`` (``make soak``: many more and longer histories, random, failures saved in .hypothesis/).
"""

from __future__ import annotations

import logging
import os
import time
from collections import Counter
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, assume, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    precondition,
    rule,
    run_state_machine_as_test,
)

from . import adapter, compare
from .world import CUSTOMERS, MAPPABLE, PERSONS, PLACES, START, Harness, Settings

pytestmark = pytest.mark.model

PROFILES = {
    "ci": {"max_examples": int(os.environ.get("MODEL_EXAMPLES", "50")), "stateful_step_count": 8,
           "derandomize": True, "database": None},
    "soak": {"max_examples": int(os.environ.get("MODEL_EXAMPLES", "400")), "stateful_step_count": 20,
             "derandomize": False},
}
PROFILE = os.environ.get("MODEL_PROFILE", "ci")
for _name, _kw in PROFILES.items():
    settings.register_profile(f"model-{_name}", deadline=None, print_blob=True,
                              suppress_health_check=list(HealthCheck), **_kw)

LINES = st.lists(st.tuples(st.sampled_from(["1", "2", "0.5", "1.25"]),
                           st.sampled_from(["10.00", "35.50", "3.99", "120.00"]), st.booleans()),
                 min_size=1, max_size=3)
MINUTES = st.integers(1, 120)
STATS: Counter = Counter()


SALE = st.integers(0, 40)  # an existing sale, by index (modulo how many there are)
EVENT = st.one_of(
    st.tuples(st.just("sell"), st.sampled_from(PLACES), st.integers(0, 5), LINES,
              st.sampled_from(["completed"] * 4 + ["open"]), MINUTES, st.integers(1, 3)),
    st.tuples(st.just("change"), SALE, st.sampled_from(["refund_part", "refund_full", "void", "complete"]), MINUTES),
    st.tuples(st.just("paged"), SALE, st.sampled_from(["refund", "void", "complete"]), st.integers(2, 4)),
    st.tuples(st.just("touch"), st.sampled_from(sorted(CUSTOMERS)), MINUTES),
    st.tuples(st.just("remap"), st.sampled_from(MAPPABLE), st.sampled_from(["map", "unmap", "typo", "fix"])),
    st.tuples(st.just("reply"), st.sampled_from([p for p, v in PERSONS.items() if v.phone]),
              st.sampled_from(["YES", " stop ", "Y", "maybe"]), MINUTES),
)
RUN = {"days_back": st.sampled_from([0, 0, 1, 1, 2, 3]), "chunk": st.integers(3, 7), "page_limit": st.integers(1, 6),
       "seed": st.integers(0, 2**16), "crash_at": st.none() | st.integers(1, 4),
       "delay_minutes": st.sampled_from([0, 0, 50, 190]), "faults": st.booleans()}


class PipelineMachine(RuleBasedStateMachine):
    """One history per example: days of events, each followed by a run; ``wh`` is set by the test."""

    wh = None

    def __init__(self):
        super().__init__()
        STATS["histories"] += 1
        adapter.reset(self.wh)
        self.h: Harness | None = None

    @initialize(lookback=st.sampled_from([48, 24, 0]), age_compliant=st.sampled_from([True, True, True, False]),
                loyalty_from=st.integers(-1, 2), marketing_from=st.sampled_from([-3, -3, -1, 0]),
                unmapped=st.sets(st.sampled_from(MAPPABLE), max_size=2))
    def start(self, lookback, age_compliant, loyalty_from, marketing_from, unmapped):
        cfg = Settings(lookback_hours=lookback, age_compliant=age_compliant,
                       loyalty_enabled_at=START + timedelta(days=loyalty_from),
                       marketing_enabled_at=START + timedelta(days=marketing_from))
        self.h = Harness(self.wh, cfg, mapped=set(MAPPABLE) - unmapped)

    @rule(hours=st.sampled_from([0, 1, 2, 4, 22, 24, 7 * 24]), events=st.lists(EVENT, min_size=1, max_size=8),
          **RUN)
    def day(self, hours, events, **run):
        """Time passes, things happen at the counter and in the settings, then a run."""
        self.h.advance(hours)
        paged = 0
        for ev in events:
            kind, args = ev[0], ev[1:]
            if kind == "sell":  # a few sales in a row at one place, one customer
                for _ in range(args[-1]):
                    self.h.sell(*args[:-1])
            elif kind == "change" and self.h.sales:
                sale, what, minutes = args
                sale = self.h.sales[sale % len(self.h.sales)]
                if what.startswith("refund"):
                    self.h.refund(sale, what == "refund_full", minutes)
                else:
                    getattr(self.h, what)(sale, minutes)
            elif kind == "paged" and self.h.sales and paged < 3:
                paged += 1
                sale, what, at_request = args
                self.h.change_while_paged(self.h.sales[sale % len(self.h.sales)], what, at_request)
            elif kind == "touch":
                self.h.touch_customer(*args)
            elif kind == "remap":
                getattr(self.h, args[1])(args[0])
            elif kind == "reply":
                self.h.reply(*args)
        self._run(**run)

    def _run(self, **run):
        if "2" in adapter.PENDING_FIXES:  # defect 2 pending: the opt-in step sends at the run's instant
            run["delay_minutes"] = 0
        try:
            self.h.run(**run)
        except Exception as exc:
            defect = adapter.known_defect(exc)
            if defect:
                STATS[f"discarded (pending defect {defect})"] += 1
            assume(defect is None)  # a pending issue 11 defect: see test_regressions.py
            raise
        rec = self.h.runs[-1]
        STATS["runs"] += 1
        STATS["crashes"] += bool(rec.crashed)
        STATS["texts"] += rec.optin.sent if rec.optin else 0
        if os.environ.get("MODEL_DEBUG"):
            o = rec.optin
            STATS["optin created"] += o.created
            STATS["optin deferred"] += o.deferred
            for n in o.notes:
                STATS["note " + n[:30]] += 1
        STATS["sales loaded"] += len(self.h.ref.sales)
        compare.check(self.h)

    def teardown(self):
        STATS["histories completed"] += 1

    @precondition(lambda self: self.h is not None and self.h.runs and not self.h.dirty)
    @rule()
    def rerun(self):
        """The same run again (a retry, or a manual rerun): nothing changes, nobody is texted."""
        before = compare.Snapshot(self.wh, [])
        texts = dict(self.h.gateway.messages)
        args = dict(self.h.last_run_args, crash_at=None)
        self.h.t = self.h.runs[-1].now  # the same instant: the fake serves the same world
        self.h.gateway.now = self.h.runs[-1].send_from
        self._run(**args)
        after = compare.Snapshot(self.wh, [])
        assert after.sales == before.sales and after.refunds == before.refunds and after.open == before.open
        assert self.h.gateway.messages == texts


def _run_machine(wh):
    PipelineMachine.wh = wh
    STATS.clear()
    t0 = time.perf_counter()
    quiet = logging.getLogger("trident1_aiq")  # thousands of runs: their retry warnings are noise here
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        with adapter.validation_engine():
            run_state_machine_as_test(PipelineMachine, settings=settings.get_profile(f"model-{PROFILE}"))
    finally:
        quiet.setLevel(level)
        print(f"\nmodel-based test on {wh.dialect} (profile {PROFILE}): {STATS['histories']} histories, "
              f"{STATS['runs']} runs ({STATS['crashes']} with a crash), {STATS['texts']} texts, "
              f"{time.perf_counter() - t0:.0f} s; {dict(STATS)}")


def test_histories_match_the_reference_model(warehouse):
    """Rules 4, 6, 8–10, 12–19, 21–25 on SQLite and PostgreSQL (the ``warehouse`` fixture)."""
    _run_machine(warehouse)
