"""The summary `make run` prints last (issue 19, item 12): per credential its state and reason, the
run's own figures, the day's daily_store_sales with exact money, the warehouse's totals labelled as
such — each figure checked against SQL over the warehouse, on both databases."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from trident1_aiq.report import RUN_FIGURES, WAREHOUSE_FIGURES, closing_summary, money

pytestmark = pytest.mark.integration

DAY = date(2026, 11, 20)
NOW = datetime(2026, 11, 21, 0, 5, tzinfo=UTC)


def _seed(wh):
    """Two runs of the day: an earlier one that loaded 5 sales, then this one (acme loaded 2, bolt's key
    refused). Sales of 2539.60 in all at den-downtown (three lines that do not add to a round float)."""
    rows = {
        "INSERT INTO etl_runs (run_id, credential, business_date, status, started_at, finished_at, sales_read, "
        "loaded, updated, unchanged, refunds_loaded, quarantined, held, released, personas_created, points_earned, "
        "opt_ins_sent, notes) VALUES (:r, :c, :d, :s, :now, :now, :read, :loaded, 0, :unch, :ref, :q, :held, 0, :pc, "
        ":pts, 0, :notes)": [
            {"r": "earlier", "c": "trident1_acme", "s": "success", "read": 5, "loaded": 5, "unch": 0, "ref": 1, "q": 1,
             "held": 3, "pc": 4, "pts": 900, "notes": None},
            {"r": "this", "c": "trident1_acme", "s": "success", "read": 7, "loaded": 2, "unch": 5, "ref": 0, "q": 0,
             "held": 3, "pc": 1, "pts": 120, "notes": "warning: trident1_store_mappings[4]: location 'LOC-9' is not "
                                                      "among the locations trident1_acme reports"},
            {"r": "this", "c": "trident1_bolt", "s": "failed", "read": 0, "loaded": 0, "unch": 0, "ref": 0, "q": 0,
             "held": 0, "pc": 0, "pts": 0,
             "notes": "HttpError: trident1_bolt: Trident1 refused the API key (401) on /locations\nLOC-1 INFO forged"},
        ],
        "INSERT INTO sales (credential, sale_id, store_id, location_id, status, sold_at, business_date, subtotal, "
        "discount_total, tax_total, total, updated_at, loaded_at, run_id) VALUES ('trident1_acme', :s, 'den-downtown', "
        "'LOC-1', 'completed', :now, :d, :sub, 0, 0, :sub, :now, :now, 'this')": [
            {"s": f"S-{i}", "sub": Decimal(v)} for i, v in enumerate(["1000.10", "1000.20", "539.30", "0.00", "0.00",
                                                                     "0.00", "0.00"])],
    }
    with wh.begin() as conn:
        for sql, params in rows.items():
            wh.execute(conn, sql, [dict(p, now=NOW, d=DAY) for p in params])


def _figure(text: str, label: str, section: str) -> int:
    part = text[text.index(section):]
    return int(re.search(rf"^    {re.escape(label)}\s+(\d+)$", part, re.MULTILINE).group(1))


def test_item12_failed_run_summary_has_reasons_its_own_figures_and_exact_money(warehouse):
    _seed(warehouse)
    text = closing_summary(warehouse, "this", DAY, "failed", 12.3, "var/warehouse.db")
    lines = text.splitlines()
    assert lines[0] == "=== trident1_sales_daily for 2026-11-20: failed in 12.3 s; run this; warehouse var/warehouse.db"
    # per credential: state, and why when it failed (its lines escaped: nothing forges a line)
    bolt = lines.index(next(ln for ln in lines if ln.strip().startswith("trident1_bolt")))
    assert lines[bolt].split() == ["trident1_bolt", "failed"]
    assert lines[bolt + 1].strip() == "HttpError: trident1_bolt: Trident1 refused the API key (401) on /locations"
    assert lines[bolt + 2].strip() == "LOC-1 INFO forged"  # a reason per line, each indented under its credential
    assert "note: warning: trident1_store_mappings[4]" in text
    # this run's figures are this run's etl_runs rows, not the warehouse's totals
    with warehouse.begin() as conn:
        for label, column in RUN_FIGURES:
            want = warehouse.execute(conn, f"SELECT COALESCE(SUM({column}), 0) FROM etl_runs "
                                           "WHERE run_id = 'this' AND credential <> '*'").scalar()
            assert _figure(text, label, "what this run loaded") == int(want), label
        totals = warehouse.query(conn, "report/warehouse_totals")[0]
        assert totals["sales"] == 7 and _figure(text, "sales new", "what this run loaded") == 2
        for label, column in WAREHOUSE_FIGURES:
            assert _figure(text, label, "warehouse totals (every day, every run)") == int(totals[column]), label
        net, refunds = warehouse.execute(conn, "SELECT net_sales, refunds FROM daily_store_sales "
                                               "WHERE business_date = :d", {"d": DAY}).one()
    # money exact from Decimal: 2539.60 and 0.00, never 2539.6 or 0.0
    assert money(net) == "2539.60" and money(refunds) == "0.00"
    (store,) = [ln for ln in lines if ln.strip().startswith("den-downtown")]
    assert store.split() == ["den-downtown", "sales", "7", "net", "2539.60", "refunds", "0.00", "personas", "0"]


def test_item12_a_refused_configuration_lists_each_problem(warehouse):
    from trident1_aiq.runs import record_config_failure
    from trident1_aiq.settings.config import ConfigError

    error = ConfigError(["trident1_store_mappings[0].store_id: retail store 'atlantis' does not exist",
                         "aiq_discounts: the Airflow Variable is not set"])
    record_config_failure(warehouse, "cfg", DAY, str(error), NOW)
    lines = closing_summary(warehouse, "cfg", DAY, "failed", 1.0, "x").splitlines()
    at = lines.index("  configuration (check_config)      failed")
    assert [ln.strip() for ln in lines[at + 1:at + 4]] == [
        "invalid configuration:", "trident1_store_mappings[0].store_id: retail store 'atlantis' does not exist",
        "aiq_discounts: the Airflow Variable is not set"]
    assert "what this run loaded" not in "\n".join(lines)  # no credential ran: no figures pretending it did
