"""Loyalty on both databases: enrolment, earn, redemptions, reconciliation (rules 2, 4, 16–21)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import text

from trident1_aiq.ingest.client import Trident1Client
from trident1_aiq.ingest.pipeline import ingest_credential, prepare_run, run_window
from trident1_aiq.loyalty.points import run_loyalty
from trident1_aiq.settings.config import default_variable_text, demo_settings

from ..factories import DAY, NOW, columns_reversed, credential_for

pytestmark = pytest.mark.integration
ENABLED = datetime(2026, 11, 10, 15, 0, tzinfo=UTC)
T = datetime(2026, 11, 12, 18, 0, tzinfo=UTC)
CRED = "trident1_acme"


def settings_with(**loyalty):
    integ = json.loads(default_variable_text("trident1_integration"))
    integ["loyalty"] = {"auto_enroll": True, "enabled_at": ENABLED.isoformat(), "purchased_after": "2026-11-01",
                        "points_per_dollar": 1, **loyalty.pop("loyalty", {})}
    integ.update(loyalty)
    return demo_settings({"trident1_integration": json.dumps(integ)})


class Shop:
    """Crafted rows, written straight into the warehouse, so every number is known."""

    def __init__(self, wh):
        self.wh = wh
        prepare_run(wh, settings_with(), NOW)

    def persona(self, pid="p_ana"):
        with self.wh.begin() as conn:
            self.wh.execute(conn, "INSERT INTO personas (persona_id, phone, sourced_from, loyalty_member, created_at, "
                                  "updated_at) VALUES (:p, :ph, 'Trident 1', FALSE, :t, :t)",
                            {"p": pid, "ph": "+1303555" + str(abs(hash(pid)) % 10000).zfill(4), "t": T})
        return pid

    def sale(self, sale_id, at, subtotal, discount="0.00", persona="p_ana", status="completed", discounts=()):
        with self.wh.begin() as conn:
            self.wh.execute(conn, "INSERT INTO sales (credential, sale_id, store_id, location_id, persona_id, status, "
                                  "sold_at, business_date, subtotal, discount_total, tax_total, total, updated_at, "
                                  "loaded_at, run_id) VALUES (:c, :s, 'den-downtown', 'LOC-1', :p, :st, :at, :d, :sub, "
                                  ":disc, 0, :tot, :at, :at, 'seed')",
                            {"c": CRED, "s": sale_id, "p": persona, "st": status, "at": at, "d": at.date(),
                             "sub": Decimal(subtotal), "disc": Decimal(discount),
                             "tot": Decimal(subtotal) - Decimal(discount)})
            for did in discounts:
                self.wh.execute(conn, "INSERT INTO sale_discounts (credential, sale_id, discount_id, amount, "
                                      "in_store_only) VALUES (:c, :s, :d, :a, FALSE)",
                                {"c": CRED, "s": sale_id, "d": did, "a": Decimal(discount)})
        self.queue(sale_id)

    def queue(self, sale_id):
        """What the loader does for every new or changed sale and new refund (migration 006)."""
        with self.wh.begin() as conn:
            self.wh.execute(conn, "INSERT INTO loyalty_queue (credential, sale_id) VALUES (:c, :s) "
                                  "ON CONFLICT (credential, sale_id) DO NOTHING", {"c": CRED, "s": sale_id})

    def refund(self, refund_id, sale_id, at, amount):
        with self.wh.begin() as conn:
            self.wh.execute(conn, "INSERT INTO refunds (credential, refund_id, sale_id, location_id, store_id, "
                                  "refunded_at, business_date, amount, tax, total, loaded_at, run_id) VALUES (:c, :r, "
                                  ":s, 'LOC-1', 'den-downtown', :at, :d, :a, 0, :a, :at, 'seed')",
                            {"c": CRED, "r": refund_id, "s": sale_id, "at": at, "d": at.date(), "a": Decimal(amount)})
        self.queue(sale_id)

    def set_status(self, sale_id, status):
        with self.wh.begin() as conn:
            self.wh.execute(conn, "UPDATE sales SET status = :st WHERE sale_id = :s", {"st": status, "s": sale_id})
        self.queue(sale_id)

    def loyalty(self, settings=None, run_id="run"):
        return run_loyalty(self.wh, settings or settings_with(), run_id, NOW)

    def ledger(self):
        with self.wh.begin() as conn:
            return sorted((r.idempotency_key, r.entry_type, r.points) for r in conn.execute(text(
                "SELECT idempotency_key, entry_type, points FROM loyalty_ledger")))

    def one(self, sql, **params):
        with self.wh.begin() as conn:
            return self.wh.execute(conn, sql, params).first()

    def balance(self, pid="p_ana"):
        return self.one("SELECT points FROM persona_points_balance WHERE persona_id = :p", p=pid).points


@pytest.fixture
def shop(warehouse):
    return Shop(warehouse)


def test_rule4_enrolled_at_is_max_of_enabled_at_and_first_qualifying_sale(shop):
    shop.persona()
    shop.sale("S-old", datetime(2026, 10, 30, 18, tzinfo=UTC), "50.00")  # before purchased_after
    shop.sale("S-void", datetime(2026, 11, 11, 18, tzinfo=UTC), "50.00", status="voided")  # not a purchase
    shop.sale("S-1", T, "50.00")
    shop.loyalty()
    row = shop.one("SELECT loyalty_member, loyalty_enrolled_at FROM personas WHERE persona_id = 'p_ana'")
    assert bool(row.loyalty_member)
    from trident1_aiq.warehouse import parse_db_time

    assert parse_db_time(row.loyalty_enrolled_at) == T  # the first qualifying sale, after enabled_at
    shop.persona("p_early")
    shop.sale("S-e", datetime(2026, 11, 5, 18, tzinfo=UTC), "10.00", persona="p_early")
    shop.loyalty(run_id="r2")
    early = shop.one("SELECT loyalty_enrolled_at FROM personas WHERE persona_id = 'p_early'")
    assert parse_db_time(early.loyalty_enrolled_at) == ENABLED  # bought before loyalty was enabled


def _queued(shop):
    return shop.one("SELECT COUNT(*) AS n FROM loyalty_queue").n


def test_rule16_incremental_only_queued_sales_are_worked_and_the_queue_drains(shop):
    """Issue 6: loyalty reads the loader's queue, not the sales table; settings changes redo all once."""
    shop.persona()
    shop.sale("S-1", T, "10.00")
    shop.loyalty()
    assert _queued(shop) == 0
    shop.sale("S-2", T + timedelta(hours=1), "20.00")
    with shop.wh.begin() as conn:  # as if S-2 had been loaded and already worked through
        shop.wh.execute(conn, "DELETE FROM loyalty_queue")
    shop.loyalty(run_id="r2")
    assert [k for k, _, _ in shop.ledger()] == [f"earn:{CRED}:S-1"]  # S-2 was not looked at
    shop.queue("S-2")
    shop.loyalty(run_id="r3")
    assert [k for k, _, _ in shop.ledger()] == [f"earn:{CRED}:S-1", f"earn:{CRED}:S-2"]
    shop.sale("S-3", T + timedelta(hours=2), "30.00")
    with shop.wh.begin() as conn:
        shop.wh.execute(conn, "DELETE FROM loyalty_queue")
    shop.loyalty(settings_with(loyalty={"points_per_dollar": 2}), run_id="r4")  # settings changed: every sale once
    assert dict((k, p) for k, _, p in shop.ledger()) == {
        f"earn:{CRED}:S-1": 10, f"earn:{CRED}:S-2": 20, f"earn:{CRED}:S-3": 60}  # earned once, never twice
    assert _queued(shop) == 0


def test_rule4_enrolment_moving_earlier_reworks_the_members_older_sales(shop):
    """A late sale that moves enrolment earlier lets the member's unqueued sales after it earn."""
    shop.persona()
    shop.sale("S-late", T + timedelta(days=2), "40.00")
    shop.loyalty()
    with shop.wh.begin() as conn:  # a sale between the new and the old enrolment, already worked through
        shop.wh.execute(conn, "UPDATE personas SET loyalty_enrolled_at = :t WHERE persona_id = 'p_ana'",
                        {"t": T + timedelta(days=3)})
    shop.sale("S-first", T, "10.00")
    shop.loyalty(run_id="r2")
    keys = [k for k, _, _ in shop.ledger()]
    assert keys == [f"earn:{CRED}:S-first", f"earn:{CRED}:S-late"]


def test_rule16_sale_before_enrolment_earns_nothing_later_sales_earn(shop):
    shop.persona()
    shop.sale("S-before", ENABLED - timedelta(days=2), "80.00")  # D1: before enabled_at
    shop.sale("S-after", T, "35.00", discount="3.50")
    counts = shop.loyalty()
    assert shop.ledger() == [(f"earn:{CRED}:S-after", "earn", 31)]
    assert counts.summary()["points_earned"] == 31



@pytest.mark.parametrize(("subtotal", "discount", "ppd", "points"), [
    ("19.99", "0.99", "1", 19), ("20.99", "0.00", "1", 20), ("10.99", "0.00", "1.5", 16),
    ("1234.56", "0.00", "0.001", 1), ("0.07", "0.00", "10", 0), ("5.00", "5.00", "1", 0)])
def test_rule16_the_earn_step_credits_the_floor_of_the_amounts_as_stored(shop, subtotal, discount, ppd, points):
    """The earn that runs (SQL's eligible cents, then ``points_for_cents``), on amounts SQLite keeps as REAL."""
    shop.persona()
    shop.sale("S-1", T, subtotal, discount=discount)
    counts = shop.loyalty(settings_with(loyalty={"points_per_dollar": ppd}))
    assert shop.ledger() == ([(f"earn:{CRED}:S-1", "earn", points)] if points else [])
    assert counts.summary()["points_earned"] == points


@pytest.mark.parametrize(("status", "purchase"), [
    ("completed", True), ("refunded", True), ("partially_refunded", True), ("voided", False)])
def test_rule4_rule16_each_status_a_sale_is_first_seen_in(shop, status, purchase):
    """A qualifying purchase enrols and earns on the amounts as rung, whatever its status; a void neither."""
    shop.persona()
    shop.sale("S-1", T, "20.00", status=status)
    shop.loyalty()
    assert bool(shop.one("SELECT loyalty_member FROM personas WHERE persona_id = 'p_ana'").loyalty_member) == purchase
    assert [(k, p) for k, t, p in shop.ledger() if t == "earn"] == ([(f"earn:{CRED}:S-1", 20)] if purchase else [])

def test_rule16_voided_first_earns_nothing_and_zero_points_write_nothing(shop):
    shop.persona()
    shop.sale("S-v", T, "50.00", status="voided")
    shop.sale("S-0", T + timedelta(hours=1), "0.50")
    shop.sale("S-1", T + timedelta(hours=2), "20.00")
    shop.loyalty()
    assert [k for k, _, _ in shop.ledger()] == [f"earn:{CRED}:S-1"]


def test_rule17_rule18_partial_refund_third_then_rest_reverses_33_then_67(shop):
    shop.persona()
    shop.sale("S-100", T, "100.00")
    shop.loyalty(run_id="r1")
    shop.refund("R-1", "S-100", T + timedelta(days=1), "33.33")
    shop.loyalty(run_id="r2")
    shop.refund("R-2", "S-100", T + timedelta(days=2), "66.67")
    shop.loyalty(run_id="r3")
    shop.loyalty(run_id="r4")  # a rerun writes nothing
    assert shop.ledger() == [
        (f"earn:{CRED}:S-100", "earn", 100),
        (f"earn_reversal:{CRED}:R-1", "earn_reversal", -33),
        (f"earn_reversal:{CRED}:R-2", "earn_reversal", -67),
    ]
    r1 = shop.one("SELECT * FROM refund_reconciliations WHERE refund_id = 'R-1'")
    assert (r1.points_reversed, r1.balance_after, bool(r1.negative_balance)) == (33, 67, False)
    assert shop.balance() == 0


LEDGER_OF_THE_STORY = sorted([
    (f"earn:{CRED}:S-1", "earn", 54), (f"redeem:{CRED}:S-1:aiq-ten-off", "redeem", -100),
    (f"earn:{CRED}:S-100", "earn", 100), (f"earn_reversal:{CRED}:R-1", "earn_reversal", -33),
    (f"earn_reversal:{CRED}:void:S-1", "earn_reversal", -54), (f"redeem_restore:{CRED}:void:S-1", "redeem_restore", 100),
])


@pytest.mark.parametrize("columns", ["as_selected", "reversed"])
def test_loyalty_reads_every_row_by_name(shop, monkeypatch, columns):
    """``reversed``: every row the warehouse gives comes with its columns in reverse order by position;
    enrolment, earn, redemption, refund and void reconciliation read them by name: the same ledger."""
    if columns == "reversed":
        columns_reversed(monkeypatch)
    shop.persona()
    shop.sale("S-1", T, "60.00", discount="6.00", discounts=["D-10"])  # aiq-ten-off costs 100 points
    shop.sale("S-100", T + timedelta(hours=1), "100.00")
    shop.loyalty(run_id="r1")
    shop.refund("R-1", "S-100", T + timedelta(days=1), "33.33")
    shop.set_status("S-1", "voided")
    shop.loyalty(run_id="r2")
    assert shop.ledger() == LEDGER_OF_THE_STORY
    assert shop.balance() == 67
    r1 = shop.one("SELECT points_reversed, balance_after FROM refund_reconciliations WHERE refund_id = 'R-1'")
    assert (r1.points_reversed, r1.balance_after) == (33, 21)

def test_rule18_void_after_earn_reverses_all_and_restores_all_redeemed(shop):
    shop.persona()
    shop.sale("S-1", T, "60.00", discount="6.00", discounts=["D-10"])  # aiq-ten-off costs 100 points
    shop.loyalty(run_id="r1")
    assert shop.balance() == 54 - 100
    shop.set_status("S-1", "voided")
    shop.loyalty(run_id="r2")
    row = shop.one("SELECT * FROM void_reconciliations WHERE sale_id = 'S-1'")
    assert (row.points_reversed, row.points_restored, row.balance_after) == (54, 100, 0)
    assert shop.balance() == 0
    # A void invents no refund id: every refund reconciliation joins a refund, no ledger entry names one.
    assert shop.one("SELECT COUNT(*) AS n FROM refund_reconciliations").n == 0
    assert shop.one("SELECT COUNT(*) AS n FROM loyalty_ledger WHERE refund_id IS NOT NULL").n == 0
    kinds = shop.one("SELECT kind, refund_id FROM point_reconciliations WHERE sale_id = 'S-1'")
    assert (kinds.kind, kinds.refund_id) == ("void", None)
    shop.loyalty(run_id="r3")  # a rerun writes nothing more
    assert shop.one("SELECT COUNT(*) AS n FROM void_reconciliations").n == 1 and shop.balance() == 0


def test_migration_007_moves_void_rows_out_of_refund_reconciliations(shop):
    """A warehouse written before 007 (void rows under 'void:<sale_id>') is corrected by it,
    and the entries' idempotency keys still stop a second reversal."""
    wh = shop.wh
    shop.persona()
    shop.sale("S-1", T, "60.00")
    shop.loyalty(run_id="r1")
    shop.set_status("S-1", "voided")
    shop.loyalty(run_id="r2")
    with wh.begin() as conn:  # put the warehouse back as the old code left it
        wh.execute(conn, "INSERT INTO refund_reconciliations SELECT credential, 'void:' || sale_id, sale_id, "
                         "persona_id, points_reversed, points_restored, balance_after, negative_balance, "
                         "reconciled_at, run_id FROM void_reconciliations")
        wh.execute(conn, "DELETE FROM void_reconciliations")
        wh.execute(conn, "UPDATE loyalty_ledger SET refund_id = 'void:S-1' WHERE entry_type = 'earn_reversal'")
        wh.execute(conn, "DROP VIEW point_reconciliations")
        wh.execute(conn, "DROP TABLE void_reconciliations")
        wh.execute(conn, "DELETE FROM schema_migrations WHERE version = 7")
    assert wh.migrate() == ["007_void_reconciliations"]
    assert shop.one("SELECT COUNT(*) AS n FROM refund_reconciliations").n == 0
    assert shop.one("SELECT points_reversed FROM void_reconciliations WHERE sale_id = 'S-1'").points_reversed == 60
    assert shop.one("SELECT COUNT(*) AS n FROM loyalty_ledger WHERE refund_id IS NOT NULL").n == 0
    shop.loyalty(run_id="r3")
    assert shop.balance() == 0 and shop.one("SELECT COUNT(*) AS n FROM loyalty_ledger").n == 2


def test_rule21_redemption_logged_once_and_restored_on_full_refund(shop):
    shop.persona()
    shop.sale("S-1", T, "60.00", discount="6.00", discounts=["D-10"])
    shop.loyalty(run_id="r1")
    shop.loyalty(run_id="r2")
    red = shop.one("SELECT COUNT(*) AS n, MAX(points) AS pts FROM discount_redemptions")
    assert (red.n, red.pts) == (1, 100)
    assert [e for e in shop.ledger() if e[1] == "redeem"] == [(f"redeem:{CRED}:S-1:aiq-ten-off", "redeem", -100)]
    shop.refund("R-1", "S-1", T + timedelta(days=1), "54.00")
    shop.set_status("S-1", "refunded")
    shop.loyalty(run_id="r3")
    row = shop.one("SELECT * FROM refund_reconciliations WHERE refund_id = 'R-1'")
    assert (row.points_reversed, row.points_restored) == (54, 100)
    assert shop.one("SELECT COUNT(*) AS n FROM discount_redemptions").n == 1  # the row stays


def test_rule19_negative_balance_is_flagged_not_clamped(shop):
    shop.persona()
    shop.sale("S-1", T, "100.00")
    shop.loyalty(run_id="r1")
    with shop.wh.begin() as conn:  # the member spent the points elsewhere
        shop.wh.execute(conn, "INSERT INTO loyalty_ledger (entry_id, idempotency_key, persona_id, entry_type, points, "
                              "created_at) VALUES ('x', 'adjustment:spent', 'p_ana', 'adjustment', -90, :t)", {"t": T})
    shop.refund("R-1", "S-1", T + timedelta(days=1), "100.00")
    counts = shop.loyalty(run_id="r2")
    row = shop.one("SELECT balance_after, negative_balance FROM refund_reconciliations WHERE refund_id = 'R-1'")
    assert (row.balance_after, bool(row.negative_balance)) == (-90, True)
    assert list(counts.by("negative_balances")) == ["p_ana"] and counts.negative_balances == 1


def test_rule18_refund_before_its_sale_waits_then_reconciles(shop):
    shop.persona()
    shop.refund("R-1", "S-late", T + timedelta(days=1), "10.00")
    counts = shop.loyalty(run_id="r1")
    assert counts.refunds_waiting_for_sale == 1 and shop.one("SELECT COUNT(*) AS n FROM refund_reconciliations").n == 0
    shop.sale("S-late", T, "10.00", status="refunded")
    shop.loyalty(run_id="r2")
    row = shop.one("SELECT points_reversed FROM refund_reconciliations WHERE refund_id = 'R-1'")
    assert row.points_reversed == 10 and shop.balance() == 0


def test_rule18_anonymous_sale_refund_row_with_zero_points(shop):
    shop.sale("S-anon", T, "10.00", persona=None)
    shop.refund("R-1", "S-anon", T + timedelta(days=1), "10.00")
    shop.loyalty()
    row = shop.one("SELECT persona_id, points_reversed, points_restored FROM refund_reconciliations")
    assert (row.persona_id, row.points_reversed, row.points_restored) == (None, 0, 0)


def test_rule2_not_age_compliant_enrols_nobody(shop):
    shop.persona()
    shop.sale("S-1", T, "50.00")
    counts = shop.loyalty(settings=settings_with(age_compliant=False))
    assert shop.ledger() == [] and "age_compliant" in counts.notes[0]
    assert not bool(shop.one("SELECT loyalty_member FROM personas").loyalty_member)


# ---------------------------------------------------------------- the sandbox, days out of order


def _day(wh, server, settings, day, run_id):
    now = datetime.combine(day + timedelta(days=1), datetime.min.time(), UTC) + timedelta(hours=6)
    server.state.now = NOW if now > NOW else now
    for name in ("acme", "bolt"):
        ingest_credential(wh=wh, client=Trident1Client(credential_for(server, name)), settings=settings,
                          credential=f"trident1_{name}", run_id=run_id,
                          window=run_window(day, settings.integration.lookback_hours, server.state.now),
                          now=server.state.now)
    return run_loyalty(wh, settings, run_id, server.state.now)


# A persona is compared by who it is (its phone and e-mail), not by its surrogate id: which
# identifier founded it may depend on the order records arrived in.
def _ledger(wh):
    with wh.begin() as conn:
        return sorted(tuple(str(v) for v in r) for r in conn.execute(text(
            "SELECT l.entry_id, l.idempotency_key, p.phone, p.email, l.entry_type, l.points "
            "FROM loyalty_ledger AS l JOIN personas AS p ON p.persona_id = l.persona_id")))


def _recon(wh):  # balance_after is a point-in-time figure: when it was reconciled, by definition
    with wh.begin() as conn:
        return sorted(tuple(str(v) for v in r) for r in conn.execute(text(
            "SELECT x.credential, x.refund_id, p.phone, p.email, x.points_reversed, x.points_restored "
            "FROM refund_reconciliations AS x LEFT JOIN personas AS p ON p.persona_id = x.persona_id")))


def test_rule17_out_of_order_backfill_ends_with_identical_ledger(warehouse, sandbox, tmp_path):
    """Day 3 then day 2 then day 3 again ≡ day 2 then day 3."""
    from trident1_aiq.warehouse import Warehouse, sqlite_url

    settings = settings_with()
    d2, d3 = DAY - timedelta(days=3), DAY - timedelta(days=2)
    prepare_run(warehouse, settings, NOW)
    _day(warehouse, sandbox, settings, d3, "a3")
    _day(warehouse, sandbox, settings, d2, "a2")
    _day(warehouse, sandbox, settings, d3, "a3b")
    in_order = Warehouse(sqlite_url(tmp_path / "in-order.db"))
    prepare_run(in_order, settings, NOW)
    _day(in_order, sandbox, settings, d2, "b2")
    _day(in_order, sandbox, settings, d3, "b3")
    ledger = _ledger(warehouse)
    assert len(ledger) > 50 and any(e[4] == "earn_reversal" for e in ledger)
    assert ledger == _ledger(in_order)
    assert _recon(warehouse) == _recon(in_order)
    in_order.dispose()


def test_sandbox_run_enrols_earns_and_reconciles(warehouse, sandbox):
    settings = settings_with()
    prepare_run(warehouse, settings, NOW)
    counts = _day(warehouse, sandbox, settings, DAY, "r1").summary()
    assert counts["enrolled"] > 0 and counts["points_earned"] > 0 and counts["refunds_reconciled"] > 0
    assert counts["points_reversed"] > 0
    again = _day(warehouse, sandbox, settings, DAY, "r2").summary()
    assert again["points_earned"] == again["points_reversed"] == again["enrolled"] == 0
    with warehouse.begin() as conn:
        dup = conn.execute(text("SELECT idempotency_key FROM loyalty_ledger GROUP BY idempotency_key "
                                "HAVING COUNT(*) > 1")).fetchall()
    assert dup == []
    assert date.fromisoformat(str(DAY))  # the day processed is the test's day


def test_rule16_earn_read_in_pages_writes_the_same_ledger(warehouse, sandbox, tmp_path, monkeypatch):
    """Earn candidates read a few at a time (memory stays flat) credit exactly what one read does."""
    from trident1_aiq.loyalty import points as loyalty
    from trident1_aiq.warehouse import Warehouse, sqlite_url

    settings = settings_with()
    prepare_run(warehouse, settings, NOW)
    monkeypatch.setattr(loyalty, "PAGE_SIZE", 7)
    paged = _day(warehouse, sandbox, settings, DAY, "p1").summary()
    monkeypatch.setattr(loyalty, "PAGE_SIZE", 1_000_000)
    whole_wh = Warehouse(sqlite_url(tmp_path / "whole.db"))
    prepare_run(whole_wh, settings, NOW)
    whole = _day(whole_wh, sandbox, settings, DAY, "w1").summary()
    assert paged["earn_entries"] > 7 * 3  # several pages
    assert (paged["earn_entries"], paged["points_earned"]) == (whole["earn_entries"], whole["points_earned"])
    assert _ledger(warehouse) == _ledger(whole_wh)
    whole_wh.dispose()
