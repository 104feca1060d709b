"""Raw Trident1 JSON → typed rows (rules 9, 12, 13).

Parsing never raises on bad input: a value that cannot be parsed becomes
``None`` and a note in ``parse_notes``; the validation step (Great
Expectations) turns missing required values and failed consistency checks into
quarantine reasons. Money is :class:`~decimal.Decimal`; times are aware UTC
datetimes; ``business_date`` is the local date at the location.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import phonenumbers

CENT = Decimal("0.01")
#: ASCII digits only: ``\d`` would take any script's digits (``"٣٥.00"``), which ``Decimal`` reads too.
MONEY_RE = re.compile(r"-?([0-9]{1,15}(?:\.[0-9]{1,2})?)")
QTY_RE = re.compile(r"-?[0-9]{1,12}(\.[0-9]{1,3})?")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]{2,}$")
#: Local parts typed to get past a required e-mail field (rule 13).
EMAIL_PLACEHOLDERS = frozenset(
    {"noemail", "nomail", "none", "na", "n/a", "no", "null", "nil", "unknown", "test",
     "declined", "refused"}
)
SALE_STATUSES = ("completed", "voided", "refunded", "partially_refunded")


# --------------------------------------------------------------------------- scalars

_MISSING = object()
#: Parsed money and quantity texts, kept per distinct text: a day's prices, taxes and
#: quantities repeat, so most values are parsed once. A plain dict (cleared when full)
#: costs less per lookup than ``lru_cache``, and the rows then share one Decimal per value.
_CACHE_LIMIT = 32_768
_MONEY_CACHE: dict[str, tuple[Decimal, int] | None] = {}
_QTY_CACHE: dict[str, tuple[Decimal, int] | None] = {}
_MILLI = Decimal("0.001")


def _money_of_text(value: str) -> tuple[Decimal, int] | None:
    """``(amount, cents)`` of a money text, or None; ``cents`` is exact (two places at most)."""
    text = value.strip()
    match = MONEY_RE.fullmatch(text)
    if match is None:
        return None
    whole, _, frac = match[1].partition(".")
    cents = int(whole) * 100 + int(frac.ljust(2, "0"))
    return Decimal(text).quantize(CENT), -cents if match[0].startswith("-") else cents


def money_cents(value: Any) -> tuple[Decimal, int] | None:
    """:func:`parse_money` with the amount in integer cents too: ``(amount, cents)`` or None.

    The consistency checks add and compare cents as integers (exact, and much cheaper
    than Decimal arithmetic); the Decimal is what is stored.
    """
    if value.__class__ is str:  # the JSON case, cached
        hit = _MONEY_CACHE.get(value, _MISSING)
        if hit is _MISSING:
            if len(_MONEY_CACHE) >= _CACHE_LIMIT:
                _MONEY_CACHE.clear()
            hit = _MONEY_CACHE[value] = _money_of_text(value)
        return hit
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str):
        return _money_of_text(value)
    if isinstance(value, (int, Decimal)):
        return _money_of_text(str(value))
    return None  # a binary float never becomes money


def parse_money(value: Any) -> Decimal | None:
    """A decimal string (or an exact JSON number) with at most two places."""
    parsed = money_cents(value)
    return None if parsed is None else parsed[0]


def _quantity_of_text(text: str) -> tuple[Decimal, int] | None:
    text = text.strip()
    if not QTY_RE.fullmatch(text):
        return None
    quantity = Decimal(text).quantize(_MILLI)
    return quantity, int(quantity * 1000)


def quantity_milli(value: Any) -> tuple[Decimal, int] | None:
    """:func:`parse_quantity` with the quantity in integer thousandths too: ``(quantity, milli)``."""
    if value.__class__ is str:
        hit = _QTY_CACHE.get(value, _MISSING)
        if hit is _MISSING:
            if len(_QTY_CACHE) >= _CACHE_LIMIT:
                _QTY_CACHE.clear()
            hit = _QTY_CACHE[value] = _quantity_of_text(value)
        return hit
    if isinstance(value, bool) or value is None:
        return None
    return _quantity_of_text(str(value) if isinstance(value, (str, int, Decimal)) else "")


def parse_quantity(value: Any) -> Decimal | None:
    parsed = quantity_milli(value)
    return None if parsed is None else parsed[0]


def line_gross_cents(quantity_milli: int, unit_price_cents: int) -> int:
    """quantity × unit_price in cents, rounded half to even as ``Decimal.quantize`` rounds.

    The exact product is in 1/100,000 of a unit; dividing by 1,000 with floor division
    leaves a remainder in [0, 1000): above half rounds up, exactly half rounds to even.
    """
    whole, rest = divmod(quantity_milli * unit_price_cents, 1000)
    if rest > 500 or (rest == 500 and whole & 1):
        whole += 1
    return whole


def parse_time(value: Any) -> datetime | None:
    """An RFC 3339 timestamp with an offset; naive or unparseable → None.

    RFC 3339 (§5.6) lets ``T`` and ``Z`` be lower case: ``…t10:00:00z`` is the same instant."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def to_utc(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.astimezone(UTC)


_ZONES: dict[str, ZoneInfo] = {}


def business_date(created_at: datetime | None, location_tz: str | None) -> date | None:
    """Rule 9: the sale's local date at its location (its offset, or the location's zone)."""
    if created_at is None:
        return None
    if location_tz:
        zone = _ZONES.get(location_tz)
        if zone is None:
            zone = _ZONES[location_tz] = ZoneInfo(location_tz)
        return created_at.astimezone(zone).date()
    return created_at.date()


def parse_date(value: Any) -> date | None:
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        return None


def normalize_phone(value: Any, region: str = "US") -> str | None:
    """Rule 13: E.164 when ``phonenumbers`` finds a valid number, else None."""
    if not isinstance(value, str) or not value.strip():
        return None
    return _phone(value, region)


@lru_cache(maxsize=65_536)
def _phone(value: str, region: str) -> str | None:
    """Cached: a customer's phone comes with the profile and again with each of their sales
    (sized for a big day's distinct customers: parsing a number costs ~100 µs)."""
    try:
        number = phonenumbers.parse(value.strip(), region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize_email(value: Any) -> str | None:
    """Rule 13: trimmed, lower-cased; placeholders and malformed addresses → None."""
    if not isinstance(value, str):
        return None
    email = value.strip().lower()
    if not EMAIL_RE.match(email):
        return None
    local = email.split("@", 1)[0]
    if local in EMAIL_PLACEHOLDERS:
        return None
    return email


def clean_text(value: Any, limit: int = 200) -> str | None:
    if not isinstance(value, str):
        return None
    text = value.strip()
    return text[:limit] if text else None


def cents(value: Decimal | None) -> int | None:
    return None if value is None else int((value * 100).to_integral_value())


def record_key(entity: str, record: Any) -> str:
    """The quarantine key: the record's id, or a digest of its content when it has none."""
    rid = record.get("id") if isinstance(record, dict) else None
    if isinstance(rid, (str, int)) and not isinstance(rid, bool) and str(rid).strip():
        return str(rid).strip()[:200]
    blob = json.dumps(record, sort_keys=True, default=str).encode()
    return f"sha1:{hashlib.sha1(blob).hexdigest()}"


def payload_json(record: Any) -> str:
    return json.dumps(record, sort_keys=True, default=str, ensure_ascii=False)


# --------------------------------------------------------------------------- personas


@dataclass(frozen=True)
class CustomerRow:
    """A Trident1 customer as a persona candidate (rules 12–14)."""

    credential: str
    customer_id: str | None
    phone: str | None
    email: str | None
    first_name: str | None
    last_name: str | None
    birth_date: date | None
    seen_at: datetime | None

    @property
    def usable(self) -> bool:
        """Rule 12: only a customer with a usable phone or email becomes a persona."""
        return bool(self.phone or self.email)


def normalize_customer(raw: Any, credential: str, region: str, seen_at: datetime | None = None) -> CustomerRow | None:
    if not isinstance(raw, dict):
        return None
    cid = raw.get("id")
    return CustomerRow(
        credential=credential,
        customer_id=str(cid).strip() if isinstance(cid, (str, int)) and str(cid).strip() else None,
        phone=normalize_phone(raw.get("phone"), region),
        email=normalize_email(raw.get("email")),
        first_name=clean_text(raw.get("first_name")),
        last_name=clean_text(raw.get("last_name")),
        birth_date=parse_date(raw.get("birth_date")),
        seen_at=to_utc(parse_time(raw.get("updated_at"))) or seen_at,
    )


# --------------------------------------------------------------------------- sales


@dataclass
class SaleRow:
    row: int
    credential: str
    raw: dict[str, Any]
    key: str
    sale_id: str | None
    location_id: str | None
    receipt_number: str | None
    status: str | None
    sold_at: datetime | None
    business_date: date | None
    updated_at: datetime | None
    subtotal: Decimal | None
    discount_total: Decimal | None
    tax_total: Decimal | None
    total: Decimal | None
    currency: str | None
    customer: CustomerRow | None
    items: list[dict[str, Any]]
    discounts: list[dict[str, Any]]
    parse_notes: list[str] = field(default_factory=list)
    checks: dict[str, Any] = field(default_factory=dict)


def _money_field(raw: dict, name: str, notes: list[str], where: str = "") -> tuple[Decimal, int] | None:
    """``(amount, cents)`` of ``raw[name]``; a note when it is missing or not money."""
    value = raw.get(name)
    parsed = money_cents(value)
    if parsed is None:
        notes.append(f"{where}{name}: missing or not a money amount ({str(value)[:40]!r})")
    return parsed


def _outside(value: int, low: int, high: int) -> int:
    """How far ``value`` lies outside [``low``, ``high``]: negative below, positive above, else 0."""
    return value - low if value < low else value - high if value > high else 0


def _ident(value: Any) -> str | None:
    """An id field: a string or integer that is not blank, trimmed."""
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        text = str(value).strip()
        return text or None
    return None


def _line(it: Any, n: int, notes: list[str]) -> tuple[dict[str, Any], int, int, int, int, int, int] | None:
    """One item → (stored line, gross cents, discount cents, tax cents, |line diff| cents,
    quantity in thousandths, the exact gross in thousandths of a cent); None (with notes) when a
    field does not parse."""
    if not isinstance(it, dict):
        it = {}
    qty = quantity_milli(it.get("quantity"))
    price = money_cents(it.get("unit_price"))
    disc = money_cents(it.get("discount"))
    tax = money_cents(it.get("tax"))
    total = money_cents(it.get("total"))
    line_id = it.get("line_id")
    id_ok = isinstance(line_id, int) and not isinstance(line_id, bool)
    if qty is None or price is None or disc is None or tax is None or total is None or not id_ok:
        where = f"items[{n}]."
        if qty is None:
            notes.append(f"{where}quantity: missing or not a decimal quantity")
        for name, parsed in (("unit_price", price), ("discount", disc), ("tax", tax), ("total", total)):
            if parsed is None:
                notes.append(f"{where}{name}: missing or not a money amount ({str(it.get(name))[:40]!r})")
        if not id_ok:
            notes.append(f"{where}line_id: missing or not an integer")
        return None
    gross = line_gross_cents(qty[1], price[1])
    line = {"line_id": line_id, "sku": clean_text(it.get("sku"), 100),
            "name": clean_text(it.get("name"), 500), "category": clean_text(it.get("category"), 200),
            "quantity": qty[0], "unit_price": price[0], "discount": disc[0], "tax": tax[0], "total": total[0]}
    return line, gross, disc[1], tax[1], abs(gross - disc[1] + tax[1] - total[1]), qty[1], qty[1] * price[1]


def normalize_sale(raw: Any, row: int, credential: str, location_tz: dict[str, str], region: str) -> SaleRow:
    """One raw sale → a typed row with its parse notes and consistency checks.

    The checks (differences in integer cents, read by the validation suite) are computed on
    integers: every amount is parsed once into its Decimal (stored) and its exact cents.
    """
    notes: list[str] = []
    if isinstance(raw, dict):
        rec = raw
    else:
        rec = {}
        notes.append("record is not a JSON object")
    get = rec.get
    sale_id = _ident(get("id"))
    loc = get("location_id")
    location_id = str(loc).strip() if isinstance(loc, (str, int)) and str(loc).strip() else None
    created = parse_time(get("created_at"))
    if created is None:
        notes.append(f"created_at: missing or not an RFC 3339 time ({str(get('created_at'))[:40]!r})")
    updated = parse_time(get("updated_at"))
    if updated is None:
        notes.append("updated_at: missing or not an RFC 3339 time")
    st = _money_field(rec, "subtotal", notes)
    dt = _money_field(rec, "discount_total", notes)
    tt = _money_field(rec, "tax_total", notes)
    tot = _money_field(rec, "total", notes)

    items: list[dict[str, Any]] = []
    disc_sum = tax_sum = 0
    # The subtotal is Σ quantity × unit_price to the cent, each line's product rounded to a cent by
    # the POS in a way the contract does not fix (half up, half even, …): any per-line rounding is
    # right, so the subtotal is compared with the range from every line rounded down to every line
    # rounded up (a sale of weighed items at x.xx5 each fell outside one cent of the lines rounded
    # half to even: 1 of the fleet benchmark's 740,360 valid sales, quarantined).
    gross_low = gross_high = 0
    max_line_diff: int | None = 0
    min_qty: int | None = None
    raw_items = get("items")
    if not isinstance(raw_items, list) or not raw_items:
        notes.append("items: missing or empty")
        max_line_diff = None
        raw_items = []
    for n, it in enumerate(raw_items):
        parsed = _line(it, n, notes)
        if parsed is None:
            max_line_diff = None
            continue
        line, _gross, disc, tax, diff, qty, exact = parsed
        gross_low += exact // 1000
        gross_high += -(-exact // 1000)
        disc_sum += disc
        tax_sum += tax
        if max_line_diff is not None and diff > max_line_diff:
            max_line_diff = diff
        if min_qty is None or qty < min_qty:
            min_qty = qty
        items.append(line)
    applied = get("discounts")
    if not isinstance(applied, list):
        applied = []
    discounts: list[dict[str, Any]] = []
    applied_sum: int | None = 0
    for n, d in enumerate(applied):
        if not isinstance(d, dict):
            d = {}
        amount = money_cents(d.get("amount"))
        did = d.get("discount_id")
        if amount is None or not isinstance(did, (str, int)) or not str(did).strip():
            notes.append(f"discounts[{n}]: missing discount_id or amount")
            applied_sum = None
            continue
        if applied_sum is not None:
            applied_sum += amount[1]
        discounts.append({"discount_id": str(did).strip(), "code": clean_text(d.get("code"), 100),
                          "name": clean_text(d.get("name"), 500), "amount": amount[0],
                          "in_store_only": bool(d.get("in_store_only"))})
    payments = get("payments")
    if not isinstance(payments, list):
        payments = []
    pay_sum = 0
    for p in payments:
        if isinstance(p, dict):
            paid = money_cents(p.get("amount"))
            if paid is not None:
                pay_sum += paid[1]

    st_c = None if st is None else st[1]
    dt_c = None if dt is None else dt[1]
    tt_c = None if tt is None else tt[1]
    tot_c = None if tot is None else tot[1]
    present = [v for v in (st_c, dt_c, tt_c) if v is not None]
    lines_ok = max_line_diff is not None
    status = get("status")
    checks = {
        "max_line_diff_cents": max_line_diff,
        "subtotal_diff_cents": _outside(st_c, gross_low, gross_high) if st_c is not None and lines_ok else None,
        "discount_diff_cents": dt_c - disc_sum if dt_c is not None and lines_ok else None,
        "discounts_applied_diff_cents": dt_c - applied_sum if dt_c is not None and applied_sum is not None else None,
        "tax_diff_cents": tt_c - tax_sum if tt_c is not None and lines_ok else None,
        "total_diff_cents": (tot_c - (st_c - dt_c + tt_c)
                             if st_c is not None and dt_c is not None and tt_c is not None and tot_c is not None
                             else None),
        "payments_diff_cents": tot_c - pay_sum if tot_c is not None and payments else 0,
        "total_cents": tot_c,
        "completed_total_cents": tot_c if status == "completed" else None,
        "min_amount_cents": min(present) if present else None,
        "min_quantity_milli": min_qty,
        "item_count": len(raw_items),
        "sold_year": created.year if created else None,
    }
    customer = normalize_customer(get("customer"), credential, region, to_utc(updated))
    return SaleRow(
        row=row, credential=credential, raw=raw if isinstance(raw, dict) else {"_raw": raw},
        key=record_key("sale", rec), sale_id=sale_id, location_id=location_id,
        receipt_number=clean_text(get("receipt_number"), 100),
        status=status if isinstance(status, str) else None,
        sold_at=to_utc(created), business_date=business_date(created, location_tz.get(location_id or "")),
        updated_at=to_utc(updated),
        subtotal=None if st is None else st[0], discount_total=None if dt is None else dt[0],
        tax_total=None if tt is None else tt[0], total=None if tot is None else tot[0],
        currency=clean_text(get("currency"), 3), customer=customer, items=items,
        discounts=discounts, parse_notes=notes, checks=checks,
    )


# --------------------------------------------------------------------------- refunds


@dataclass
class RefundRow:
    row: int
    credential: str
    raw: dict[str, Any]
    key: str
    refund_id: str | None
    sale_id: str | None
    location_id: str | None
    refunded_at: datetime | None
    business_date: date | None
    amount: Decimal | None
    tax: Decimal | None
    total: Decimal | None
    reason: str | None
    parse_notes: list[str] = field(default_factory=list)
    checks: dict[str, Any] = field(default_factory=dict)


def normalize_refund(raw: Any, row: int, credential: str, location_tz: dict[str, str]) -> RefundRow:
    notes: list[str] = []
    rec = raw if isinstance(raw, dict) else {}
    created = parse_time(rec.get("created_at"))
    if created is None:
        notes.append("created_at: missing or not an RFC 3339 time")
    amount, tax, total = (_money_field(rec, k, notes) for k in ("amount", "tax", "total"))
    a_c, t_c, tot_c = (None if v is None else v[1] for v in (amount, tax, total))
    location_id = _ident(rec.get("location_id"))
    return RefundRow(
        row=row, credential=credential, raw=raw if isinstance(raw, dict) else {"_raw": raw},
        key=record_key("refund", rec), refund_id=_ident(rec.get("id")), sale_id=_ident(rec.get("sale_id")),
        location_id=location_id, refunded_at=to_utc(created),
        business_date=business_date(created, location_tz.get(location_id or "")),
        amount=None if amount is None else amount[0], tax=None if tax is None else tax[0],
        total=None if total is None else total[0], reason=clean_text(rec.get("reason"), 200),
        parse_notes=notes,
        checks={
            "total_diff_cents": tot_c - a_c - t_c if a_c is not None and t_c is not None and tot_c is not None else None,
            "min_amount_cents": min((v for v in (a_c, t_c, tot_c) if v is not None), default=None),
            "total_cents": tot_c,
            "refund_year": created.year if created else None,
        },
    )
