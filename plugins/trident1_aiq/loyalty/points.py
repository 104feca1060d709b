"""Loyalty: enrolment, earn, discount redemptions, refund reconciliation (rules 2, 4, 16–21).

The steps run in this order, each answering its "as of" questions from the
warehouse as it stands, in one transaction. Arithmetic is Decimal; every ledger
entry carries an idempotency key (and an entry id derived from it), so reruns
and out-of-order backfills end with identical ledgers.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections import Counter
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy.engine import Connection

from trident1_aiq import runs
from trident1_aiq.logs import get_logger
from trident1_aiq.runs import RunCounts
from trident1_aiq.settings.config import Settings
from trident1_aiq.warehouse import Warehouse, as_decimal, parse_db_time

log = get_logger(__name__)
#: Earn candidates are read (and their entries written) this many at a time: memory stays flat.
PAGE_SIZE = 10_000
LEDGER_NS = uuid.UUID("5f0e2a8c-7d1b-4f5e-a7c3-0b9d6e4f1a22")


# ------------------------------------------------------------------ arithmetic


def pro_rata_total(points: int, refunded: Decimal, eligible: Decimal) -> int:
    """Rule 18: points to have given back once ``refunded`` of ``eligible`` is refunded.

    round-half-up(points × refunded / eligible), capped at ``points``; exactly
    ``points`` when the sale is fully refunded. Reconciling each refund as the
    difference of this cumulative figure makes the reversals never exceed the
    earn and sum to it exactly on a full refund, whatever the sequence.
    """
    if points <= 0 or refunded <= 0:
        return 0
    if eligible <= 0 or refunded >= eligible:
        return points
    share = (Decimal(points) * refunded / eligible).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return min(points, int(share))


def points_ratio(points_per_dollar: Decimal) -> tuple[int, int]:
    """``points_per_dollar`` per cent as an exact ratio of integers (numerator, denominator)."""
    num, den = points_per_dollar.as_integer_ratio()
    return num, 100 * den


def points_for_cents(eligible_cents: int, ratio: tuple[int, int]) -> int:
    """Rule 16, the one earn: floor((subtotal − discount_total) × ``points_per_dollar``), never negative.

    ``eligible_cents`` is subtotal − discount_total in whole cents (``loyalty/earn_stage``
    reads it so from SQL, exact on both databases) and ``ratio`` is :func:`points_ratio` of
    ``points_per_dollar``: integer arithmetic, exact, without a Decimal per sale.
    """
    if eligible_cents <= 0:
        return 0
    return eligible_cents * ratio[0] // ratio[1]


_LEDGER_NS_SHA1 = hashlib.sha1(LEDGER_NS.bytes)  # uuid5 hashes the namespace, then the name


def entry_id(key: str) -> str:
    """``"le_"`` + the first 24 hex digits of uuid5(LEDGER_NS, key).

    Spelled out instead of calling :func:`uuid.uuid5` (a UUID object per entry): SHA-1 of
    namespace + key, with uuid5's version nibble (hex digit 12 is ``5``) and RFC 4122
    variant bits (hex digit 16 is 8–b). ``tests/unit/test_loyalty_math.py`` checks both agree.
    """
    h = _LEDGER_NS_SHA1.copy()
    h.update(key.encode())
    d = h.hexdigest()
    return f"le_{d[:12]}5{d[13:16]}{'89ab'[int(d[16], 16) & 3]}{d[17:24]}"


# ------------------------------------------------------------------ steps


class Ledger:
    """Buffers this run's entries, written in batches by :meth:`flush`.

    Earn and redemptions only append (:meth:`add`): nothing they decide depends on the
    entries before. Reconciliation does — each refund gives back the difference from what
    earlier ones gave — so it loads the points of the sales it reconciles and the balances of
    their personas (:meth:`load_work`, after a flush) and :meth:`write` keeps them up to date.
    """

    def __init__(self, wh: Warehouse, conn: Connection, run_id: str, now: datetime):
        self.wh, self.conn, self.run_id, self.now = wh, conn, run_id, now
        self.pending: list[dict[str, Any]] = []
        self.points: dict[tuple[str, str], Counter] = {}
        self.balances: dict[str, int] = {}
        self.flushed = 0

    def add(self, key: str, entry_type: str, points: int, persona_id: str, *, credential: str, sale_id: str,
            store_id: str | None, refund_id: str | None = None) -> bool:
        """Buffer one entry; False (and nothing buffered) for zero points (rule 16: zero-point
        entries of any kind are not written)."""
        if points == 0:
            return False
        self.pending.append({
            "entry_id": entry_id(key), "idempotency_key": key, "persona_id": persona_id, "store_id": store_id,
            "credential": credential, "sale_id": sale_id, "refund_id": refund_id, "entry_type": entry_type,
            "points": points, "run_id": self.run_id, "created_at": self.now})
        return True

    def write(self, key: str, entry_type: str, points: int, persona_id: str, *, credential: str, sale_id: str,
              store_id: str | None, refund_id: str | None = None) -> None:
        """:meth:`add`, keeping the sale's points and the persona's loaded balance up to date."""
        if not self.add(key, entry_type, points, persona_id, credential=credential, sale_id=sale_id,
                        store_id=store_id, refund_id=refund_id):
            return
        self.points.setdefault((credential, sale_id), Counter())[entry_type] += points
        if persona_id in self.balances:
            self.balances[persona_id] += points

    def flush(self) -> None:
        if not self.pending:
            return
        self.wh.bulk(self.conn, "loyalty/insert_entry", self.pending)
        self.flushed += len(self.pending)
        self.pending = []

    def load_work(self) -> None:
        """Points and balances as the warehouse has them (after a flush) for the sales of this
        run's work that have refunds or are voided, and their personas: all reconciliation reads."""
        self.points = {}
        for r in self.wh.run(self.conn, "loyalty/work_points", {}):
            self.points.setdefault((r.credential, r.sale_id), Counter())[r.entry_type] += int(r.points or 0)
        self.balances = {r.persona_id: int(r.points or 0)
                         for r in self.wh.run(self.conn, "loyalty/work_balances", {})}

    def sale_points(self, credential: str, sale_id: str) -> Counter:
        return self.points.get((credential, sale_id), Counter())

    def balance(self, persona_id: str) -> int:
        return self.balances.setdefault(persona_id, 0)


def enroll(wh: Warehouse, conn: Connection, settings: Settings, now: datetime, counts: RunCounts) -> list[str]:
    """Rule 4: enrolled_at = max(enabled_at, first qualifying sale), from data and settings only.

    Returns the members whose enrolment moved (their older sales are worked through again).
    The enrolments are written in one batch (``loyalty/enroll``: COPY and one UPDATE on PostgreSQL).
    """
    loyalty = settings.integration.loyalty
    current = {r.persona_id: parse_db_time(r.loyalty_enrolled_at)
               for r in wh.run(conn, "loyalty/enrolled_personas", {})}
    updates = []
    qualified = set()
    enrolled = changed = 0
    for r in wh.run(conn, "loyalty/first_qualifying_sales", {"purchased_after": loyalty.purchased_after}):
        persona = r.persona_id
        qualified.add(persona)
        enrolled_at = max(loyalty.enabled_at, parse_db_time(r.first_sale))
        if current.get(persona) != enrolled_at:
            updates.append({"persona_id": persona, "enrolled_at": enrolled_at, "updated_at": now})
            if persona in current:
                changed += 1
            else:
                enrolled += 1
    counts.add("enrolled", enrolled)
    counts.add("enrollment_changed", changed)
    if updates:
        wh.bulk(conn, "loyalty/enroll", updates)
    # Members of this run's work with no qualifying purchase left (a void took the only one):
    # never eligible, from the data alone — the same warehouse whatever order the runs saw it in.
    gone = [{"persona_id": p, "now": now} for p in current if p not in qualified]
    if gone:
        wh.run(conn, "loyalty/unenroll", gone)
        counts.add("enrollment_changed", len(gone))
    return [u["persona_id"] for u in updates if u["persona_id"] in current] + [g["persona_id"] for g in gone]


def earn(ledger: Ledger, settings: Settings, counts: RunCounts) -> None:
    """Rule 16, one entry per candidate sale. SQL gives each sale's eligible amount in whole
    cents (exact on both databases); the points are integer arithmetic (:func:`points_for_cents`)."""
    ratio = points_ratio(settings.integration.loyalty.points_per_dollar)
    earned: Counter = Counter()
    entries = 0
    ledger.wh.run(ledger.conn, "loyalty/earn_analyze")
    ledger.wh.run(ledger.conn, "loyalty/earn_stage")
    after = {"after_credential": "", "after_sale_id": ""}
    while True:  # a page of candidates at a time, its entries written before the next (memory)
        page = ledger.wh.run(ledger.conn, "loyalty/earn_candidates", dict(after, page_size=PAGE_SIZE)).all()
        for r in page:
            points = points_for_cents(int(r.eligible_cents), ratio)
            if points <= 0:
                continue
            ledger.add(f"earn:{r.credential}:{r.sale_id}", "earn", points, r.persona_id, credential=r.credential,
                       sale_id=r.sale_id, store_id=r.store_id)
            earned[r.credential] += points
            entries += 1
        ledger.flush()
        if len(page) < PAGE_SIZE:
            break
        after = {"after_credential": page[-1].credential, "after_sale_id": page[-1].sale_id}
    counts.add("points_earned", earned)
    counts.add("earn_entries", entries)


def redeem(ledger: Ledger, settings: Settings, counts: RunCounts) -> None:
    """Rule 21: one redemption row per sale × mirrored discount; a redeem entry of −cost once."""
    mirrors = {(d.credential, d.trident1_discount_id): d for d in settings.discounts}
    rows = []
    redeemed = 0
    for r in ledger.wh.run(ledger.conn, "loyalty/redemption_candidates", {}):
        aiq = mirrors.get((r.credential, r.discount_id))
        if aiq is None:
            continue
        rows.append({"credential": r.credential, "sale_id": r.sale_id, "aiq_discount_id": aiq.id,
                     "persona_id": r.persona_id, "trident1_discount_id": r.discount_id, "points": aiq.points_cost,
                     "redeemed_at": parse_db_time(r.sold_at), "run_id": ledger.run_id})
        ledger.add(f"redeem:{r.credential}:{r.sale_id}:{aiq.id}", "redeem", -aiq.points_cost, r.persona_id,
                   credential=r.credential, sale_id=r.sale_id, store_id=r.store_id)
        redeemed += aiq.points_cost
    counts.add("redemptions", len(rows))
    counts.add("points_redeemed", redeemed)
    if rows:
        ledger.wh.bulk(ledger.conn, "loyalty/insert_redemption", rows)
    ledger.flush()


def reconcile(ledger: Ledger, counts: RunCounts) -> None:
    """Rule 18: reverse earned and restore redeemed points pro rata, refund by refund."""
    wh, conn = ledger.wh, ledger.conn
    refunds = wh.query(conn, "loyalty/pending_refunds")
    pending_voids = wh.query(conn, "loyalty/pending_voids")
    if refunds or pending_voids:
        ledger.load_work()
    refunded = {(r["credential"], r["sale_id"]): as_decimal(r["amount"])
                for r in wh.query(conn, "loyalty/work_refunded")} if refunds else {}
    rows: list[dict[str, Any]] = []
    for r in refunds:
        key = (r["credential"], r["sale_id"])
        eligible = as_decimal(r["subtotal"]) - as_decimal(r["discount_total"])
        after = refunded.get(key, Decimal(0)) + as_decimal(r["amount"])
        refunded[key] = after
        rows.append(_give_back(ledger, counts, r, refund_id=r["refund_id"], fraction=(after, eligible)))
    voids: list[dict[str, Any]] = []
    for v in pending_voids:
        voids.append(_give_back(ledger, counts, v, refund_id=None, fraction=None))
        counts.add("voids_reconciled")
    ledger.flush()
    if rows:
        wh.run(conn, "loyalty/insert_reconciliation", rows)
    if voids:
        wh.run(conn, "loyalty/insert_void_reconciliation", voids)
    counts.add("refunds_waiting_for_sale", int(wh.execute(conn, wh.sql("loyalty/waiting_refunds")).scalar() or 0))


def _give_back(ledger: Ledger, counts: RunCounts, sale: dict[str, Any], *, refund_id: str | None,
               fraction: tuple[Decimal, Decimal] | None) -> dict[str, Any]:
    """Reconcile one refund (``refund_id``, ``fraction`` = refunded so far of eligible) or,
    with ``refund_id`` None, the sale's void: its row for refund_ or void_reconciliations."""
    cred, sale_id, persona = sale["credential"], sale["sale_id"], sale["persona_id"]
    # A void's entries are keyed 'void:<sale_id>' (the keys written before migration 007 too),
    # but name no refund: refund_id stays empty on the ledger and in its reconciliation row.
    key = refund_id if refund_id is not None else f"void:{sale_id}"
    points = ledger.sale_points(cred, sale_id)
    earned, redeemed = points["earn"], -points["redeem"]
    reversed_so_far, restored_so_far = -points["earn_reversal"], points["redeem_restore"]
    if fraction is None:  # a void gives everything back
        target_rev, target_res = earned, redeemed
    else:
        target_rev = pro_rata_total(earned, *fraction)
        target_res = pro_rata_total(redeemed, *fraction)
    reverse = max(0, target_rev - reversed_so_far)
    restore = max(0, target_res - restored_so_far)
    balance = None
    if persona:
        ledger.write(f"earn_reversal:{cred}:{key}", "earn_reversal", -reverse, persona,
                     credential=cred, sale_id=sale_id, store_id=sale["store_id"], refund_id=refund_id)
        ledger.write(f"redeem_restore:{cred}:{key}", "redeem_restore", restore, persona,
                     credential=cred, sale_id=sale_id, store_id=sale["store_id"], refund_id=refund_id)
        balance = ledger.balance(persona)
    negative = balance is not None and balance < 0
    if persona:
        counts.add("points_reversed", reverse, at=cred)
        counts.add("points_restored", restore)
    if fraction is not None:
        counts.add("refunds_reconciled")
    if negative:  # rule 19: flagged, never clamped
        counts.add("negative_balances", at=persona)
    return {"credential": cred, "refund_id": refund_id, "sale_id": sale_id, "persona_id": persona,
            "points_reversed": reverse if persona else 0, "points_restored": restore if persona else 0,
            "balance_after": balance, "negative_balance": negative, "now": ledger.now, "run_id": ledger.run_id}


def settings_fingerprint(settings: Settings) -> str:
    """What loyalty's answers depend on besides the data: a change means every sale is redone once."""
    loyalty = settings.integration.loyalty
    basis = {"loyalty": loyalty.model_dump(mode="json"),
             "discounts": sorted((d.credential, d.trident1_discount_id, d.id, d.points_cost) for d in settings.discounts)}
    return hashlib.sha256(json.dumps(basis, sort_keys=True, default=str).encode()).hexdigest()[:32]


def run_loyalty(wh: Warehouse, settings: Settings, run_id: str, now: datetime) -> RunCounts:
    counts = RunCounts("loyalty")
    integ = settings.integration
    if not integ.age_compliant:
        counts.notes.append("age_compliant is false: loyalty skipped (rule 2)")
        log.warning("%s", counts.notes[-1])
        return counts
    with wh.begin() as conn:
        wh.run(conn, "loyalty/lock")
        fingerprint = settings_fingerprint(settings)
        state = wh.query(conn, "loyalty/state_get", {"state_key": "settings"})
        if not state or state[0]["state_value"] != fingerprint:
            wh.run(conn, "loyalty/queue_all")  # first run, or the settings changed: redo every sale once
            wh.run(conn, "loyalty/state_set", {"state_key": "settings", "state_value": fingerprint})
            counts.notes.append("loyalty settings new or changed: every sale was worked through")
        wh.run(conn, "loyalty/work_create")
        wh.run(conn, "loyalty/work_analyze")
        ledger = Ledger(wh, conn, run_id, now)
        if integ.loyalty.auto_enroll:
            moved = enroll(wh, conn, settings, now, counts)
            if moved:
                wh.run(conn, "loyalty/work_add_persona_sales", [{"persona_id": p} for p in moved])
        else:
            counts.notes.append("loyalty.auto_enroll is off: no new enrolments")
        earn(ledger, settings, counts)
        redeem(ledger, settings, counts)
        reconcile(ledger, counts)
        wh.run(conn, "loyalty/queue_done")
        runs.record_points(wh, conn, run_id, integ.credentials, counts)
    log.info("loyalty: %s", counts.summary())
    return counts
