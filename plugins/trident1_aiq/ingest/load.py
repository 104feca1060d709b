"""Writes to the warehouse: settings sync, catalogue, staging + merge, quarantine.

Which statements an entity's chunk stages and merges with is declared in ``entities.py``; the
staging rows themselves are built in ``staging.py``.

Every function takes an open connection inside the caller's transaction, so a
chunk commits or rolls back as one (a crash mid-load leaves nothing half-written,
and the rerun converges).
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import Connection

from trident1_aiq.ingest.normalize import RefundRow, SaleRow, clean_text, payload_json
from trident1_aiq.settings.config import Settings
from trident1_aiq.warehouse import Warehouse

if TYPE_CHECKING:
    from trident1_aiq.ingest.entities import Entity


def sync_settings(wh: Warehouse, conn: Connection, settings: Settings, now: datetime) -> None:
    """Mirror the retail stores and store mappings Variables into their tables."""
    stores = [
        {"store_id": s.id, "name": s.name, "nickname": s.nickname, "phone": s.phone, "email": s.email,
         "venue_id": s.venue_id, "address_line1": s.address.line1, "address_line2": s.address.line2,
         "city": s.address.city, "state": s.address.state, "postal_code": s.address.postal_code,
         "country": s.address.country, "email_domain": s.email_domain, "disclaimer": s.disclaimer,
         "sms_signup": s.sms_signup, "hide_from_selection": s.hide_from_selection,
         "timezone": s.timezone, "now": now}
        for s in settings.stores
    ]
    if stores:
        wh.run(conn, "settings/upsert_store", stores)
    wanted = {(m.credential, m.location_id) for m in settings.mappings}
    for row in wh.query(conn, "settings/select_mappings"):
        if (row["credential"], row["location_id"]) not in wanted:
            wh.run(conn, "settings/delete_mapping", row)
    if settings.mappings:
        wh.run(conn, "settings/upsert_mapping", [
            {"credential": m.credential, "location_id": m.location_id, "store_id": m.store_id, "now": now}
            for m in settings.mappings
        ])


def upsert_catalogue(wh: Warehouse, conn: Connection, credential: str, locations: list[dict],
                     discounts: list[dict], now: datetime) -> None:
    rows = []
    for loc in locations:
        if not isinstance(loc, dict) or not loc.get("id"):
            continue
        addr = loc.get("address") if isinstance(loc.get("address"), dict) else {}
        rows.append({"credential": credential, "location_id": str(loc["id"]), "name": clean_text(loc.get("name"), 500),
                     "timezone": clean_text(loc.get("timezone"), 64), "phone": clean_text(loc.get("phone"), 100),
                     "active": bool(loc.get("active", True)), "address_line1": clean_text(addr.get("line1"), 500),
                     "address_line2": clean_text(addr.get("line2"), 500), "city": clean_text(addr.get("city")),
                     "state": clean_text(addr.get("state"), 100), "postal_code": clean_text(addr.get("postal_code"), 20),
                     "country": clean_text(addr.get("country"), 2), "now": now})
    if rows:
        wh.run(conn, "load/upsert_location", rows)
    rows = [{"credential": credential, "discount_id": str(d["id"]), "code": clean_text(d.get("code"), 100),
             "name": clean_text(d.get("name"), 500), "discount_type": clean_text(d.get("type"), 50),
             "value": clean_text(str(d.get("value")) if d.get("value") is not None else None, 50),
             "in_store_only": bool(d.get("in_store_only")), "active": bool(d.get("active", True)), "now": now}
            for d in discounts if isinstance(d, dict) and d.get("id")]
    if rows:
        wh.run(conn, "load/upsert_discount", rows)


def merge(wh: Warehouse, conn: Connection, entity: Entity, credential: str, run_id: str, now: datetime,
          staged: list[tuple[str, list[dict[str, Any]]]]) -> dict[str, Counter]:
    """Stage a chunk of one entity (``entity.stage``'s rows), merge it with the entity's
    statements and release what it makes valid; return what the merge wrote, per measure
    and location (``entity.merged``)."""
    wh.run(conn, "load/stage_create")
    wh.run(conn, "load/stage_empty")
    for query, rows in staged:
        if rows:
            wh.bulk(conn, query, rows)
    wh.run(conn, "load/analyze_staging")
    for statement in entity.merge:
        wh.run(conn, statement)
    counts: dict[str, Counter] = {}
    for r in wh.query(conn, entity.merged):
        for measure, n in r.items():
            if measure != "location_id":
                counts.setdefault(measure, Counter())[r["location_id"]] += int(n or 0)
    wh.run(conn, entity.release, {"credential": credential, "run_id": run_id, "now": now})
    return counts


def quarantine_rows(credential: str, run_id: str, now: datetime,
                    entries: list[tuple[str, SaleRow | RefundRow, list[str], bool]]) -> list[dict[str, Any]]:
    """(entity, row, reasons, held) entries → rows of ``quarantine``: one open row per record (rule 10)."""
    return [
        {"quarantine_id": uuid.uuid4().hex, "credential": credential, "entity": entity,
         "record_key": row.key, "location_id": row.location_id, "held": held,
         "reasons": json.dumps(reasons, ensure_ascii=False), "reason_code": reasons[0].split(":", 1)[0][:50],
         "payload": payload_json(row.raw), "run_id": run_id, "now": now, "today": now.date(),
         "business_date": row.business_date}
        for entity, row, reasons, held in entries
    ]


def quarantine(wh: Warehouse, conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Write :func:`quarantine_rows` (inside the caller's transaction)."""
    if rows:
        wh.run(conn, "load/quarantine_upsert", rows)


def held_records(wh: Warehouse, conn: Connection, credential: str) -> list[dict[str, Any]]:
    return wh.query(conn, "load/held_records", {"credential": credential})
