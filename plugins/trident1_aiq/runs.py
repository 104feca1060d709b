"""A run's book (rule 27): what each step of a run counted, in one type, and every write
to ``etl_runs`` and ``etl_run_locations`` (SQL: ``include/sql/runs/queries.sql``).

A DAG run has one ``etl_runs`` row per credential: the credential's ingest starts and
finishes it, loyalty adds its points and the opt-in step its texts; per location, one
``etl_run_locations`` row. A configuration that fails writes one row for credential
``*`` and nothing else (rule 7). Reading the book back is ``report.py``.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from trident1_aiq.settings.config import Settings
    from trident1_aiq.warehouse import Warehouse

#: What each step of a run counts. Every measure is counted per place where that makes
#: sense — a location id (ingest), a credential (points), a store (texts), a persona
#: (negative balances) — and reported as its total.
MEASURES: dict[str, tuple[str, ...]] = {
    "ingest": ("records_read", "sales_read", "refunds_read", "customers_read", "loaded", "updated", "unchanged",
               "quarantined", "held", "released", "refunds_loaded", "personas_created", "personas_merged",
               "chunks", "duplicates_skipped"),
    "loyalty": ("enrolled", "enrollment_changed", "points_earned", "earn_entries", "redemptions", "points_redeemed",
                "points_reversed", "points_restored", "refunds_reconciled", "voids_reconciled",
                "refunds_waiting_for_sale", "negative_balances"),
    "opt_in": ("replies", "confirmed", "opted_out", "expired", "created", "sent", "deferred", "failed", "suppressed"),
}

#: etl_runs columns the ingest writes (its measures of the same names).
RUN_COLUMNS = ("records_read", "sales_read", "refunds_read", "customers_read", "loaded", "updated", "unchanged",
               "quarantined", "held", "released", "refunds_loaded", "personas_created", "personas_merged")
#: etl_run_locations columns: the ingest measures of the same names, per location.
LOCATION_COLUMNS = ("records_read", "loaded", "updated", "unchanged", "quarantined", "held", "released",
                    "refunds_loaded")


class RunCounts:
    """What one step of a run counted: one credential's ingest, loyalty, or the opt-ins.

    ``add(measure, n, at=place)`` counts; ``counts["sent"]`` (or ``counts.sent``) is a
    measure's total, ``counts.by("loaded")`` its count per place; ``notes`` and ``errors``
    are text for the run report; ``with counts.step("load"):`` times a step. ``summary()``
    is the same shape for every step: each measure's total, the notes, the errors and the
    seconds per step.
    """

    def __init__(self, step: str) -> None:
        if step not in MEASURES:
            raise ValueError(f"unknown step {step!r}: one of {', '.join(MEASURES)}")
        self.step_name = step
        self._counts: dict[str, Counter] = {m: Counter() for m in MEASURES[step]}
        self.notes: list[str] = []
        self.errors: list[str] = []
        self.seconds: dict[str, float] = {}
        # The ingest counts from two threads (a chunk's write runs behind the next chunk).
        self._lock = threading.Lock()

    def add(self, measure: str, n: int | Mapping[Any, int] = 1, at: Any = None) -> None:
        """Add ``n`` at place ``at`` (None: no place) — or, given a Counter, each place's
        positive count — to ``measure``, which must be one of this step's."""
        counts = self._counts.get(measure)
        if counts is None:
            raise KeyError(f"{measure!r} is not a measure of {self.step_name} (runs.MEASURES)")
        with self._lock:
            if isinstance(n, Mapping):
                for place, k in n.items():
                    if k > 0:
                        counts[place] += k
            elif n:
                counts[at] += n

    def __getitem__(self, measure: str) -> int:
        return sum(self._counts[measure].values())

    def __getattr__(self, name: str) -> int:
        counts = self.__dict__.get("_counts")
        if counts is not None and name in counts:
            return self[name]
        raise AttributeError(name)

    def by(self, measure: str) -> Counter:
        """``measure`` per place (the counts with no place left out)."""
        return Counter({k: v for k, v in self._counts[measure].items() if k is not None})

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            with self._lock:
                self.seconds[name] = round(self.seconds.get(name, 0.0) + time.perf_counter() - t0, 3)

    def summary(self) -> dict[str, Any]:
        return {**{m: self[m] for m in self._counts}, "notes": list(self.notes), "errors": list(self.errors),
                "step_seconds": dict(self.seconds)}


# ------------------------------------------------------------------ etl_runs


def start(wh: Warehouse, run_id: str, credential: str, business_date: date, window_start: datetime,
          window_end: datetime, now: datetime) -> None:
    """A credential's row of the run, status ``running`` (a retried task starts it again)."""
    with wh.begin() as conn:
        wh.run(conn, "runs/start", {"run_id": run_id, "credential": credential, "business_date": business_date,
                                    "window_start": window_start, "window_end": window_end, "now": now})


def finish(wh: Warehouse, run_id: str, credential: str, status: str, notes: str | None,
           counts: RunCounts, *, with_counts: bool = True) -> None:
    """Close a credential's row: status, the ingest's counts (zero ``with_counts=False``:
    the step died), seconds per step and notes; ``finished_at`` is the real time."""
    params: dict[str, Any] = {c: counts[c] if with_counts else 0 for c in RUN_COLUMNS}
    params.update(run_id=run_id, credential=credential, status=status, now=datetime.now(UTC),
                  step_seconds=json.dumps(counts.seconds), notes=notes)
    with wh.begin() as conn:
        wh.run(conn, "runs/finish", params)


def record_locations(wh: Warehouse, conn: Connection, run_id: str, credential: str, counts: RunCounts,
                     locations: Iterable[str], store_of: Mapping[str, str]) -> None:
    """The run's ``etl_run_locations`` rows of a credential, replaced (inside the caller's transaction)."""
    wh.run(conn, "runs/clear_locations", {"run_id": run_id, "credential": credential})
    by = {col: counts.by(col) for col in LOCATION_COLUMNS}
    rows = [{"run_id": run_id, "credential": credential, "location_id": loc, "store_id": store_of.get(loc),
             **{col: by[col][loc] for col in LOCATION_COLUMNS}} for loc in locations]
    if rows:
        wh.run(conn, "runs/location", rows)


def record_credential_failure(wh: Warehouse, run_id: str, credential: str, business_date: date,
                              window_start: datetime, window_end: datetime, message: str, now: datetime) -> None:
    """A credential that failed before its ingest could start: its own failed row, with the reason."""
    start(wh, run_id, credential, business_date, window_start, window_end, now)
    finish(wh, run_id, credential, "failed", message[:4000], RunCounts("ingest"), with_counts=False)


def succeeded(wh: Warehouse, run_id: str, credentials: Iterable[str]) -> set[str]:
    """The ``credentials`` whose row of the run says ``success`` (a retried shard skips them)."""
    wanted = set(credentials)
    with wh.begin() as conn:
        rows = wh.query(conn, "runs/succeeded", {"run_id": run_id})
    return {r["credential"] for r in rows} & wanted


def record_config_failure(wh: Warehouse, run_id: str, business_date: date | None, message: str,
                          now: datetime) -> None:
    """Rule 7: a broken configuration writes nothing but its own etl_runs row."""
    wh.migrate()
    with wh.begin() as conn:
        wh.run(conn, "runs/config_failed", {"run_id": run_id, "credential": "*", "business_date": business_date,
                                            "notes": message[:4000], "now": now})


def record_points(wh: Warehouse, conn: Connection, run_id: str, credentials: Iterable[str],
                  counts: RunCounts) -> None:
    """Loyalty's points earned and reversed per credential (inside loyalty's transaction)."""
    earned, reversed_ = counts.by("points_earned"), counts.by("points_reversed")
    rows = [{"earned": earned[cred], "reversed": reversed_[cred], "run_id": run_id, "credential": cred}
            for cred in credentials]
    if rows:  # one executemany for the fleet, not a statement per credential
        wh.run(conn, "runs/add_points", rows)


def record_opt_ins_sent(wh: Warehouse, run_id: str, settings: Settings, counts: RunCounts) -> None:
    """``opt_ins_sent`` per credential: a store's texts count against the credential feeding
    it (the first by name when several do)."""
    feeds: dict[str, str] = {}
    for m in sorted(settings.mappings, key=lambda m: m.credential):
        feeds.setdefault(m.store_id, m.credential)
    sent: Counter = Counter()
    for store, n in counts.by("sent").items():
        sent[feeds.get(store, "")] += n
    rows = [{"sent": sent[cred], "run_id": run_id, "credential": cred} for cred in settings.integration.credentials]
    with wh.begin() as conn:
        wh.run(conn, "runs/add_opt_ins_sent", rows)


def add_note(wh: Warehouse, conn: Connection, run_id: str, note: str) -> None:
    """A note on every row of the run."""
    wh.run(conn, "runs/add_note", {"run_id": run_id, "note": note})
