"""One credential's daily ingest: extract → normalise → validate → load (rules 6–10, 27).

Plain functions with plain arguments: the DAG calls them through
``airflow_adapter``, tests and benchmarks call them directly.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from typing import Any

from .client import LatestSeen, Trident1Client, record_id
from .config import Settings, unreported_mapping_warnings
from .load import held_records, merge, quarantine, sync_settings, upsert_catalogue
from .normalize import normalize_customer, normalize_refund, normalize_sale, parse_time, to_utc
from .personas import resolve_personas
from .validate import prefetch as prefetch_validation
from .validate import validate_refunds, validate_sales
from .warehouse import Warehouse, parse_db_time

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


@dataclass
class Totals:
    """What a credential's chunks add up to, per location (the run report's rows)."""

    read: Counter = field(default_factory=Counter)
    loaded: Counter = field(default_factory=Counter)
    updated: Counter = field(default_factory=Counter)
    unchanged: Counter = field(default_factory=Counter)
    rejected: Counter = field(default_factory=Counter)
    held: Counter = field(default_factory=Counter)
    released: Counter = field(default_factory=Counter)
    refunds_loaded: Counter = field(default_factory=Counter)
    sales_read: int = 0
    refunds_read: int = 0
    customers_read: int = 0
    duplicates_skipped: int = 0
    chunks: int = 0
    personas_created: int = 0
    personas_merged: int = 0


def chunked(pages: Iterator[list[dict]], size: int, timer: StepTimer, seen: LatestSeen,
            first: list[dict] | None = None,
            superseded: Callable[[dict], None] | None = None) -> Iterator[list[dict]]:
    """Pages → chunks of at most ``size`` records, deduplicated on the way (rule 8).

    A record listed again in a newer version (it changed while the listing was paged)
    replaces its older version when both fall into the same chunk, so only the newest
    version of a record reaches staging; across chunks the merge replaces the older one.
    ``superseded`` is told of each older version dropped that way (it was read: the
    counts of a run do not depend on where chunks happen to end). Time spent waiting for pages is booked to the ``extract`` step. ``first`` (held
    records released by a new mapping) goes ahead of the listing.
    """
    chunk: list[dict] = []
    at: dict[str, int] = {}  # record id → its position in the chunk

    def add(rec: dict) -> None:
        if not seen.accept(rec):
            return
        rid = record_id(rec)
        if rid is not None and rid in at:
            if superseded is not None:
                superseded(chunk[at[rid]])
            chunk[at[rid]] = rec
            return
        if rid is not None:
            at[rid] = len(chunk)
        chunk.append(rec)

    def listing() -> Iterator[dict]:
        yield from first or []
        while True:
            with timer.step("extract"):
                page = next(pages, None)
            if page is None:
                return
            yield from page

    for rec in listing():
        add(rec)
        if len(chunk) >= size:
            yield chunk
            chunk, at = [], {}
    if chunk:
        yield chunk


@dataclass
class Batch:
    """Everything one credential's chunks share: connection, settings, catalogue."""

    wh: Warehouse
    credential: str
    run_id: str
    now: datetime
    mapping: dict[str, str]
    tz_of: dict[str, str]
    known: set[str]
    region: str
    held_keys: set[str]
    timer: StepTimer
    totals: Totals


def read_superseded(b: Batch, entity: str) -> Callable[[dict], None]:
    """Counts an older version that a newer one replaced inside a chunk as read."""
    def count(rec: dict) -> None:
        if entity == "customer":
            b.totals.customers_read += 1
            return
        if entity == "sale":
            b.totals.sales_read += 1
        else:
            b.totals.refunds_read += 1
        b.totals.read[str(rec.get("location_id") or "?")] += 1
    return count


UNMAPPED = "unmapped_location: location {} is not mapped to an AIQ retail store (trident1_store_mappings)"


def _customers_chunk(b: Batch, raw: list[dict]) -> None:
    with b.timer.step("normalize"):
        customers = [c for c in (normalize_customer(r, b.credential, b.region) for r in raw) if c]
    with b.timer.step("personas"), b.wh.begin() as conn:
        res = resolve_personas(b.wh, conn, customers, b.now)
    b.totals.customers_read += len(raw)
    b.totals.personas_created += len(res.created)
    b.totals.personas_merged += res.merged


def skip_known(b: Batch, raw: list[dict], entity: str) -> tuple[list[dict], Counter]:
    """Drop the records of mapped locations that the warehouse already has at this version.

    Returns what is left to process and the skipped records per location. A sale is
    known when its ``updated_at`` is not newer than the loaded one (the merge would
    change nothing, rule 8); a refund when it is loaded at all (refunds never change).
    """
    ids = {}
    for r in raw:
        rid = record_id(r)
        # A held record of a now-mapped location is never skipped: loading it is what releases it (rule 6).
        if rid is not None and str(r.get("location_id")) in b.mapping and rid not in b.held_keys:
            ids[rid] = r
    if not ids:
        return raw, Counter()
    with b.wh.begin() as conn:
        b.wh.run(conn, "load/seen_create")
        b.wh.bulk(conn, "load/seen_insert", [{"credential": b.credential, "record_id": rid} for rid in ids])
        b.wh.run(conn, "load/seen_analyze")
        have = b.wh.query(conn, f"load/seen_{entity}s")
    skip: set[str] = set()
    for row in have:
        rid = row["record_id"]
        if entity == "refund":
            skip.add(rid)
            continue
        read_version = to_utc(parse_time(ids[rid].get("updated_at")))
        if read_version is not None and read_version <= parse_db_time(row["updated_at"]):
            skip.add(rid)
    if not skip:
        return raw, Counter()
    left = [r for r in raw if record_id(r) not in skip]
    skipped = Counter(str(ids[rid].get("location_id")) for rid in skip)
    return left, skipped


def _unknown(b: Batch, raw: list[dict], entity: str) -> list[dict]:
    """The chunk's records the warehouse does not have yet; the others are counted as read."""
    t = b.totals
    t.chunks += 1
    with b.timer.step("compare"):
        raw, known = skip_known(b, raw, entity)
    if entity == "sale":
        t.sales_read += sum(known.values())
        t.unchanged += known
    else:
        t.refunds_read += sum(known.values())
    t.read += known
    return raw


def _write(b: Batch, entity: str, sales: list, refunds: list, bad: list, hold: list):
    """One transaction: merge the chunk, quarantine its rejects and hold its unmapped records."""
    with b.timer.step("load"), b.wh.begin() as conn:
        b.wh.run(conn, "load/lock", {"credential": b.credential})
        counts = merge(b.wh, conn, b.credential, b.run_id, b.now, sales, refunds)
        quarantine(b.wh, conn, b.credential, b.run_id, b.now,
                   [(entity, r, reasons, False) for r, reasons in bad]
                   + [(entity, r, [UNMAPPED.format(r.location_id)], True) for r in hold])
    t = b.totals
    t.rejected += _by_location([r for r, _ in bad])
    t.held += _by_location(hold)
    return counts


def _sales_chunk(b: Batch, raw: list[dict]) -> None:
    raw = _unknown(b, raw, "sale")
    if not raw:
        return
    with b.timer.step("normalize"):
        sales = [normalize_sale(r, i, b.credential, b.tz_of, b.region) for i, r in enumerate(raw)]
    with b.timer.step("validate"):
        good, bad = validate_sales(sales, b.known)
    load_sales = [s for s in good if s.location_id in b.mapping]
    hold = [s for s in good if s.location_id not in b.mapping]  # rule 6: held, not rejected
    with b.timer.step("personas"):
        # Personas first, in their own short transaction: resolution is serialised across
        # credentials (rule 14), the merge is not. Personas without their sales (a crash
        # in between) are what a rerun resolves to anyway.
        with_customer = [s for s in load_sales if s.customer]
        with b.wh.begin() as conn:
            res = resolve_personas(b.wh, conn, [s.customer for s in with_customer], b.now)
        persona_of = {s.row: res.persona_of.get(k) for k, s in enumerate(with_customer)}
    counts = _write(b, "sale", [(s, b.mapping[s.location_id], persona_of.get(s.row)) for s in load_sales], [],
                    bad, hold)
    t = b.totals
    t.sales_read += len(sales)
    t.read += _by_location(sales)
    t.loaded += counts.loaded
    t.updated += counts.updated
    t.unchanged += _by_location(load_sales) - counts.loaded - counts.updated
    t.released += _by_location([s for s in load_sales if s.key in b.held_keys])
    t.personas_created += len(res.created)
    t.personas_merged += res.merged


def _refunds_chunk(b: Batch, raw: list[dict]) -> None:
    raw = _unknown(b, raw, "refund")
    if not raw:
        return
    with b.timer.step("normalize"):
        refunds = [normalize_refund(r, i, b.credential, b.tz_of) for i, r in enumerate(raw)]
    with b.timer.step("validate"):
        good, bad = validate_refunds(refunds, b.known)
    load_refunds = [r for r in good if r.location_id in b.mapping]
    hold = [r for r in good if r.location_id not in b.mapping]
    counts = _write(b, "refund", [], [(r, b.mapping[r.location_id]) for r in load_refunds], bad, hold)
    t = b.totals
    t.refunds_read += len(refunds)
    t.read += _by_location(refunds)
    t.refunds_loaded += counts.refunds_loaded


def ingest_credential(
    *,
    wh: Warehouse,
    client: Trident1Client,
    settings: Settings,
    credential: str,
    run_id: str,
    window: RunWindow,
    now: datetime,
    chunk_size: int | None = None,
) -> dict[str, Any]:
    """Extract, validate and load one credential's window; return the small run summary.

    The window streams through in chunks (customers, then sales, then refunds): each
    chunk is normalised, validated and merged in its own transaction, so memory
    follows ``chunk_size`` and not the day. Every merge is idempotent (rule 8), so a
    run that dies after some chunks converges when rerun.
    """
    prefetch_validation()  # Great Expectations' import overlaps the extract
    timer = StepTimer()
    size = chunk_size or settings.integration.chunk_size
    mapping = settings.mapping_for(credential)
    with wh.begin() as conn:
        wh.run(conn, "report/run_start", {"run_id": run_id, "credential": credential,
                                          "business_date": window.business_date, "window_start": window.start,
                                          "window_end": window.end, "now": now})
    try:
        with timer.step("extract"):
            locations = client.locations()
            discounts = client.discounts()
        tz_of = {str(loc["id"]): loc.get("timezone") for loc in locations
                 if isinstance(loc, dict) and loc.get("id") and isinstance(loc.get("timezone"), str)}
        known = set(tz_of) | {str(loc["id"]) for loc in locations if isinstance(loc, dict) and loc.get("id")}
        with timer.step("load"), wh.begin() as conn:
            wh.run(conn, "load/lock", {"credential": credential})
            upsert_catalogue(wh, conn, credential, locations, discounts, now)
            held = [h for h in held_records(wh, conn, credential) if h["location_id"] in mapping]
        b = Batch(wh, credential, run_id, now, mapping, tz_of, known, settings.integration.phone_region,
                  {h["record_key"] for h in held}, timer, Totals())

        for raw in chunked(client.iter_window("/customers", window.start, window.end), size, timer, LatestSeen(),
                           superseded=read_superseded(b, "customer")):
            _customers_chunk(b, raw)
        sales_seen = LatestSeen()
        for raw in chunked(client.iter_window("/sales", window.start, window.end), size, timer, sales_seen,
                           first=[json.loads(h["payload"]) for h in held if h["entity"] == "sale"],
                           superseded=read_superseded(b, "sale")):
            _sales_chunk(b, raw)
        refunds_seen = LatestSeen()
        for raw in chunked(client.iter_window("/refunds", window.start, window.end), size, timer, refunds_seen,
                           first=[json.loads(h["payload"]) for h in held if h["entity"] == "refund"],
                           superseded=read_superseded(b, "refund")):
            _refunds_chunk(b, raw)
        t = b.totals
        t.duplicates_skipped = sales_seen.skipped + refunds_seen.skipped
        log.info("%s: read %d sales, %d refunds, %d customers in %d chunks of up to %d (%s → %s)", credential,
                 t.sales_read, t.refunds_read, t.customers_read, t.chunks, size,
                 window.start.isoformat(), window.end.isoformat())

        with timer.step("load"), wh.begin() as conn:
            wh.run(conn, "report/clear_locations", {"run_id": run_id, "credential": credential})
            loc_rows = [{
                "run_id": run_id, "credential": credential, "location_id": loc_id,
                "store_id": mapping.get(loc_id), "records_read": t.read[loc_id],
                "loaded": t.loaded[loc_id], "updated": t.updated[loc_id], "unchanged": t.unchanged[loc_id],
                "quarantined": t.rejected[loc_id], "held": t.held[loc_id],
                "released": t.released[loc_id], "refunds_loaded": t.refunds_loaded[loc_id],
            } for loc_id in sorted(set(t.read) | set(mapping) & known)]
            if loc_rows:
                wh.run(conn, "report/run_location", loc_rows)

        rejects = sum(t.rejected.values())
        records = t.sales_read + t.refunds_read
        summary = {
            "credential": credential, "records_read": records + t.customers_read,
            "sales_read": t.sales_read, "refunds_read": t.refunds_read, "customers_read": t.customers_read,
            "loaded": sum(t.loaded.values()), "updated": sum(t.updated.values()),
            "unchanged": sum(t.unchanged.values()), "quarantined": rejects, "held": sum(t.held.values()),
            "released": sum(t.released.values()), "refunds_loaded": sum(t.refunds_loaded.values()),
            "personas_created": t.personas_created, "personas_merged": t.personas_merged,
        }
        rate = rejects / records if records else 0.0
        limit = settings.integration.max_reject_rate
        status, notes = "success", unreported_mapping_warnings(settings, credential, known)
        for warning in notes:
            log.warning("%s", warning)
        if rate > limit:
            status = "failed"
            notes.append(f"reject rate {rate:.1%} ({rejects} of {records} sales and refunds) exceeds "
                         f"max_reject_rate {limit:.1%}; the rejects are in quarantine")
        _finish(wh, run_id, credential, status, summary, timer, " | ".join(notes) or None, now)
        log.info("%s: %s", credential, json.dumps(summary))
        if status == "failed":
            raise RejectRateExceeded(f"{credential}: {notes[-1]}")
        return dict(summary, step_seconds=timer.seconds, chunks=t.chunks, duplicates_skipped=t.duplicates_skipped)
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
