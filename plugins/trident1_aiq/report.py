"""The run report (rule 27): a readable summary of one DAG run from ``etl_runs``."""

from __future__ import annotations

import json
from collections import Counter
from datetime import date, datetime, timedelta
from decimal import Decimal
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


# ------------------------------------------------------------------ the closing summary (make run)

#: What a run did, from its own etl_runs rows: (label, column).
RUN_FIGURES = (("sales read", "sales_read"), ("sales new", "loaded"), ("sales updated", "updated"),
               ("sales unchanged", "unchanged"), ("refunds new", "refunds_loaded"),
               ("rejected (quarantined)", "quarantined"), ("held for mapping", "held"),
               ("released from hold", "released"), ("personas created", "personas_created"),
               ("personas merged", "personas_merged"), ("points earned", "points_earned"),
               ("points reversed (refunds)", "points_reversed"), ("opt-in texts sent", "opt_ins_sent"))
#: The warehouse as a whole, every day and every run: (label, column of ``report/warehouse_totals``).
WAREHOUSE_FIGURES = (("sales", "sales"), ("sale lines", "sale_lines"), ("refunds", "refunds"),
                     ("personas", "personas"), ("loyalty members", "loyalty_members"),
                     ("quarantined (open, rejected)", "rejected_open"), ("held for mapping (open)", "held_open"),
                     ("points earned", "points_earned"), ("points reversed (refunds)", "points_reversed"),
                     ("discount redemptions", "discount_redemptions"), ("refunds reconciled", "refunds_reconciled"),
                     ("opt-in requests sent", "opt_ins_sent"), ("opt-in requests pending", "opt_ins_pending"))
CENT = Decimal("0.01")


def money(value: Any) -> str:
    """An amount as exact text with its two decimals (``2539.60``, ``0.00``), whether the database
    gave a Decimal (PostgreSQL) or the float of a ``ROUND(x, 2)`` (SQLite, whose shortest repr is
    the rounded value)."""
    return str(Decimal(str(value if value is not None else 0)).quantize(CENT))


def reasons(notes: str | None) -> list[str]:
    """A row's notes as one reason per line (a refused configuration lists its problems)."""
    out = []
    for part in (notes or "").split(" | "):
        for line in part.splitlines():
            line = line.strip().removeprefix("- ").strip()
            if line:
                out.append(printable(line))
    return out


def closing_summary(wh: Warehouse, run_id: str, business_date: date, state: str, seconds: float,
                    where: str) -> str:
    """The summary ``make run`` prints last: the run's state; per credential its state and, when it
    did not succeed, why; the figures of this run alone (its own ``etl_runs`` rows); the day's
    ``daily_store_sales``; and the warehouse's totals, labelled as such. Money is exact."""
    with wh.begin() as conn:
        rows = wh.query(conn, "report/run_rows", {"run_id": run_id})
        stores = wh.query(conn, "report/store_day", {"business_date": business_date})
        totals = wh.query(conn, "report/warehouse_totals")[0]
    lines = [f"=== trident1_sales_daily for {business_date}: {state} in {seconds:.1f} s; run {printable(run_id)}; "
             f"warehouse {where}"]
    if not rows:
        lines.append("  no etl_runs row for this run: it stopped before check_config reached the warehouse "
                     "(see the task logs)")
    for r in rows:
        name = "configuration (check_config)" if r["credential"] == "*" else r["credential"]
        status = r["status"] if r["status"] != "running" else "running (the task ended before closing its row)"
        lines.append(f"  {name:<34}{status}")
        why = reasons(r.get("notes"))
        if r["status"] != "success" and why:
            lines.extend(f"      {reason}" for reason in why)
        elif why:
            lines.extend(f"      note: {reason}" for reason in why)
    credentials = [r for r in rows if r["credential"] != "*"]
    if credentials:
        lines.append(f"  what this run loaded ({len(credentials)} credential(s); its own etl_runs rows):")
        for label, column in RUN_FIGURES:
            lines.append(f"    {label:<32}{sum(int(r.get(column) or 0) for r in credentials):>10}")
    lines.append(f"  daily_store_sales for {business_date} (every run so far):")
    if not stores:
        lines.append("    (no row: no sales, refunds or covering run for that day)")
    for s in stores:
        lines.append(f"    {printable(str(s['store_id'])):<18}sales {int(s['sales']):>5}  net {money(s['net_sales']):>11}"
                     f"  refunds {money(s['refunds']):>9}  personas {int(s['personas']):>4}")
    lines.append("  warehouse totals (every day, every run):")
    for label, column in WAREHOUSE_FIGURES:
        lines.append(f"    {label:<32}{int(totals[column] or 0):>10}")
    return "\n".join(lines)
