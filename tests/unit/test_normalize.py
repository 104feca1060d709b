"""Normalisation: money, time, business date, phones, emails (rules 9, 12, 13)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from trident1_aiq.ingest.normalize import (
    business_date,
    line_gross_cents,
    money_cents,
    normalize_customer,
    normalize_email,
    normalize_phone,
    normalize_sale,
    parse_money,
    parse_time,
    quantity_milli,
    to_utc,
)
from trident1_aiq.ingest.pipeline import run_window

from ..factories import sale

pytestmark = pytest.mark.unit


def test_money_is_decimal_and_never_from_float():
    assert parse_money("35.00") == Decimal("35.00")
    assert isinstance(parse_money("0.10"), Decimal)
    assert parse_money(35.5) is None  # a binary float is refused
    assert parse_money("12,3O") is None
    assert parse_money("1.234") is None


def test_rule9_sold_at_utc_and_business_date_local():
    row = normalize_sale(sale(), 0, "trident1_acme", {"LOC-1": "America/Denver"}, "US")
    assert row.sold_at == datetime(2026, 11, 26, 5, 30, tzinfo=UTC)
    assert row.business_date == date(2026, 11, 25)  # local evening, next day in UTC
    assert row.subtotal == Decimal("35.00") and row.total == Decimal("36.70")


def test_rule9_business_date_follows_location_zone():
    moment = parse_time("2026-11-26T02:00:00Z")
    assert business_date(moment, "America/Los_Angeles") == date(2026, 11, 25)
    assert business_date(moment, "Europe/Paris") == date(2026, 11, 26)


def test_rule9_window_is_utc_day_plus_lookback_and_never_in_the_future():
    w = run_window(date(2026, 11, 25), 48)
    assert w.start == datetime(2026, 11, 23, tzinfo=UTC)
    assert w.end == datetime(2026, 11, 26, tzinfo=UTC)
    early = run_window(date(2026, 11, 25), 0, now=datetime(2026, 11, 25, 12, tzinfo=UTC))
    assert early.end == datetime(2026, 11, 25, 12, tzinfo=UTC)


@pytest.mark.parametrize(("typed", "e164"), [
    ("(303) 555-0101", "+13035550101"), ("303.555.0101", "+13035550101"), (" 1-303-555-0101 ", "+13035550101"),
    ("+1 720 284 7731", "+17202847731"), ("000-000-0000", None), ("555-555-5555", None), ("12345", None),
    ("", None), (None, None), ("n/a", None),
])
def test_rule13_phone_e164_or_dropped(typed, e164):
    assert normalize_phone(typed, "US") == e164


def test_rule13_phone_region_is_configurable():
    assert normalize_phone("020 7946 0018", "GB") == "+442079460018"
    assert normalize_phone("020 7946 0018", "US") is None


@pytest.mark.parametrize(("typed", "clean"), [
    (" Ana.Nunez@Example.com ", "ana.nunez@example.com"), ("noemail@example.com", None), ("NONE@none.com", None),
    ("n/a@x.com", None), ("declined@store.com", None), ("ana@", None), ("a@b@c.com", None), ("ana@localhost", None),
    ("", None), (None, None),
])
def test_rule13_email_trimmed_lowercased_placeholders_dropped(typed, clean):
    assert normalize_email(typed) == clean


def test_rule13_invalid_contact_dropped_but_sale_kept():
    row = normalize_sale(sale(customer={"id": "C-1", "phone": "000-000-0000", "email": "noemail@x.com"}),
                         0, "trident1_acme", {}, "US")
    assert row.sale_id == "S-1" and not row.parse_notes
    assert row.customer.phone is None and row.customer.email is None


def test_rule12_only_customers_with_usable_contact_are_persona_candidates():
    assert normalize_customer({"id": "C", "phone": "(303) 555-0101"}, "c", "US").usable
    assert normalize_customer({"id": "C", "email": "a@b.co"}, "c", "US").usable
    assert not normalize_customer({"id": "C", "first_name": "Ana", "phone": "n/a"}, "c", "US").usable
    assert normalize_customer(None, "c", "US") is None  # anonymous sale


def test_unparseable_values_become_notes_not_exceptions():
    row = normalize_sale(sale(subtotal="12,3O", created_at="11/25/2026 10:00", items="oops"), 0, "c", {}, "US")
    assert row.subtotal is None and row.sold_at is None
    assert any("subtotal" in n for n in row.parse_notes)
    assert any("created_at" in n for n in row.parse_notes)
    assert any("items" in n for n in row.parse_notes)
    assert normalize_sale("not a dict", 0, "c", {}, "US").parse_notes


@pytest.mark.parametrize(("text", "parsed"), [
    ("35.00", (Decimal("35.00"), 3500)), (" 35 ", (Decimal("35.00"), 3500)), ("-0.5", (Decimal("-0.50"), -50)),
    ("-0", (Decimal("-0.00"), 0)), (7, (Decimal("7.00"), 700)), (Decimal("1.5"), (Decimal("1.50"), 150)),
    ("1.234", None), ("1e9", None), ("", None), (None, None), (True, None), (35.5, None),
])
def test_money_cents_is_the_amount_and_its_exact_cents(text, parsed):
    assert money_cents(text) == parsed
    assert money_cents(text) == parsed  # the cached answer is the same
    assert parse_money(text) == (None if parsed is None else parsed[0])


@pytest.mark.parametrize(("text", "parsed"), [
    ("3.545", (Decimal("3.545"), 3545)), ("2", (Decimal("2.000"), 2000)), (3, (Decimal("3.000"), 3000)),
    ("-0.001", (Decimal("-0.001"), -1)), ("1.2345", None), ("x", None), (False, None), (1.5, None),
    ("\u0663", None), ("1.\u0665", None), ("\uff12", None),  # only ASCII digits
])
def test_quantity_milli_is_the_quantity_and_its_thousandths(text, parsed):
    assert quantity_milli(text) == parsed


@pytest.mark.parametrize(("qty", "price"), [
    ("3.545", "12.40"), ("1.005", "1.00"), ("0.005", "1.00"), ("0.015", "1.00"), ("0.025", "1.00"), ("1.001", "0.50"),
    ("-1.005", "1.00"), ("-0.015", "1.00"), ("2.5", "-0.01"), ("999999999999.999", "999999999.99"), ("0.001", "0.01"),
])
def test_line_gross_cents_rounds_half_even_like_decimal_quantize(qty, price):
    expected = int((Decimal(qty) * Decimal(price)).quantize(Decimal("0.01")) * 100)
    assert line_gross_cents(quantity_milli(qty)[1], money_cents(price)[1]) == expected


# ---------------------------------------------------------------- each value the rules list, its own case
# Written out here, never read from the module's constants: dropping a value there fails a case here.

#: Rule 13's placeholders, as docs/rules.md lists them.
RULE13_PLACEHOLDERS = ["noemail", "nomail", "none", "na", "n/a", "no", "null", "nil", "unknown", "test", "declined",
                       "refused"]


@pytest.mark.parametrize("local", RULE13_PLACEHOLDERS)
@pytest.mark.parametrize("typed", ["{}@example.com", " {}@Store.COM ", "{}@gmail.com"])
def test_rule13_each_placeholder_local_part_is_dropped(local, typed):
    assert normalize_email(typed.format(local)) is None
    assert normalize_email(typed.format(local.upper())) is None  # lower-cased before the comparison


@pytest.mark.parametrize("local", ["noemails", "nan", "tester", "unknown1", "ana.none", "n.a", "nobody", "nil.s"])
def test_rule13_a_real_local_part_near_a_placeholder_is_kept(local):
    """Only the whole local part is a placeholder: a name containing one stays."""
    assert normalize_email(f"{local}@example.com") == f"{local}@example.com"


@pytest.mark.parametrize(("typed", "clean"), [
    ("ana@example.com", "ana@example.com"),
    (" Ana.Nunez@Example.COM ", "ana.nunez@example.com"),  # trimmed, lower-cased
    ("\tana@example.com\n", "ana@example.com"),
    ("ana+promo@example.co.uk", "ana+promo@example.co.uk"),
    ("ana@example", None),  # the domain is not dotted
    ("ana@localhost", None),
    ("ana@example.c", None),  # a one-letter top-level domain
    ("ana@example.", None),
    ("ana@.com", None),
    ("@example.com", None),
    ("ana@", None),
    ("ana", None),
    ("a@b@example.com", None),  # two @
    ("ana @example.com", None),
    ("", None), ("   ", None), (None, None), (42, None),
])
def test_rule13_each_email_form(typed, clean):
    assert normalize_email(typed) == clean


#: The forms phones are typed in (the sandbox's, and docs/rules.md's invalid numbers).
@pytest.mark.parametrize(("typed", "e164"), [
    ("(303) 555-0101", "+13035550101"),
    ("303-555-0101", "+13035550101"),
    ("303.555.0101", "+13035550101"),
    ("3035550101", "+13035550101"),
    ("303 555 0101", "+13035550101"),
    ("+1 303 555 0101", "+13035550101"),
    (" 1-303-555-0101 ", "+13035550101"),
    ("1 (303) 555-0101", "+13035550101"),
    ("+13035550101", "+13035550101"),
    ("000-000-0000", None),
    ("555-555-5555", None),
    ("303-555-010", None),  # a digit short
    ("12345", None),
    ("n/a", None), ("none", None), ("", None), ("   ", None), (None, None), (3035550101, None),
])
def test_rule13_each_phone_form(typed, e164):
    assert normalize_phone(typed, "US") == e164


def test_rule13_the_default_region_is_us():
    assert normalize_phone("(303) 555-0101") == "+13035550101"
    assert normalize_customer({"id": "C", "phone": "(303) 555-0101"}, "c", "US").phone == "+13035550101"
    assert normalize_customer({"id": "C", "phone": "020 7946 0018"}, "c", "GB").phone == "+442079460018"


@pytest.mark.parametrize(("typed", "amount"), [
    ("35.00", "35.00"), ("35.5", "35.50"), ("35", "35.00"), (" 35.00 ", "35.00"), ("0", "0.00"), ("-3.50", "-3.50"),
    ("999999999999999.99", "999999999999999.99"), (35, "35.00"), (0, "0.00"), (Decimal("3.5"), "3.50"),
    ("35.001", None),  # three places
    ("1,000.00", None), ("$5.00", None), ("5.", None), (".5", None), ("+5.00", None), ("1 000.00", None),
    ("1e3", None), ("NaN", None), ("Infinity", None), ("0x10", None), ("12,3O", None), ("", None), ("  ", None),
    # Only ASCII digits: Python's \d and Decimal also read other scripts' digits.
    ("\u0663\u0665.00", None), ("35.\u0660\u0660", None), ("\uff13\uff15.00", None), ("\u0969\u096b", None),
    (35.0, None), (0.1, None),  # a binary float never becomes money
    (True, None), (None, None), ([], None), ({}, None),
])
def test_rule10_each_money_form(typed, amount):
    assert parse_money(typed) == (None if amount is None else Decimal(amount))


@pytest.mark.parametrize(("typed", "utc"), [
    ("2026-11-25T10:00:00Z", "2026-11-25T10:00:00+00:00"),
    ("2026-11-25T10:00:00+00:00", "2026-11-25T10:00:00+00:00"),
    ("2026-11-25T03:00:00-07:00", "2026-11-25T10:00:00+00:00"),
    ("2026-11-25T15:30:00+05:30", "2026-11-25T10:00:00+00:00"),
    ("2026-11-25T10:00:00.250Z", "2026-11-25T10:00:00.250000+00:00"),
    ("2026-11-25T10:00:00.123456-00:00", "2026-11-25T10:00:00.123456+00:00"),
    (" 2026-11-25T10:00:00Z ", "2026-11-25T10:00:00+00:00"),
    ("2026-11-25 10:00:00Z", "2026-11-25T10:00:00+00:00"),
    # RFC 3339 §5.6: "T" and "Z" may be lower case.
    ("2026-11-25t10:00:00z", "2026-11-25T10:00:00+00:00"),
    ("2026-11-25T10:00:00z", "2026-11-25T10:00:00+00:00"),
    ("2026-11-25t10:00:00Z", "2026-11-25T10:00:00+00:00"),
    ("2026-11-25t03:00:00-07:00", "2026-11-25T10:00:00+00:00"),
    ("2026-11-25T10:00:00.250z", "2026-11-25T10:00:00.250000+00:00"),
    ("2026-11-25T10:00:00", None),  # no offset: which instant is unknown
    ("2026-11-25T10:00:00.5", None),
    ("2026-11-25", None),
    ("11/25/2026 10:00", None),
    ("2026-11-25T25:00:00Z", None),
    ("2026-02-30T10:00:00Z", None),
    ("yesterday", None), ("", None), (None, None), (1764064800, None),
])
def test_rule9_each_time_form(typed, utc):
    got = to_utc(parse_time(typed))
    assert (got.isoformat() if got else None) == utc
