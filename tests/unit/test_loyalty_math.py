"""Points arithmetic (rules 16, 18, 20): exact, Decimal, property-tested."""

from __future__ import annotations

import uuid
from decimal import ROUND_FLOOR, Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trident1_aiq.loyalty.points import LEDGER_NS, entry_id, points_for_cents, points_ratio, pro_rata_total
from trident1_aiq.settings.config import check_discount_mirrors, demo_settings

pytestmark = pytest.mark.unit


def _earn(subtotal: str, discount: str, points_per_dollar: str) -> int:
    """The production earn of a sale's amounts: ``earn`` gets the eligible amount in whole cents
    from SQL (``loyalty/earn_stage``) and calls :func:`points_for_cents` with the ratio."""
    cents = int((Decimal(subtotal) - Decimal(discount)) * 100)
    return points_for_cents(cents, points_ratio(Decimal(points_per_dollar)))


#: (subtotal, discount_total, points_per_dollar) → points: rule 16's floor, each case its own.
RULE16_CASES = {
    "whole dollars after the discount": ("35.00", "3.50", "1", 31),
    "no float drift to 18": ("19.99", "0.99", "1", 19),
    "a cent short of the next point": ("20.99", "0.00", "1", 20),
    "exactly one point": ("1.00", "0.00", "1", 1),
    "under a dollar earns nothing": ("0.99", "0.00", "1", 0),
    "fully discounted earns nothing": ("5.00", "5.00", "1", 0),
    "discount above the subtotal is never negative": ("5.00", "7.50", "1", 0),
    "a negative subtotal is never negative": ("-10.00", "0.00", "1", 0),
    "one and a half points a dollar": ("10.00", "0.00", "1.5", 15),
    "one and a half, floored": ("10.99", "0.00", "1.5", 16),
    "a tenth of a point a dollar": ("99.99", "0.00", "0.1", 9),
    "a thousandth of a point a dollar": ("1234.56", "0.00", "0.001", 1),
    "ten points a dollar, by the cent": ("0.07", "0.00", "10", 0),
    "ten points a dollar": ("0.10", "0.00", "10", 1),
    "a big sale stays exact": ("99999999.99", "0.00", "3", 299999999),
}


@pytest.mark.parametrize(("subtotal", "discount", "ppd", "points"), RULE16_CASES.values(), ids=RULE16_CASES.keys())
def test_rule16_floor_of_pre_tax_after_discount_amount(subtotal, discount, ppd, points):
    assert _earn(subtotal, discount, ppd) == points


@settings(max_examples=300, deadline=None)
@given(subtotal=st.decimals(min_value=Decimal("-50"), max_value=Decimal("99999999.99"), places=2),
       discount=st.decimals(min_value=Decimal("0"), max_value=Decimal("5000"), places=2),
       ppd=st.decimals(min_value=Decimal("0.001"), max_value=Decimal("100"), places=3))
def test_rule16_earn_is_the_floor_of_the_exact_product(subtotal, discount, ppd):
    """Against rule 16 written out in Decimal here (an oracle, not product code)."""
    want = max(0, int(((subtotal - discount) * ppd).to_integral_value(rounding=ROUND_FLOOR)))
    assert _earn(str(subtotal), str(discount), str(ppd)) == want


@settings(max_examples=300, deadline=None)
@given(key=st.text(max_size=300))
def test_rule17_entry_id_is_uuid5_of_the_key(key):
    """The entry id spelled out from SHA-1 is the one uuid5 gave (ids of existing ledgers stay)."""
    assert entry_id(key) == "le_" + uuid.uuid5(LEDGER_NS, key).hex[:24]


def test_rule18_one_third_then_the_rest_of_a_100_point_sale():
    eligible = Decimal("90.00")
    first = pro_rata_total(100, Decimal("30.00"), eligible)
    second = pro_rata_total(100, Decimal("90.00"), eligible) - first
    assert (first, second) == (33, 67)


def test_rule18_round_half_up():
    assert pro_rata_total(5, Decimal("1.00"), Decimal("2.00")) == 3  # 2.5 → 3


money = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("5000"), places=2)


@settings(max_examples=300, deadline=None)
@given(points=st.integers(min_value=0, max_value=100_000), eligible=money,
       parts=st.lists(st.integers(min_value=1, max_value=100), min_size=1, max_size=8), full=st.booleans())
def test_rule18_reversals_never_exceed_the_earn_and_sum_to_it_on_full_refund(points, eligible, parts, full):
    """For any sequence of refunds, reconciled one by one as the difference of the cumulative figure."""
    total_parts = sum(parts) + (0 if full else 1)
    refunded, given_back, steps = Decimal(0), 0, []
    for p in parts:
        share = (eligible * p / total_parts).quantize(Decimal("0.01"))
        refunded += share
        step = pro_rata_total(points, refunded, eligible) - given_back
        assert step >= 0
        steps.append(step)
        given_back += step
    assert sum(steps) <= points
    if full:
        assert sum(steps) + (pro_rata_total(points, eligible, eligible) - given_back) == points
        assert pro_rata_total(points, eligible, eligible) == points


def test_rule20_in_store_only_or_unknown_discount_is_a_config_error_naming_it():
    settings_ = demo_settings({"aiq_discounts": '[{"id": "a", "name": "A", "credential": "trident1_acme", '
                                                '"trident1_discount_id": "D-99"}, {"id": "b", "name": "B", '
                                                '"credential": "trident1_acme", "trident1_discount_id": "D-404"}]'})
    catalogue = [{"id": "D-99", "in_store_only": True}, {"id": "D-10", "in_store_only": False}]
    problems = check_discount_mirrors(settings_, "trident1_acme", catalogue)
    assert len(problems) == 2
    assert "aiq_discounts[0].trident1_discount_id" in problems[0] and "D-99" in problems[0]
    assert "in-store-only" in problems[0]
    assert "D-404" in problems[1]
