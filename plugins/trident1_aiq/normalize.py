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
MONEY_RE = re.compile(r"^-?\d{1,15}(\.\d{1,2})?$")
QTY_RE = re.compile(r"^-?\d{1,12}(\.\d{1,3})?$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]{2,}$")
#: Local parts typed to get past a required e-mail field (rule 13).
EMAIL_PLACEHOLDERS = frozenset(
    {"noemail", "nomail", "none", "na", "n/a", "no", "null", "nil", "unknown", "test",
     "declined", "refused"}
)
SALE_STATUSES = ("completed", "voided", "refunded", "partially_refunded")


# --------------------------------------------------------------------------- scalars


def parse_money(value: Any) -> Decimal | None:
    """A decimal string (or an exact JSON number) with at most two places."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str):
        return _money_text(value)
    if isinstance(value, (int, Decimal)):
        return _money_text(str(value))
    return None  # a binary float never becomes money


@lru_cache(maxsize=16_384)
def _money_text(value: str) -> Decimal | None:
    """Cached: a day's amounts repeat (prices, taxes), and Decimal parsing is not free."""
    text = value.strip()
    if not MONEY_RE.match(text):
        return None
    return Decimal(text).quantize(CENT)


def parse_quantity(value: Any) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    text = str(value).strip() if isinstance(value, (str, int, Decimal)) else ""
    if not QTY_RE.match(text):
        return None
    return Decimal(text).quantize(Decimal("0.001"))


def parse_time(value: Any) -> datetime | None:
    """An RFC 3339 timestamp with an offset; naive or unparseable → None."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def to_utc(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.astimezone(UTC)


def business_date(created_at: datetime | None, location_tz: str | None) -> date | None:
    """Rule 9: the sale's local date at its location (its offset, or the location's zone)."""
    if created_at is None:
        return None
    if location_tz:
        return created_at.astimezone(ZoneInfo(location_tz)).date()
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


@lru_cache(maxsize=16_384)
def _phone(value: str, region: str) -> str | None:
    """Cached: a customer's phone comes with the profile and again with each of their sales."""
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


def _money_field(raw: dict, name: str, notes: list[str], where: str = "") -> Decimal | None:
    value = parse_money(raw.get(name))
    if value is None:
        notes.append(f"{where}{name}: missing or not a money amount ({str(raw.get(name))[:40]!r})")
    return value


def normalize_sale(raw: Any, row: int, credential: str, location_tz: dict[str, str], region: str) -> SaleRow:
    notes: list[str] = []
    rec = raw if isinstance(raw, dict) else {}
    if not isinstance(raw, dict):
        notes.append("record is not a JSON object")
    sid = rec.get("id")
    sale_id = str(sid).strip() if isinstance(sid, (str, int)) and not isinstance(sid, bool) and str(sid).strip() else None
    loc = rec.get("location_id")
    location_id = str(loc).strip() if isinstance(loc, (str, int)) and str(loc).strip() else None
    created = parse_time(rec.get("created_at"))
    if created is None:
        notes.append(f"created_at: missing or not an RFC 3339 time ({str(rec.get('created_at'))[:40]!r})")
    updated = parse_time(rec.get("updated_at"))
    if updated is None:
        notes.append("updated_at: missing or not an RFC 3339 time")
    money = {n: _money_field(rec, n, notes) for n in ("subtotal", "discount_total", "tax_total", "total")}

    items, discounts = [], []
    gross_sum = disc_sum = tax_sum = Decimal(0)
    max_line_diff: int | None = 0
    min_qty: int | None = None
    raw_items = rec.get("items")
    if not isinstance(raw_items, list) or not raw_items:
        notes.append("items: missing or empty")
        max_line_diff = None
        raw_items = []
    for n, it in enumerate(raw_items):
        it = it if isinstance(it, dict) else {}
        where = f"items[{n}]."
        line_notes: list[str] = []
        qty = parse_quantity(it.get("quantity"))
        if qty is None:
            line_notes.append(f"{where}quantity: missing or not a decimal quantity")
        price, disc, tax, total = (_money_field(it, k, line_notes, where) for k in ("unit_price", "discount", "tax", "total"))
        line_id = it.get("line_id")
        if not isinstance(line_id, int) or isinstance(line_id, bool):
            line_notes.append(f"{where}line_id: missing or not an integer")
        notes.extend(line_notes)
        if line_notes:
            max_line_diff = None
            continue
        gross = (qty * price).quantize(CENT)
        gross_sum += gross
        disc_sum += disc
        tax_sum += tax
        if max_line_diff is not None:
            max_line_diff = max(max_line_diff, abs(cents(gross - disc + tax - total)))
        mq = int(qty * 1000)
        min_qty = mq if min_qty is None else min(min_qty, mq)
        items.append({"line_id": line_id, "sku": clean_text(it.get("sku"), 100),
                      "name": clean_text(it.get("name"), 500), "category": clean_text(it.get("category"), 200),
                      "quantity": qty, "unit_price": price, "discount": disc, "tax": tax, "total": total})
    applied = rec.get("discounts") if isinstance(rec.get("discounts"), list) else []
    applied_sum: Decimal | None = Decimal(0)
    for n, d in enumerate(applied):
        d = d if isinstance(d, dict) else {}
        amount = parse_money(d.get("amount"))
        did = d.get("discount_id")
        if amount is None or not isinstance(did, (str, int)) or not str(did).strip():
            notes.append(f"discounts[{n}]: missing discount_id or amount")
            applied_sum = None
            continue
        if applied_sum is not None:
            applied_sum += amount
        discounts.append({"discount_id": str(did).strip(), "code": clean_text(d.get("code"), 100),
                          "name": clean_text(d.get("name"), 500), "amount": amount,
                          "in_store_only": bool(d.get("in_store_only"))})
    payments = rec.get("payments") if isinstance(rec.get("payments"), list) else []
    pay_sum = sum((parse_money(p.get("amount")) or Decimal(0) for p in payments if isinstance(p, dict)), Decimal(0))

    st, dt, tt, tot = money["subtotal"], money["discount_total"], money["tax_total"], money["total"]
    lines_ok = max_line_diff is not None
    checks = {
        "max_line_diff_cents": max_line_diff,
        "subtotal_diff_cents": cents(st - gross_sum) if st is not None and lines_ok else None,
        "discount_diff_cents": cents(dt - disc_sum) if dt is not None and lines_ok else None,
        "discounts_applied_diff_cents": cents(dt - applied_sum) if dt is not None and applied_sum is not None else None,
        "tax_diff_cents": cents(tt - tax_sum) if tt is not None and lines_ok else None,
        "total_diff_cents": cents(tot - (st - dt + tt)) if None not in (st, dt, tt, tot) else None,
        "payments_diff_cents": cents(tot - pay_sum) if tot is not None and payments else 0,
        "total_cents": cents(tot),
        "completed_total_cents": cents(tot) if rec.get("status") == "completed" else None,
        "min_amount_cents": min((cents(v) for v in (st, dt, tt) if v is not None), default=None),
        "min_quantity_milli": min_qty,
        "item_count": len(raw_items),
        "sold_year": created.year if created else None,
    }
    status = rec.get("status") if isinstance(rec.get("status"), str) else None
    tz = location_tz.get(location_id or "")
    customer = normalize_customer(rec.get("customer"), credential, region, to_utc(updated))
    return SaleRow(
        row=row, credential=credential, raw=raw if isinstance(raw, dict) else {"_raw": raw},
        key=record_key("sale", rec), sale_id=sale_id, location_id=location_id,
        receipt_number=clean_text(rec.get("receipt_number"), 100), status=status,
        sold_at=to_utc(created), business_date=business_date(created, tz), updated_at=to_utc(updated),
        subtotal=st, discount_total=dt, tax_total=tt, total=tot,
        currency=clean_text(rec.get("currency"), 3), customer=customer, items=items,
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

    def ident(name: str) -> str | None:
        v = rec.get(name)
        return str(v).strip() if isinstance(v, (str, int)) and not isinstance(v, bool) and str(v).strip() else None

    created = parse_time(rec.get("created_at"))
    if created is None:
        notes.append("created_at: missing or not an RFC 3339 time")
    amount, tax, total = (_money_field(rec, k, notes) for k in ("amount", "tax", "total"))
    location_id = ident("location_id")
    return RefundRow(
        row=row, credential=credential, raw=raw if isinstance(raw, dict) else {"_raw": raw},
        key=record_key("refund", rec), refund_id=ident("id"), sale_id=ident("sale_id"),
        location_id=location_id, refunded_at=to_utc(created),
        business_date=business_date(created, location_tz.get(location_id or "")),
        amount=amount, tax=tax, total=total, reason=clean_text(rec.get("reason"), 200),
        parse_notes=notes,
        checks={
            "total_diff_cents": cents(total - amount - tax) if None not in (amount, tax, total) else None,
            "min_amount_cents": min((cents(v) for v in (amount, tax, total) if v is not None), default=None),
            "total_cents": cents(total),
            "refund_year": created.year if created else None,
        },
    )
