"""Points arithmetic (rules 16, 18, 20): exact, Decimal, property-tested."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trident1_aiq.loyalty.points import LEDGER_NS, earn_points, entry_id, points_for_cents, points_ratio, pro_rata_total
from trident1_aiq.settings.config import check_discount_mirrors, demo_settings

pytestmark = pytest.mark.unit


def test_rule16_floor_of_pre_tax_after_discount_amount():
    assert earn_points(Decimal("35.00"), Decimal("3.50"), Decimal(1)) == 31
    assert earn_points(Decimal("19.99"), Decimal("0.99"), Decimal(1)) == 19  # no float drift to 18
    assert earn_points(Decimal("10.00"), Decimal("0.00"), Decimal("1.5")) == 15
    assert earn_points(Decimal("0.99"), Decimal("0.00"), Decimal(1)) == 0
    assert earn_points(Decimal("5.00"), Decimal("5.00"), Decimal(1)) == 0


@settings(max_examples=300, deadline=None)
@given(subtotal=st.decimals(min_value=Decimal("-50"), max_value=Decimal("99999999.99"), places=2),
       discount=st.decimals(min_value=Decimal("0"), max_value=Decimal("5000"), places=2),
       ppd=st.decimals(min_value=Decimal("0.001"), max_value=Decimal("100"), places=3))
def test_rule16_points_from_cents_are_earn_points(subtotal, discount, ppd):
    """earn reads the eligible amount in whole cents from SQL: the same points, exactly."""
    cents = int((subtotal - discount) * 100)
    assert points_for_cents(cents, points_ratio(ppd)) == max(0, earn_points(subtotal, discount, ppd))


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
