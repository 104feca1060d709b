"""The run report (rule 27): a readable summary of one DAG run from ``etl_runs``."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from trident1_aiq.logs import Lines, printable
from trident1_aiq.runs import add_note
from trident1_aiq.settings.config import Settings
from trident1_aiq.warehouse import Warehouse, parse_db_time

COLUMNS = ("records_read", "loaded", "updated", "unchanged", "quarantined", "held", "released",
           "refunds_loaded", "personas_created", "personas_merged", "points_earned", "points_reversed", "opt_ins_sent")
LABELS = {"records_read": "read", "loaded": "new", "updated": "updated", "unchanged": "unchanged",
          "quarantined": "rejected", "held": "held", "released": "released", "refunds_loaded": "refunds"}
AGE_NOTE = ("age_compliant is false: loyalty enrollment and SMS opt-ins are skipped for this source "
            "(rule 2); sales still load")


def skipped_notes(settings: Settings) -> list[str]:
    return [] if settings.integration.age_compliant else [AGE_NOTE]


def stale_locations(wh: Warehouse, conn, as_of: datetime, max_age: timedelta) -> list[dict[str, Any]]:
    """Mapped, active locations whose newest loaded sale is older than ``max_age`` (or absent):
    a location with no sales for days is visible, not silent (the guide's 24-hour promise)."""
    stale = []
    for r in wh.query(conn, "report/freshness"):
        newest = parse_db_time(r["newest_sale"])
        if newest is None or newest < as_of - max_age:
            stale.append(dict(r, newest_sale=newest))
    return stale


def run_summary(wh: Warehouse, run_id: str, settings: Settings | None = None) -> tuple[str, dict[str, Any]]:
    with wh.begin() as conn:
        if settings is not None:
            for note in skipped_notes(settings):
                add_note(wh, conn, run_id, note)
        runs = wh.query(conn, "report/run_rows", {"run_id": run_id})
        locs = wh.query(conn, "report/run_location_rows", {"run_id": run_id})
        reasons = wh.query(conn, "report/quarantine_reasons", {"run_id": run_id})
        ends = [parse_db_time(r["window_end"]) for r in runs if r.get("window_end")]
        hours = settings.integration.freshness_hours if settings else 24
        stale = stale_locations(wh, conn, max(ends), timedelta(hours=hours)) if ends else []
    totals = {c: sum(int(r.get(c) or 0) for r in runs) for c in COLUMNS + ("sales_read", "refunds_read")}
    totals["credentials"] = len([r for r in runs if r["credential"] != "*"])
    totals["failed"] = [r["credential"] for r in runs if r["status"] != "success"]
    totals["stale_locations"] = [f"{s['credential']}/{s['location_id']}" for s in stale]
    by_reason: Counter = Counter()
    for r in reasons:
        for reason in json.loads(r["reasons"]):
            if not reason.startswith("note:"):
                by_reason[reason.split(":", 1)[0]] += 1
    lines = [f"Run {run_id}"]
    header = f"  {'credential / location':<28}{'store':<16}" + "".join(f"{LABELS[c]:>11}" for c in COLUMNS[:8])
    lines.append(header)
    for r in runs:
        lines.append(f"  {r['credential']:<28}{'':<16}" + "".join(f"{int(r.get(c) or 0):>11}" for c in COLUMNS[:8])
                     + f"   {r['status']}")
        for loc in (x for x in locs if x["credential"] == r["credential"]):
            lines.append(f"    {printable(str(loc['location_id'])):<26}{printable(loc['store_id'] or '(unmapped)'):<16}"
                         + "".join(f"{int(loc.get(c) or 0):>11}" for c in COLUMNS[:8]))
        if r.get("step_seconds"):
            steps = json.loads(r["step_seconds"])
            lines.append("    step seconds: " + ", ".join(f"{k} {v:.2f}" for k, v in steps.items()))
        if r.get("notes"):
            lines.append(f"    notes: {printable(r['notes'])}")
    lines.append(f"  personas created {totals['personas_created']}, merged {totals['personas_merged']}; "
                 f"points earned {totals['points_earned']}, reversed {totals['points_reversed']}; "
                 f"opt-ins sent {totals['opt_ins_sent']}")
    if by_reason:
        lines.append("  open quarantine met by this run, by reason: "
                     + ", ".join(f"{k} {v}" for k, v in sorted(by_reason.items())))
    if stale:
        lines.append(f"  freshness: {len(stale)} mapped location(s) with no sale loaded in the last {hours} h:")
        for s_ in stale:
            newest = s_["newest_sale"].isoformat() if s_["newest_sale"] else "never"
            lines.append(f"    {s_['credential']}/{printable(str(s_['location_id']))} → {s_['store_id']}: newest sale {newest}")
    return Lines("\n".join(lines)), totals
