"""Hostile and malformed input through normalise + validate: every record either passes or is
rejected with a reason; nothing raises, nothing is lost (rule 10; issue 7)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trident1_aiq.ingest.normalize import normalize_refund, normalize_sale
from trident1_aiq.ingest.validate import validate_refunds, validate_sales

from ..factories import sale

pytestmark = pytest.mark.unit

scalars = st.one_of(st.none(), st.booleans(), st.integers(min_value=-10**20, max_value=10**20),
                    st.floats(allow_nan=True), st.text(max_size=30),
                    st.sampled_from(["35.00", "-1.00", "1e9", "NaN", "0.000", "2026-11-25T10:00:00Z",
                                     "2100-01-01T00:00:00+00:00", "1900-01-01T00:00:00-07:00", "LOC-1", ""]))
json_values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                            st.dictionaries(st.text(max_size=10), inner, max_size=4)),
                           max_leaves=12)
SALE_KEYS = ["id", "location_id", "status", "created_at", "updated_at", "customer", "items", "discounts",
             "payments", "subtotal", "discount_total", "tax_total", "total"]


@st.composite
def mangled_sales(draw):
    """A well-formed sale with some fields replaced by arbitrary JSON, or arbitrary JSON outright."""
    if draw(st.integers(0, 9)) == 0:
        return draw(json_values)
    record = sale(id=f"S-{draw(st.integers(0, 10**6))}")
    for key in draw(st.lists(st.sampled_from(SALE_KEYS), max_size=4, unique=True)):
        record[key] = draw(json_values)
    return record


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(mangled_sales(), min_size=1, max_size=8))
def test_every_sale_loads_or_is_rejected_with_a_reason(records):
    rows = [normalize_sale(r, i, "trident1_acme", {"LOC-1": "America/Denver"}, "US") for i, r in enumerate(records)]
    good, bad = validate_sales(rows, {"LOC-1"})
    assert len(good) + len(bad) == len(records)  # nothing lost
    assert all(reasons and all(isinstance(x, str) for x in reasons) for _, reasons in bad)
    for g in good:  # what passes is fully typed
        assert g.sale_id and g.sold_at and g.business_date and g.subtotal is not None and g.items


@settings(max_examples=40, deadline=None)
@given(st.dictionaries(st.sampled_from(["id", "sale_id", "location_id", "created_at", "amount", "tax", "total"]),
                       json_values, max_size=7))
def test_every_refund_loads_or_is_rejected_with_a_reason(record):
    good, bad = validate_refunds([normalize_refund(record, 0, "c", {})], {"LOC-1"})
    assert len(good) + len(bad) == 1
    assert all(reasons for _, reasons in bad)


@pytest.mark.parametrize(("field", "value", "reason"), [
    ("total", "1000000000000000000.00", "bad_money"), ("created_at", "1900-01-01T10:00:00-07:00", "absurd_date"),
    ("created_at", "2100-06-01T10:00:00-07:00", "absurd_date"),
])
def test_absurd_values_are_quarantined_with_a_reason(field, value, reason):
    good, bad = validate_sales([normalize_sale(sale(**{field: value}), 0, "c", {}, "US")], {"LOC-1"})
    assert not good and reason in " ".join(bad[0][1])


def test_hostile_text_is_kept_verbatim():
    nasty = "Robert'); DROP TABLE sales;-- \"quoted\" 🙂 שלום مرحبا"
    raw = sale()
    raw["items"][0]["name"] = nasty
    raw["customer"]["last_name"] = nasty
    row = normalize_sale(raw, 0, "c", {}, "US")
    good, _ = validate_sales([row], {"LOC-1"})
    assert good[0].items[0]["name"] == nasty and good[0].customer.last_name == nasty
