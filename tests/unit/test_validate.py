"""Great Expectations validation: every malformed kind is rejected with its reason (rule 10)."""

from __future__ import annotations

import copy

import pytest

from trident1_aiq.ingest.normalize import normalize_refund, normalize_sale
from trident1_aiq.ingest.validate import (
    frame_columns,
    presence_only,
    refund_checks,
    sale_checks,
    validate_refunds,
    validate_sales,
)

from ..factories import sale

pytestmark = pytest.mark.unit
KNOWN = {"LOC-1", "LOC-2"}


def _reasons(raw):
    rows = [normalize_sale(raw, 0, "c", {"LOC-1": "America/Denver"}, "US"),
            normalize_sale(sale(id="S-ok"), 1, "c", {"LOC-1": "America/Denver"}, "US")]
    good, bad = validate_sales(rows, KNOWN)
    assert [g.sale_id for g in good] == ["S-ok"]  # the good record of the batch still passes
    assert len(bad) == 1
    return " | ".join(bad[0][1])


def test_well_formed_sale_passes():
    good, bad = validate_sales([normalize_sale(sale(), 0, "c", {}, "US")], KNOWN)
    assert len(good) == 1 and not bad


def test_rule10_missing_id():
    assert "missing_id" in _reasons(sale(id=None))


def test_rule10_unparseable_money():
    reasons = _reasons(sale(subtotal="12,3O"))
    assert "bad_money: subtotal" in reasons and "note: subtotal" in reasons


def test_rule10_unparseable_time():
    assert "bad_time: created_at" in _reasons(sale(created_at="11/25/2026 10:00"))


def test_rule10_lines_do_not_add_up_beyond_one_cent():
    assert "lines_do_not_add_up: total is not subtotal" in _reasons(sale(total="37.70"))
    raw = sale()
    raw["items"][0]["total"] = "36.72"
    assert "an item's total" in _reasons(raw)


def test_rule10_one_cent_is_rounding_not_an_error():
    raw = sale(total="36.71")
    raw["payments"][0]["amount"] = "36.71"
    good, bad = validate_sales([normalize_sale(raw, 0, "c", {}, "US")], KNOWN)
    assert len(good) == 1 and not bad


def _weighed(subtotal: str) -> dict:
    """The fleet benchmark's one wrongly quarantined sale (f1124's S-126120301107): two items sold by
    weight whose products end in half a cent (1.700 × 0.85 = 1.445, 3.300 × 0.85 = 2.805), each line
    rounded half up by the POS."""
    lines = [("2.000", "24.50", "49.00"), ("1.000", "7.99", "7.99"), ("1.700", "0.85", "1.45"),
             ("3.300", "0.85", "2.81")]
    items = [{"line_id": n + 1, "sku": "W", "name": "By weight", "category": "Deli", "quantity": q,
              "unit_price": p, "discount": "0.00", "tax": "0.00", "total": t} for n, (q, p, t) in enumerate(lines)]
    return sale(items=items, discounts=[], subtotal=subtotal, discount_total="0.00", tax_total="0.00",
                total=subtotal, payments=[{"method": "cash", "amount": subtotal}])


@pytest.mark.parametrize("subtotal", ["61.25", "61.23", "61.24", "61.22", "61.26"])
def test_rule10_the_subtotal_may_round_each_line_either_way(subtotal):
    """Σ quantity × unit_price is 61.24 exactly; each line rounded down gives 61.23, up 61.25: a
    subtotal within a cent of that range is rounding, not an error (the lines rounded half to even
    give 61.23, which put the POS's 61.25 two cents off)."""
    good, bad = validate_sales([normalize_sale(_weighed(subtotal), 0, "c", {}, "US")], KNOWN)
    assert len(good) == 1 and not bad, bad


@pytest.mark.parametrize("subtotal", ["61.21", "61.27"])
def test_rule10_a_subtotal_beyond_a_cent_of_every_rounding_is_rejected(subtotal):
    assert "subtotal is not" in _reasons(_weighed(subtotal))


def test_rule10_negative_total_on_completed_sale():
    raw = sale(subtotal="-35.00", tax_total="-5.20", total="-36.70")
    raw["items"][0].update(unit_price="-35.00", tax="-5.20", total="-43.70")
    assert "negative_total" in _reasons(raw)


def test_rule10_unknown_location():
    assert "unknown_location" in _reasons(sale(location_id="LOC-99"))


def test_rule10_every_reason_is_listed():
    reasons = _reasons(sale(id=None, location_id="LOC-99", total="99.00"))
    assert "missing_id" in reasons and "unknown_location" in reasons and "lines_do_not_add_up" in reasons


def test_zero_quantity_is_quarantined():
    raw = copy.deepcopy(sale())
    raw["items"][0]["quantity"] = "0.000"
    assert "bad_quantity" in _reasons(raw)


def test_absurd_but_consistent_amount_is_quarantined():
    big = "10000000000000.00"  # 10^13 dollars, every sum right (longer is not money at all)
    raw = sale(subtotal=big, discount_total="0.00", tax_total="0.00", total=big, discounts=[],
               payments=[{"method": "card", "amount": big}])
    raw["items"][0].update(unit_price=big, discount="0.00", tax="0.00", total=big)
    reasons = _reasons(raw)
    assert "absurd_amount" in reasons and "lines_do_not_add_up" not in reasons


def test_absurd_dates_are_quarantined():
    assert "absurd_date" in _reasons(sale(created_at="1900-01-01T10:00:00-07:00"))


def test_refund_validation():
    ok = {"id": "R-1", "sale_id": "S-1", "location_id": "LOC-1", "created_at": "2026-11-27T11:20:00-07:00",
          "amount": "31.50", "tax": "5.20", "total": "36.70", "items": [], "reason": "x"}
    bad = dict(ok, id="R-2", total="40.00")
    good, rejected = validate_refunds([normalize_refund(ok, 0, "c", {}), normalize_refund(bad, 1, "c", {})], KNOWN)
    assert [g.refund_id for g in good] == ["R-1"]
    assert "total is not amount + tax" in " ".join(rejected[0][1])


def test_frame_columns_are_the_checked_columns_read_once_per_row():
    rows = [normalize_sale(sale(), 0, "c", {}, "US"), normalize_sale(sale(id=None, subtotal="x"), 1, "c", {}, "US")]
    checks = sale_checks(KNOWN)
    columns = frame_columns(rows, checks)
    assert list(columns) == list(dict.fromkeys(c.column for c in checks))
    assert columns["sale_id"] == [1, None] and columns["subtotal"] == [1, None]  # presence only
    assert columns["status"] == ["completed", "completed"] and columns["location_id"] == ["LOC-1", "LOC-1"]
    assert columns["parse_note_count"] == [0, 1]
    assert columns["total_cents"] == [rows[0].checks["total_cents"], rows[1].checks["total_cents"]]
    assert frame_columns([], checks) == {c: [] for c in columns}


def test_presence_only_columns_are_those_checked_only_for_nulls():
    presence = presence_only(sale_checks(KNOWN))
    assert {"sale_id", "sold_at", "updated_at", "subtotal", "total"} <= presence
    assert not presence & {"status", "location_id", "max_line_diff_cents", "discounts_applied_diff_cents"}
    assert presence_only(refund_checks(KNOWN)) == {"refund_id", "sale_id", "refunded_at"}


def test_failing_rows_are_reported_by_record_number_not_position():
    rows = [normalize_sale(sale(id="S-a"), 7, "c", {}, "US"), normalize_sale(sale(id=None), 3, "c", {}, "US")]
    good, bad = validate_sales(rows, KNOWN)
    assert [g.row for g in good] == [7] and [b.row for b, _ in bad] == [3]


@pytest.mark.parametrize("status", ["completed", "voided", "refunded", "partially_refunded"])
def test_rule10_each_sale_status_of_the_contract_is_valid(status):
    good, bad = validate_sales([normalize_sale(sale(status=status), 0, "c", {}, "US")], KNOWN)
    assert len(good) == 1 and not bad


@pytest.mark.parametrize("status", ["void", "Completed", "COMPLETED", "refund", "partially-refunded", "pending", ""])
def test_rule10_any_other_status_is_rejected(status):
    assert "bad_status: status is not one of" in _reasons(sale(status=status))


@pytest.mark.parametrize("status", [None, 1, ["completed"]])
def test_rule10_a_missing_status_is_rejected(status):
    assert "bad_status: status is missing" in _reasons(sale(status=status))


def _boundary_columns(checks, n: int) -> dict[str, list]:
    """Every checked column at the values around its bounds and null. A third of the rows mix
    them at random; the others pass every check but for at most one column (seeded)."""
    import random

    values: dict[str, list] = {}
    passing: dict[str, object] = {}
    for c in checks:
        kw = dict(c.kwargs)
        have = values.setdefault(c.column, [None])
        if c.kind == "between":
            for bound in (kw.get("min_value"), kw.get("max_value")):
                if bound is not None:
                    have.extend([bound - 1, bound, bound + 1])
                    passing.setdefault(c.column, bound)
        elif c.kind == "in_set":
            have.extend([*kw["value_set"][:2], "not-in-the-set"])
            passing[c.column] = kw["value_set"][0]
        elif len(have) == 1:
            have.append(1)
        passing.setdefault(c.column, 1)
    rng = random.Random(20)
    names = list(values)
    columns: dict[str, list] = {name: [] for name in names}
    for i in range(n):
        varied = set(names) if i < n // 3 else {rng.choice(names)} if i % 2 else set()
        for name in names:
            columns[name].append(rng.choice(values[name]) if name in varied else passing[name])
    return columns


@pytest.mark.parametrize("checks", [sale_checks(KNOWN), refund_checks(KNOWN)], ids=["sales", "refunds"])
def test_masks_screen_names_the_same_rows_and_reasons_as_the_whole_gx_suite(checks):
    """The differential test of the screen: rows that pass every mask skip GX, and GX then runs
    only the expectations some row fails; over rows at every bound and null of every check, the
    result equals GX's whole suite on the whole chunk."""
    import pandas as pd

    from trident1_aiq.ingest.validate import gx_checks, masks, run_checks

    rows = list(range(100, 400))
    columns = _boundary_columns(checks, len(rows))
    whole = gx_checks(pd.DataFrame(columns, index=rows), checks)
    assert {r for reasons in whole.values() for r in reasons} == {c.reason for c in checks}  # every check bites
    assert len(whole) < len(rows)  # and some rows pass them all
    assert run_checks(columns, rows, checks) == whole
    frame = pd.DataFrame(columns, index=rows)
    screened = {c.reason: set(m[m].index) for c, m in zip(checks, masks(frame, checks), strict=True)}
    assert screened == {c.reason: {r for r, why in whole.items() if c.reason in why} for c in checks}  # exact


def test_a_clean_chunk_needs_no_gx_batch(monkeypatch):
    from trident1_aiq.ingest import validate

    def no_gx(*_args):
        raise AssertionError("GX was asked to validate a chunk every mask passes")

    monkeypatch.setattr(validate, "gx_checks", no_gx)
    good, bad = validate_sales([normalize_sale(sale(id=f"S-{i}"), i, "c", {}, "US") for i in range(5)], KNOWN)
    assert len(good) == 5 and not bad
