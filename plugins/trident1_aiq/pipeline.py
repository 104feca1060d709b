"""One credential's daily ingest: extract → normalise → validate → load (rules 6–10, 27).

Plain functions with plain arguments: the DAG calls them through
``airflow_adapter``, tests and benchmarks call them directly.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from typing import Any

from .client import Trident1Client, dedupe_latest
from .config import Settings
from .faults import crash_point
from .load import held_records, merge, quarantine, sync_settings, upsert_catalogue
from .normalize import normalize_customer, normalize_refund, normalize_sale
from .personas import resolve_personas
from .validate import validate_refunds, validate_sales
from .warehouse import Warehouse

log = logging.getLogger(__name__)


class RejectRateExceeded(RuntimeError):
    """Rule 10: more rejects than ``max_reject_rate`` — raised after quarantining."""


@dataclass(frozen=True)
class RunWindow:
    business_date: date
    start: datetime
    end: datetime


def run_window(business_date: date, lookback_hours: int, now: datetime | None = None) -> RunWindow:
    """Rule 9: [D 00:00Z − lookback, D+1 00:00Z), never past ``now`` (the API refuses the future)."""
    day_start = datetime.combine(business_date, dtime(0), UTC)
    end = day_start + timedelta(days=1)
    if now is not None and end > now:
        end = now.astimezone(UTC).replace(microsecond=0)
    return RunWindow(business_date, day_start - timedelta(hours=lookback_hours), end)


@dataclass
class StepTimer:
    seconds: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = round(self.seconds.get(name, 0.0) + time.perf_counter() - t0, 3)


def prepare_run(wh: Warehouse, settings: Settings, now: datetime) -> list[str]:
    """Migrate the schema and mirror the settings tables (after config validation)."""
    applied = wh.migrate()
    with wh.begin() as conn:
        sync_settings(wh, conn, settings, now)
    return applied


def record_config_failure(wh: Warehouse, run_id: str, business_date: date | None, message: str, now: datetime) -> None:
    """Rule 7: a broken configuration writes nothing but its own etl_runs row."""
    wh.migrate()
    with wh.begin() as conn:
        wh.run(conn, "report/run_failed", {"run_id": run_id, "credential": "*", "business_date": business_date,
                                           "notes": message[:4000], "now": now})


def _by_location(rows: list[Any]) -> Counter:
    return Counter(r.location_id or "?" for r in rows)


def ingest_credential(
    *,
    wh: Warehouse,
    client: Trident1Client,
    settings: Settings,
    credential: str,
    run_id: str,
    window: RunWindow,
    now: datetime,
) -> dict[str, Any]:
    """Extract, validate and load one credential's window; return the small run summary."""
    timer = StepTimer()
    region = settings.integration.phone_region
    mapping = settings.mapping_for(credential)
    with wh.begin() as conn:
        wh.run(conn, "report/run_start", {"run_id": run_id, "credential": credential,
                                          "business_date": window.business_date, "window_start": window.start,
                                          "window_end": window.end, "now": now})
    try:
        with timer.step("extract"):
            locations = client.locations()
            discounts = client.discounts()
            customers_raw = client.customers(window.start, window.end)
            sales_raw = client.sales(window.start, window.end)
            crash_point("extract.after_sales")
            refunds_raw = client.refunds(window.start, window.end)
        log.info("%s: read %d sales, %d refunds, %d customers, %d locations (%s → %s)", credential,
                 len(sales_raw), len(refunds_raw), len(customers_raw), len(locations),
                 window.start.isoformat(), window.end.isoformat())

        with timer.step("normalize"):
            tz_of = {str(loc["id"]): loc.get("timezone") for loc in locations
                     if isinstance(loc, dict) and loc.get("id") and isinstance(loc.get("timezone"), str)}
            known = set(tz_of) | {str(loc["id"]) for loc in locations if isinstance(loc, dict) and loc.get("id")}
            with wh.begin() as conn:
                held = held_records(wh, conn, credential)
            held_sales = [json.loads(h["payload"]) for h in held if h["entity"] == "sale" and h["location_id"] in mapping]
            held_refunds = [json.loads(h["payload"]) for h in held if h["entity"] == "refund" and h["location_id"] in mapping]
            sales = [normalize_sale(r, i, credential, tz_of, region)
                     for i, r in enumerate(dedupe_latest(held_sales + sales_raw))]
            refunds = [normalize_refund(r, i, credential, tz_of)
                       for i, r in enumerate(dedupe_latest(held_refunds + refunds_raw))]
            customers = [c for c in (normalize_customer(r, credential, region) for r in customers_raw) if c]

        with timer.step("validate"):
            good_sales, bad_sales = validate_sales(sales, known)
            good_refunds, bad_refunds = validate_refunds(refunds, known)

        # Rule 6: valid records of unmapped locations are held, not loaded and not rejects.
        load_sales = [s for s in good_sales if s.location_id in mapping]
        hold_sales = [s for s in good_sales if s.location_id not in mapping]
        load_refunds = [r for r in good_refunds if r.location_id in mapping]
        hold_refunds = [r for r in good_refunds if r.location_id not in mapping]

        with timer.step("load"):
            with wh.begin() as conn:
                wh.run(conn, "load/lock", {"credential": credential})
                upsert_catalogue(wh, conn, credential, locations, discounts, now)
                candidates = customers + [s.customer for s in load_sales if s.customer]
                resolution = resolve_personas(wh, conn, candidates, now)
                offset = len(customers)
                persona_of_sale: dict[int, str | None] = {}
                k = 0
                for s in load_sales:
                    if s.customer:
                        persona_of_sale[s.row] = resolution.persona_of.get(offset + k)
                        k += 1
                counts = merge(
                    wh, conn, credential, run_id, now,
                    [(s, mapping[s.location_id], persona_of_sale.get(s.row)) for s in load_sales],
                    [(r, mapping[r.location_id]) for r in load_refunds],
                )
                unmapped = "unmapped_location: location {} is not mapped to an AIQ retail store (trident1_store_mappings)"
                quarantine(wh, conn, credential, run_id, now,
                           [("sale", s, reasons, False) for s, reasons in bad_sales]
                           + [("refund", r, reasons, False) for r, reasons in bad_refunds]
                           + [("sale", s, [unmapped.format(s.location_id)], True) for s in hold_sales]
                           + [("refund", r, [unmapped.format(r.location_id)], True) for r in hold_refunds])
                released_keys = {h["record_key"] for h in held if h["location_id"] in mapping}
                released = _by_location([s for s in load_sales if s.key in released_keys])

                read_by_loc = _by_location(sales) + _by_location(refunds)
                rejected_by_loc = _by_location([s for s, _ in bad_sales]) + _by_location([r for r, _ in bad_refunds])
                held_by_loc = _by_location(hold_sales) + _by_location(hold_refunds)
                wh.run(conn, "report/clear_locations", {"run_id": run_id, "credential": credential})
                loc_rows = []
                for loc_id in sorted(set(read_by_loc) | set(mapping) & set(known)):
                    changed = counts.loaded[loc_id] + counts.updated[loc_id]
                    loc_rows.append({
                        "run_id": run_id, "credential": credential, "location_id": loc_id,
                        "store_id": mapping.get(loc_id), "records_read": read_by_loc[loc_id],
                        "loaded": counts.loaded[loc_id], "updated": counts.updated[loc_id],
                        "unchanged": max(0, sum(1 for s in load_sales if s.location_id == loc_id) - changed),
                        "quarantined": rejected_by_loc[loc_id], "held": held_by_loc[loc_id],
                        "released": released[loc_id], "refunds_loaded": counts.refunds_loaded[loc_id],
                    })
                if loc_rows:
                    wh.run(conn, "report/run_location", loc_rows)
                crash_point("load.before_commit")

        loaded, updated = sum(counts.loaded.values()), sum(counts.updated.values())
        rejects = len(bad_sales) + len(bad_refunds)
        records = len(sales) + len(refunds)
        summary = {
            "credential": credential, "records_read": records + len(customers_raw),
            "sales_read": len(sales), "refunds_read": len(refunds), "customers_read": len(customers_raw),
            "loaded": loaded, "updated": updated, "unchanged": len(load_sales) - loaded - updated,
            "quarantined": rejects, "held": len(hold_sales) + len(hold_refunds),
            "released": sum(released.values()), "refunds_loaded": sum(counts.refunds_loaded.values()),
            "personas_created": len(resolution.created), "personas_merged": resolution.merged,
        }
        rate = rejects / records if records else 0.0
        limit = settings.integration.max_reject_rate
        status, notes = "success", None
        if rate > limit:
            status = "failed"
            notes = (f"reject rate {rate:.1%} ({rejects} of {records} sales and refunds) exceeds "
                     f"max_reject_rate {limit:.1%}; the rejects are in quarantine")
        _finish(wh, run_id, credential, status, summary, timer, notes, now)
        log.info("%s: %s", credential, json.dumps(summary))
        if status == "failed":
            raise RejectRateExceeded(f"{credential}: {notes}")
        return dict(summary, step_seconds=timer.seconds)
    except RejectRateExceeded:
        raise
    except Exception as exc:
        _finish(wh, run_id, credential, "failed", {}, timer, f"{type(exc).__name__}: {exc}"[:4000], now)
        raise


def _finish(wh: Warehouse, run_id: str, credential: str, status: str, summary: dict[str, Any],
            timer: StepTimer, notes: str | None, now: datetime) -> None:
    keys = ("records_read", "sales_read", "refunds_read", "customers_read", "loaded", "updated", "unchanged",
            "quarantined", "held", "released", "refunds_loaded", "personas_created", "personas_merged")
    params = {k: int(summary.get(k, 0)) for k in keys}
    params.update(run_id=run_id, credential=credential, status=status, now=datetime.now(UTC),
                  step_seconds=json.dumps(timer.seconds), notes=notes)
    with wh.begin() as conn:
        wh.run(conn, "report/run_finish", params)
