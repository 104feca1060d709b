"""The ingest pipeline against the sandbox, on SQLite and PostgreSQL (rules 6, 8–10, 14, 15, 27)."""

from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import text

from trident1_aiq.ingest import load as load_module
from trident1_aiq.ingest.pipeline import RejectRateExceeded, prepare_run, run_window
from trident1_aiq.settings.config import default_variable_text, demo_settings
from trident1_sandbox import data

from ..factories import DAY, NOW, identity_snapshot, ingest, scalar, snapshot

pytestmark = pytest.mark.integration

LOADED_TABLES = ("sale_items", "sale_discounts", "refunds", "sales", "persona_sources", "personas", "quarantine",
                 "etl_run_locations", "etl_runs")


def clear_loaded(wh) -> None:
    with wh.begin() as conn:
        for table in LOADED_TABLES:
            conn.execute(text(f"DELETE FROM {table}"))


def served(server, name="acme", day=DAY, lookback=48, now=NOW):
    st = server.state
    w = run_window(day, lookback, now)
    return (data.list_sales(st.stores[name], st.volume, w.start, w.end, now),
            data.list_refunds(st.stores[name], st.volume, w.start, w.end, now))


def test_counts_per_store_match_what_the_sandbox_served(warehouse, sandbox, settings):
    """Rules 6, 8, 10: every served sale is loaded, quarantined or held — none lost, none doubled."""
    prepare_run(warehouse, settings, NOW)
    summary = ingest(warehouse, sandbox, settings)
    sales, refunds = served(sandbox)
    malformed = [s for s in sales if s.get("_malformed")]
    mapped = settings.mapping_for("trident1_acme")
    good = [s for s in sales if not s.get("_malformed")]
    expected = Counter(mapped[s["location_id"]] for s in good if s["location_id"] in mapped)
    with warehouse.begin() as conn:
        got = Counter({r.store_id: r.n for r in conn.execute(text(
            "SELECT store_id, COUNT(*) AS n FROM sales GROUP BY store_id"))})
    assert got == expected and sum(got.values()) > 100
    held_sales = [s for s in good if s["location_id"] not in mapped]
    held_refunds = [r for r in refunds if r["location_id"] not in mapped]
    assert summary["quarantined"] == len(malformed) > 0
    assert summary["held"] == len(held_sales) + len(held_refunds) > 0
    assert scalar(warehouse, "SELECT COUNT(*) FROM quarantine WHERE held = FALSE") == len(malformed)
    assert scalar(warehouse, "SELECT COUNT(*) FROM refunds") == len([r for r in refunds if r["location_id"] in mapped])
    lines = sum(len(s["items"]) for s in good if s["location_id"] in mapped)
    assert scalar(warehouse, "SELECT COUNT(*) FROM sale_items") == lines


def test_rule8_rerun_and_overlapping_window_change_nothing(warehouse, sandbox, settings):
    prepare_run(warehouse, settings, NOW)
    ingest(warehouse, sandbox, settings, run_id="run-1")
    first = snapshot(warehouse)
    again = ingest(warehouse, sandbox, settings, run_id="run-2")
    assert again["loaded"] == again["updated"] == 0
    assert snapshot(warehouse) == first
    # The previous day overlaps by the look-back: it adds its own older rows, changes none of ours.
    ingest(warehouse, sandbox, settings, run_id="run-3", day=DAY - timedelta(days=1))
    after = snapshot(warehouse)
    assert set(first["sales"]) <= set(after["sales"])


def test_rule8_rerun_skips_what_the_warehouse_has_before_normalising(warehouse, sandbox, settings, monkeypatch):
    """Issue 6: an unchanged rerun normalises and validates only what is not loaded (rejects, held)."""
    from trident1_aiq.ingest import entities

    prepare_run(warehouse, settings, NOW)
    first = ingest(warehouse, sandbox, settings, run_id="r1")
    before = snapshot(warehouse)
    normalised = []
    real = entities.normalize_sale
    monkeypatch.setattr(entities, "normalize_sale", lambda raw, *a: normalised.append(raw) or real(raw, *a))
    second = ingest(warehouse, sandbox, settings, run_id="r2")
    assert second["sales_read"] == first["sales_read"] and second["unchanged"] == first["loaded"] > 0
    assert second["loaded"] == second["updated"] == 0
    assert len(normalised) == first["sales_read"] - first["loaded"] > 0  # the rejected and the held
    assert snapshot(warehouse) == before


def test_rule8_newer_version_replaces_the_sale(warehouse, sandbox, settings):
    prepare_run(warehouse, settings, NOW)
    early = NOW - timedelta(days=3)
    sandbox.state.now = early
    ingest(warehouse, sandbox, settings, run_id="early", day=(early - timedelta(days=1)).date(), now=early)
    before = {r.sale_id: r.status for r in _sales(warehouse)}
    sandbox.state.now = NOW
    summary = ingest(warehouse, sandbox, settings, run_id="late")
    after = {r.sale_id: r.status for r in _sales(warehouse)}
    changed = {k for k in before if before[k] != after.get(k)}
    assert changed and summary["updated"] >= len(changed)
    assert {after[k] for k in changed} <= {"refunded", "partially_refunded", "voided"}
    with warehouse.begin() as conn:  # lines replaced, not doubled
        dupes = conn.execute(text("SELECT credential, sale_id, line_id, COUNT(*) FROM sale_items "
                                  "GROUP BY credential, sale_id, line_id HAVING COUNT(*) > 1")).fetchall()
    assert dupes == []


def _sales(wh):
    with wh.begin() as conn:
        return conn.execute(text("SELECT sale_id, status FROM sales")).fetchall()


def test_rule6_unmapped_location_held_then_loaded_when_mapped(warehouse, sandbox, settings):
    prepare_run(warehouse, settings, NOW)
    first = ingest(warehouse, sandbox, settings, run_id="r1", day=DAY - timedelta(days=3))
    held = scalar(warehouse, "SELECT COUNT(*) FROM quarantine WHERE held = TRUE AND released_at IS NULL")
    assert held == first["held"] > 0
    assert scalar(warehouse, "SELECT COUNT(*) FROM sales WHERE location_id = 'LOC-4'") == 0

    maps = json.loads(default_variable_text("trident1_store_mappings"))
    maps.append({"credential": "trident1_acme", "location_id": "LOC-4", "store_id": "la-venice"})
    mapped = demo_settings({"trident1_store_mappings": json.dumps(maps)})
    prepare_run(warehouse, mapped, NOW)
    # The admin maps LOC-4; the next run processes another day, yet loads everything held, of every day.
    second = ingest(warehouse, sandbox, mapped, run_id="r2", day=DAY)
    assert second["released"] > 0
    assert scalar(warehouse, "SELECT COUNT(*) FROM quarantine WHERE held = TRUE AND released_at IS NULL") == 0
    old_days = scalar(warehouse, "SELECT COUNT(DISTINCT business_date) FROM sales WHERE location_id = 'LOC-4' "
                                 "AND business_date < :d", d=DAY - timedelta(days=4))
    assert old_days >= 1  # days the second window never read
    assert scalar(warehouse, "SELECT COUNT(*) FROM sales WHERE location_id = 'LOC-4' AND store_id = 'la-venice'") > 0


def test_rule10_same_bad_record_refreshes_its_row(warehouse, sandbox, settings):
    prepare_run(warehouse, settings, NOW)
    ingest(warehouse, sandbox, settings, run_id="r1")
    n = scalar(warehouse, "SELECT COUNT(*) FROM quarantine WHERE held = FALSE")
    ingest(warehouse, sandbox, settings, run_id="r2")
    assert scalar(warehouse, "SELECT COUNT(*) FROM quarantine WHERE held = FALSE") == n
    assert scalar(warehouse, "SELECT COUNT(*) FROM quarantine WHERE held = FALSE AND run_id = 'r2'") == n
    assert scalar(warehouse, "SELECT COUNT(*) FROM quarantine WHERE first_run_id = 'r1'") >= n
    with warehouse.begin() as conn:
        row = conn.execute(text("SELECT reasons, payload FROM quarantine WHERE held = FALSE")).first()
    assert json.loads(row.reasons) and json.loads(row.payload)  # reasons and the raw payload


def test_rule10_valid_version_releases_the_quarantined_record(warehouse, sandbox, settings):
    prepare_run(warehouse, settings, NOW)
    ingest(warehouse, sandbox, settings, run_id="r1")
    with warehouse.begin() as conn:
        key = conn.execute(text("SELECT record_key FROM quarantine WHERE held = FALSE AND record_key LIKE 'S-%'")).scalar()
        # pretend an earlier run had quarantined a record that is valid now
        good = conn.execute(text("SELECT sale_id FROM sales LIMIT 1")).scalar()
        warehouse.execute(conn, "UPDATE quarantine SET record_key = :g WHERE record_key = :k", {"g": good, "k": key})
        conn.execute(text("DELETE FROM sales WHERE sale_id = :g"), {"g": good})
    ingest(warehouse, sandbox, settings, run_id="r2")
    assert scalar(warehouse, "SELECT released_by_run FROM quarantine WHERE record_key = :g", g=good) == "r2"


def test_rule10_reject_rate_over_limit_fails_after_quarantining(warehouse, sandbox):
    strict = demo_settings({"trident1_integration": json.dumps({"credentials": ["trident1_acme", "trident1_bolt"],
                                                                "max_reject_rate": 0.001})})
    prepare_run(warehouse, strict, NOW)
    with pytest.raises(RejectRateExceeded) as err:
        ingest(warehouse, sandbox, strict)
    assert "max_reject_rate" in str(err.value)
    assert scalar(warehouse, "SELECT COUNT(*) FROM quarantine WHERE held = FALSE") > 0
    assert scalar(warehouse, "SELECT COUNT(*) FROM sales") > 0  # good rows of the batch loaded
    assert scalar(warehouse, "SELECT status FROM etl_runs WHERE credential = 'trident1_acme'") == "failed"


def test_rule14_rule15_personas_merged_and_sourced_from_trident1(warehouse, sandbox, settings):
    prepare_run(warehouse, settings, NOW)
    acme = ingest(warehouse, sandbox, settings, "acme")
    bolt = ingest(warehouse, sandbox, settings, "bolt")
    assert acme["personas_created"] > 0 and acme["personas_merged"] + bolt["personas_merged"] > 0
    assert scalar(warehouse, "SELECT COUNT(*) FROM personas WHERE sourced_from <> 'Trident 1'") == 0
    # one person (same phone) shops at both store accounts: one persona with sales at both
    assert scalar(warehouse, "SELECT COUNT(*) FROM (SELECT persona_id FROM sales WHERE persona_id IS NOT NULL "
                             "GROUP BY persona_id HAVING COUNT(DISTINCT credential) > 1) AS x") > 0
    with warehouse.begin() as conn:
        dup = conn.execute(text("SELECT phone FROM personas WHERE phone IS NOT NULL GROUP BY phone "
                                "HAVING COUNT(*) > 1")).fetchall()
    assert dup == []
    with warehouse.begin() as conn:  # a later source never overwrites sourced_from
        conn.execute(text("UPDATE personas SET first_name = NULL"))
    ingest(warehouse, sandbox, settings, "acme", run_id="r2")
    assert scalar(warehouse, "SELECT COUNT(*) FROM personas WHERE sourced_from <> 'Trident 1'") == 0


def test_rule12_anonymous_sales_load_without_persona(warehouse, sandbox, settings):
    prepare_run(warehouse, settings, NOW)
    ingest(warehouse, sandbox, settings)
    assert scalar(warehouse, "SELECT COUNT(*) FROM sales WHERE persona_id IS NULL") > 0
    assert scalar(warehouse, "SELECT COUNT(*) FROM personas WHERE phone IS NULL AND email IS NULL") == 0


def test_crash_mid_chunk_rolls_the_chunk_back_and_rerun_converges(warehouse, sandbox, settings, monkeypatch):
    """A chunk commits whole or not at all; chunks before it stay (customers' personas here)."""
    prepare_run(warehouse, settings, NOW)
    real_merge = load_module.merge

    def crash(*args, **kwargs):
        real_merge(*args, **kwargs)  # staging and merge statements ran...
        raise RuntimeError("worker killed before commit")

    monkeypatch.setattr("trident1_aiq.ingest.pipeline.merge", crash)
    with pytest.raises(RuntimeError):
        ingest(warehouse, sandbox, settings, run_id="r1")
    assert scalar(warehouse, "SELECT COUNT(*) FROM sales") == 0
    assert scalar(warehouse, "SELECT COUNT(*) FROM sale_items") == 0
    assert scalar(warehouse, "SELECT COUNT(*) FROM persona_sources") > 0  # the customers chunk committed
    assert scalar(warehouse, "SELECT status FROM etl_runs WHERE run_id = 'r1'") == "failed"
    monkeypatch.setattr("trident1_aiq.ingest.pipeline.merge", real_merge)
    ingest(warehouse, sandbox, settings, run_id="r1")
    crashed_then_rerun = snapshot(warehouse)

    clean = demo_settings({})
    from trident1_aiq.warehouse import Warehouse

    other = Warehouse(warehouse.url)
    clear_loaded(other)
    prepare_run(other, clean, NOW)
    ingest(other, sandbox, clean, run_id="clean")
    assert snapshot(other) == crashed_then_rerun
    other.dispose()


def test_rule8_streamed_in_small_chunks_equals_one_chunk(warehouse, sandbox, settings):
    """Chunks of 7 records from pages of 5 that repeat records across page boundaries give the
    warehouse, run counts and report rows that one chunk gives (rule 8 holds across chunks)."""
    from trident1_sandbox.app import Faults

    prepare_run(warehouse, settings, NOW)
    one = ingest(warehouse, sandbox, settings, run_id="r")
    one_snap, one_report = identity_snapshot(warehouse), _report_rows(warehouse)
    clear_loaded(warehouse)
    sandbox.state.faults = Faults(duplicate_pages=True)
    small = ingest(warehouse, sandbox, settings, run_id="r", chunk_size=7, page_limit=5)
    assert small["chunks"] > 50 and small["duplicates_skipped"] > 0
    assert identity_snapshot(warehouse) == one_snap
    assert _report_rows(warehouse) == one_report
    volatile = {"step_seconds", "chunks", "duplicates_skipped", "personas_created", "personas_merged"}
    assert {k: v for k, v in small.items() if k not in volatile} == {k: v for k, v in one.items() if k not in volatile}


def _report_rows(wh):
    with wh.begin() as conn:
        return sorted(tuple(r) for r in conn.execute(text(
            "SELECT location_id, records_read, loaded, updated, unchanged, quarantined, held, released, refunds_loaded "
            "FROM etl_run_locations")))


def test_rule27_run_report_rows(warehouse, sandbox, settings):
    prepare_run(warehouse, settings, NOW)
    summary = ingest(warehouse, sandbox, settings)
    with warehouse.begin() as conn:
        run = conn.execute(text("SELECT * FROM etl_runs WHERE run_id = 'run-1'")).mappings().one()
        locs = conn.execute(text("SELECT * FROM etl_run_locations WHERE run_id = 'run-1'")).mappings().all()
    assert run["status"] == "success" and run["loaded"] == summary["loaded"]
    assert run["sales_read"] + run["refunds_read"] + run["customers_read"] == run["records_read"]
    assert set(json.loads(run["step_seconds"])) == {"extract", "compare", "normalize", "validate", "personas", "load"}
    assert sum(r["loaded"] for r in locs) == run["loaded"]
    assert {r["location_id"] for r in locs} >= {"LOC-1", "LOC-2", "LOC-3", "LOC-4"}
    assert next(r for r in locs if r["location_id"] == "LOC-4")["store_id"] is None


def test_rule5_retail_stores_mirror_every_field_of_the_variable(warehouse, settings):
    prepare_run(warehouse, settings, NOW)
    with warehouse.begin() as conn:
        row = conn.execute(text("SELECT * FROM retail_stores WHERE store_id = 'den-downtown'")).mappings().one()
    store = settings.store("den-downtown")
    assert (row["name"], row["nickname"], row["phone"], row["email"], row["venue_id"]) == \
        (store.name, store.nickname, store.phone, store.email, store.venue_id)
    assert (row["address_line1"], row["city"], row["state"], row["postal_code"], row["country"]) == \
        ("1 Main St", "Denver", "CO", "80202", "US")
    assert (row["disclaimer"], bool(row["sms_signup"]), bool(row["hide_from_selection"]), row["timezone"]) == \
        ("Must be 21+.", True, False, "America/Denver")
    assert bool(scalar(warehouse, "SELECT hide_from_selection FROM retail_stores WHERE store_id = 'chi-loop'"))


def test_rule2_not_age_compliant_still_loads_sales_and_says_what_was_skipped(warehouse, sandbox):
    from trident1_aiq.report import run_summary

    integ = json.loads(default_variable_text("trident1_integration"))
    integ["age_compliant"] = False
    s = demo_settings({"trident1_integration": json.dumps(integ)})
    prepare_run(warehouse, s, NOW)
    ingest(warehouse, sandbox, s)
    assert scalar(warehouse, "SELECT COUNT(*) FROM sales") > 0
    text_, _ = run_summary(warehouse, "run-1", s)
    notes = scalar(warehouse, "SELECT notes FROM etl_runs WHERE run_id = 'run-1'")
    assert "age_compliant is false" in notes and "opt-ins" in notes and "age_compliant" in text_


def test_analyst_views(warehouse, sandbox, settings):
    prepare_run(warehouse, settings, NOW)
    ingest(warehouse, sandbox, settings)
    with warehouse.begin() as conn:
        row = conn.execute(text("SELECT * FROM daily_store_sales WHERE store_id = 'den-downtown' "
                                "ORDER BY business_date DESC")).mappings().first()
        direct = conn.execute(text(
            "SELECT COUNT(*) AS n, SUM(subtotal - discount_total) AS net FROM sales "
            "WHERE store_id = 'den-downtown' AND status <> 'voided' AND business_date = :d"),
            {"d": row["business_date"]}).mappings().one()
        balance = conn.execute(text("SELECT COUNT(*) FROM persona_points_balance")).scalar()
    assert row["sales"] == direct["n"]
    assert round(float(row["net_sales"]), 2) == round(float(direct["net"]), 2)
    assert balance == scalar(warehouse, "SELECT COUNT(*) FROM personas")


def test_admin_and_analyst_views(warehouse, sandbox, settings):
    prepare_run(warehouse, settings, NOW)
    summary = ingest(warehouse, sandbox, settings)
    with warehouse.begin() as conn:
        unmapped = conn.execute(text("SELECT * FROM unmapped_locations")).mappings().all()
        mapped = conn.execute(text("SELECT COUNT(*) FROM location_mappings WHERE store_id IS NOT NULL")).scalar()
        by_reason = conn.execute(text("SELECT reason_code, SUM(records) AS n FROM quarantine_daily "
                                      "GROUP BY reason_code")).fetchall()
        categories = conn.execute(text("SELECT COUNT(DISTINCT category) FROM daily_category_sales")).scalar()
    assert [(u["credential"], u["location_id"]) for u in unmapped] == [("trident1_acme", "LOC-4")]
    assert unmapped[0]["held_records"] == summary["held"] and mapped == 3
    assert dict((r[0], int(r[1])) for r in by_reason)["unmapped_location"] == summary["held"]
    assert sum(int(r[1]) for r in by_reason) == summary["held"] + summary["quarantined"]
    assert categories >= 4


def test_freshness_flags_a_mapped_location_with_no_recent_sale(warehouse, sandbox):
    from trident1_aiq.report import run_summary

    maps = json.loads(default_variable_text("trident1_store_mappings"))
    maps.append({"credential": "trident1_acme", "location_id": "LOC-9", "store_id": "nyc-soho"})
    s = demo_settings({"trident1_store_mappings": json.dumps(maps)})
    prepare_run(warehouse, s, NOW)
    ingest(warehouse, sandbox, s)
    ingest(warehouse, sandbox, s, "bolt")
    text_, totals = run_summary(warehouse, "run-1", s)
    assert totals["stale_locations"] == ["trident1_acme/LOC-9"]
    assert "LOC-9 → nyc-soho: newest sale never" in text_


@pytest.mark.postgres
def test_two_runs_of_the_same_day_at_once_end_in_the_clean_state(sandbox, settings):
    """Issue 7: concurrency is handled by locks and keys, not luck (PostgreSQL)."""
    import threading

    from trident1_aiq.warehouse import Warehouse

    from ..factories import drop_pg_database, make_pg_database, require_postgres

    require_postgres()
    names, snaps = [], []
    try:
        for concurrent in (True, False):
            name, url = make_pg_database()
            names.append(name)
            wh = Warehouse(url)
            prepare_run(wh, settings, NOW)
            errors: list[BaseException] = []

            def one(run_id, day, wh=wh, errors=errors):
                try:
                    ingest(wh, sandbox, settings, run_id=run_id, day=day)
                    ingest(wh, sandbox, settings, "bolt", run_id=run_id, day=day)
                except BaseException as exc:  # noqa: BLE001 - reported below
                    errors.append(exc)

            jobs = [("a", DAY), ("b", DAY), ("backfill", DAY - timedelta(days=1))]
            if concurrent:
                threads = [threading.Thread(target=one, args=j) for j in jobs]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()
            else:
                for j in jobs:
                    one(*j)
            assert errors == []
            snaps.append(identity_snapshot(wh))
            wh.dispose()
        assert snaps[0] == snaps[1]
    finally:
        for name in names:
            drop_pg_database(name)


def test_item15_category_and_store_views_reconcile_to_the_cent(warehouse, sandbox, settings):
    """Issue 19 item 15: per store and day, Σ daily_category_sales.net_sales = daily_store_sales.net_sales
    exactly (one definition of the money: a sale's subtotal − discount_total), and each category's
    sales count is the sales with a line of it."""
    from decimal import Decimal

    from ..factories import DAY

    prepare_run(warehouse, settings, NOW)
    ingest(warehouse, sandbox, settings)
    ingest(warehouse, sandbox, settings, name="bolt", run_id="run-2", day=DAY - timedelta(days=1))
    cents = Decimal("0.01")
    with warehouse.begin() as conn:
        stores = {(r.store_id, str(r.business_date)): Decimal(str(r.net_sales)).quantize(cents)
                  for r in conn.execute(text("SELECT store_id, business_date, net_sales FROM daily_store_sales "
                                             "WHERE sales > 0"))}
        by_category: dict = {}
        for r in conn.execute(text("SELECT store_id, business_date, net_sales FROM daily_category_sales")):
            key = (r.store_id, str(r.business_date))
            by_category[key] = by_category.get(key, Decimal(0)) + Decimal(str(r.net_sales)).quantize(cents)
        lines = conn.execute(text("SELECT COUNT(*) FROM sale_items AS i JOIN sales AS s ON s.credential = "
                                  "i.credential AND s.sale_id = i.sale_id WHERE s.status <> 'voided'")).scalar()
    assert len(stores) >= 8 and lines > 100
    assert by_category == stores
