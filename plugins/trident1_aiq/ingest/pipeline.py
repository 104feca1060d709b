"""One credential's daily ingest: extract → normalise → validate → load (rules 6–10, 27).

One code path for every entity: what differs between customers, sales and refunds
is declared in ``entities.py``; what a run counts and writes to ``etl_runs`` is
``runs.py``. Plain functions with plain arguments: the DAG calls them through
``airflow_adapter``, tests and benchmarks call them directly.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from typing import Any

from trident1_aiq import runs
from trident1_aiq.ingest.client import LatestSeen, NewestBatch, Trident1Client, record_id, record_version, supersedes
from trident1_aiq.ingest.entities import ENTITIES, Entity, Source
from trident1_aiq.ingest.load import held_records, merge, quarantine, quarantine_rows, sync_settings, upsert_catalogue
from trident1_aiq.ingest.overlap import Writer, gc_paused, read_ahead
from trident1_aiq.ingest.personas import resolve_personas
from trident1_aiq.ingest.validate import prefetch as prefetch_validation
from trident1_aiq.logs import get_logger
from trident1_aiq.runs import RunCounts
from trident1_aiq.settings.config import Settings, unreported_mapping_warnings
from trident1_aiq.warehouse import Warehouse, parse_db_time

log = get_logger(__name__)


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


def prepare_run(wh: Warehouse, settings: Settings, now: datetime) -> list[str]:
    """Migrate the schema and mirror the settings tables (after config validation)."""
    applied = wh.migrate()
    with wh.begin() as conn:
        sync_settings(wh, conn, settings, now)
    return applied


#: Pages read ahead of the chunk being processed: enough to hide the server's latency, few
#: enough that memory stays bounded by the chunk (a page is 500 records).
READ_AHEAD_PAGES = 8

UNMAPPED = "unmapped_location: location {} is not mapped to an AIQ retail store (trident1_store_mappings)"


def chunked(pages: Iterator[list[dict]], size: int, counts: RunCounts, seen: LatestSeen,
            first: list[dict] | None = None,
            superseded: Callable[[dict], None] | None = None) -> Iterator[list[dict]]:
    """Pages → chunks of at most ``size`` records, deduplicated on the way (rule 8).

    A record listed again in a newer version (it changed while the listing was paged)
    replaces its older version when both fall into the same chunk, so only the newest
    version of a record reaches staging; across chunks the merge replaces the older one.
    ``superseded`` is told of each older version dropped that way (it was read: the
    counts of a run do not depend on where chunks happen to end). Time spent waiting for
    pages is booked to the ``extract`` step. ``first`` (held records released by a new
    mapping) goes ahead of the listing.
    """
    batch = NewestBatch(seen)

    def listing() -> Iterator[dict]:
        yield from first or []
        while True:
            with counts.step("extract"):
                page = next(pages, None)
            if page is None:
                return
            yield from page

    for rec in listing():
        older = batch.add(rec)
        if older is not None and superseded is not None:
            superseded(older)
        if len(batch.records) >= size:
            yield batch.records
            batch = NewestBatch(seen)
    if batch.records:
        yield batch.records


@dataclass
class Batch:
    """Everything one credential's chunks share: warehouse, settings, catalogue, counts."""

    wh: Warehouse
    run_id: str
    now: datetime
    source: Source
    mapping: dict[str, str]  # location id → store id
    known: set[str]  # location ids the credential's /locations reports
    held_keys: set[str]  # keys of the held records of now-mapped locations
    counts: RunCounts
    writer: Writer

    @property
    def credential(self) -> str:
        return self.source.credential


def _place(e: Entity, location_id: Any) -> str | None:
    """Where a record is counted: its location (``?`` when it names none), or nowhere."""
    return str(location_id or "?") if e.located else None


def _by_location(rows: list[Any]) -> Counter:
    return Counter(r.location_id or "?" for r in rows)


def count_read(counts: RunCounts, e: Entity, n: int | Counter, at: str | None = None) -> None:
    counts.add(e.read, n, at)
    counts.add("records_read", n, at)


def skip_known(b: Batch, e: Entity, raw: list[dict]) -> tuple[list[dict], Counter]:
    """Drop the records of mapped locations that the warehouse already has at this version.

    Returns what is left to process and the skipped records per location. A record is
    known when its ``e.version`` is not newer than the loaded one (the merge would change
    nothing, rule 8), or, for an entity without versions, when it is loaded at all.
    """
    rids = [record_id(r) for r in raw]
    # A held record of a now-mapped location is never skipped: loading it is what releases it (rule 6).
    ids = {rid: r for rid, r in zip(rids, raw, strict=True)
           if rid is not None and str(r.get("location_id")) in b.mapping and rid not in b.held_keys}
    if not ids:
        return raw, Counter()
    with b.wh.begin() as conn:
        b.wh.run(conn, "load/seen_create")
        b.wh.run(conn, "load/seen_empty")
        b.wh.bulk(conn, "load/seen_insert", [{"credential": b.credential, "record_id": rid} for rid in ids])
        b.wh.run(conn, "load/seen_analyze")
        have = b.wh.run(conn, e.known).all()  # rows read by name (record_id, version), not as dicts
    skip: set[str] = set()
    for row in have:
        rid = row.record_id
        if e.version is None:
            skip.add(rid)
            continue
        read_version = record_version(ids[rid], e.version)
        # A version that cannot be read is not skipped: validation quarantines it (rule 10).
        if read_version is not None and not supersedes(read_version, parse_db_time(row.version)):
            skip.add(rid)
    if not skip:
        return raw, Counter()
    left = [r for rid, r in zip(rids, raw, strict=True) if rid not in skip]
    skipped = Counter(str(ids[rid].get("location_id")) for rid in skip)
    return left, skipped


def process_chunk(b: Batch, e: Entity, raw: list[dict]) -> None:
    """One chunk of one entity: skip what is loaded, normalise, validate, resolve personas,
    then merge, quarantine and hold in one transaction."""
    c = b.counts
    c.add("chunks")
    if e.known:
        with c.step("compare"):
            raw, known = skip_known(b, e, raw)
        count_read(c, e, known)
        if e.report_unchanged:
            c.add("unchanged", known)
        if not raw:
            return
    with c.step("normalize"), gc_paused():
        rows = [e.normalize(r, i, b.source) for i, r in enumerate(raw)]
    if e.located:
        count_read(c, e, _by_location(rows))
    else:
        count_read(c, e, len(raw))
        rows = [r for r in rows if r is not None]
    bad: list[tuple[Any, list[str]]] = []
    if e.validate:
        with c.step("validate"):
            rows, bad = e.validate(rows, b.known)
    load = [r for r in rows if not e.located or r.location_id in b.mapping]
    hold = [r for r in rows if e.located and r.location_id not in b.mapping]  # rule 6: held, not rejected
    persona: list[str | None] = [None] * len(load)
    if e.customer:
        with c.step("personas"):
            # Personas first, in their own short transaction: resolution is serialised across
            # credentials (rule 14), the merge is not. Personas without their records (a crash
            # in between) are what a rerun resolves to anyway.
            carried = [(i, e.customer(r)) for i, r in enumerate(load)]
            carried = [(i, cust) for i, cust in carried if cust]
            with b.wh.begin() as conn:
                res = resolve_personas(b.wh, conn, [cust for _, cust in carried], b.now)
            for k, (i, _) in enumerate(carried):
                persona[i] = res.persona_of.get(k)
        c.add("personas_created", len(res.created))
        c.add("personas_merged", res.merged)
    if not e.merge:
        return

    # What the write needs is prepared here, so that the rows (and the records they came
    # from) are let go while the write runs behind the next chunk: staging rows, quarantine
    # rows (payloads as JSON), and the per-location figures of the report.
    staged = e.stage(b.credential, b.run_id, b.now,
                     [(r, b.mapping[r.location_id], persona[i]) for i, r in enumerate(load)])
    entries = quarantine_rows(b.credential, b.run_id, b.now,
                              [(e.name, r, reasons, False) for r, reasons in bad]
                              + [(e.name, r, [UNMAPPED.format(r.location_id)], True) for r in hold])
    read_here = _by_location(load)
    released = _by_location([r for r in load if r.key in b.held_keys]) if e.report_released else None
    quarantined, held = _by_location([r for r, _ in bad]), _by_location(hold)
    del rows, load, bad, hold, persona

    def write() -> None:
        merged = _write(b, e, staged, entries)
        for measure, by_location in merged.items():
            c.add(measure, by_location)
        c.add("quarantined", quarantined)
        c.add("held", held)
        if e.report_unchanged:
            c.add("unchanged", read_here - merged.get("loaded", Counter()) - merged.get("updated", Counter()))
        if released is not None:
            c.add("released", released)

    b.writer.submit(write)


def _write(b: Batch, e: Entity, staged: list[tuple[str, list[dict]]], entries: list[dict]) -> dict[str, Counter]:
    """One transaction: merge the chunk, quarantine its rejects and hold its unmapped records."""
    with b.counts.step("load"), b.wh.begin() as conn:
        b.wh.run(conn, "load/lock", {"credential": b.credential})
        merged = merge(b.wh, conn, e, b.credential, b.run_id, b.now, staged)
        quarantine(b.wh, conn, entries)
    return merged


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
    """Extract, validate and load one credential's window; return the run's summary.

    Each entity of ``ENTITIES`` (customers, then sales, then refunds) streams through in
    chunks: each chunk is normalised, validated and merged in its own transaction, so
    memory follows ``chunk_size`` and not the day. Every merge is idempotent (rule 8), so
    a run that dies after some chunks converges when rerun.
    """
    prefetch_validation()  # Great Expectations' import overlaps the extract
    counts = RunCounts("ingest")
    size = chunk_size or settings.integration.chunk_size
    mapping = settings.mapping_for(credential)
    runs.start(wh, run_id, credential, window.business_date, window.start, window.end, now)
    writer = Writer(overlap=wh.dialect == "postgresql")
    try:
        with counts.step("extract"):
            locations = client.locations()
            discounts = client.discounts()
        tz_of = {str(loc["id"]): loc.get("timezone") for loc in locations
                 if isinstance(loc, dict) and loc.get("id") and isinstance(loc.get("timezone"), str)}
        known = set(tz_of) | {str(loc["id"]) for loc in locations if isinstance(loc, dict) and loc.get("id")}
        with counts.step("load"), wh.begin() as conn:
            wh.run(conn, "load/lock", {"credential": credential})
            upsert_catalogue(wh, conn, credential, locations, discounts, now)
            held = [h for h in held_records(wh, conn, credential) if h["location_id"] in mapping]
        b = Batch(wh, run_id, now, Source(credential, tz_of, settings.integration.phone_region), mapping, known,
                  {h["record_key"] for h in held}, counts, writer)

        for e in ENTITIES:
            seen = LatestSeen(version=e.version)
            # The next pages are fetched (and decoded) while a chunk is processed.
            with closing(read_ahead(client.iter_window(e.path, window.start, window.end),
                                    depth=READ_AHEAD_PAGES, name=f"read-{e.name}")) as pages:
                for raw in chunked(pages, size, counts, seen,
                                   first=[json.loads(h["payload"]) for h in held if h["entity"] == e.name],
                                   superseded=lambda rec, e=e: count_read(counts, e, 1, _place(e, rec.get("location_id")))):
                    process_chunk(b, e, raw)
                    del raw  # not kept alive while the next chunk is read (peak RSS)
            counts.add("duplicates_skipped", seen.skipped)
        writer.drain()
        log.info("%s: read %d sales, %d refunds, %d customers in %d chunks of up to %d (%s → %s)", credential,
                 counts["sales_read"], counts["refunds_read"], counts["customers_read"], counts["chunks"], size,
                 window.start.isoformat(), window.end.isoformat())

        with counts.step("load"), wh.begin() as conn:
            places = set(counts.by("records_read")) | set(mapping) & known
            runs.record_locations(wh, conn, run_id, credential, counts, sorted(places), mapping)

        rejects = counts["quarantined"]
        records = counts["sales_read"] + counts["refunds_read"]
        rate = rejects / records if records else 0.0
        limit = settings.integration.max_reject_rate
        status = "success"
        counts.notes.extend(unreported_mapping_warnings(settings, credential, known))
        for warning in counts.notes:
            log.warning("%s", warning)
        if rate > limit:
            status = "failed"
            counts.notes.append(f"reject rate {rate:.1%} ({rejects} of {records} sales and refunds) exceeds "
                                f"max_reject_rate {limit:.1%}; the rejects are in quarantine")
        runs.finish(wh, run_id, credential, status, " | ".join(counts.notes) or None, counts)
        summary = {"credential": credential, **counts.summary()}
        log.info("%s: %s", credential, json.dumps(summary))
        if status == "failed":
            raise RejectRateExceeded(f"{credential}: {counts.notes[-1]}")
        return summary
    except RejectRateExceeded:
        raise
    except Exception as exc:
        writer.close()  # a write still running must not race the failed run's row
        runs.finish(wh, run_id, credential, "failed", f"{type(exc).__name__}: {exc}"[:4000], counts,
                    with_counts=False)
        raise
    finally:
        writer.close()
