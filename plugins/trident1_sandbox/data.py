"""Deterministic, realistic Trident1 data for the local sandbox.

Every sale of a (store account, location, day) is generated from a seed made of
those three, so any window can be served at any time and always gives the same
records. What a record looks like *now* (status, ``updated_at``, which refunds
exist) depends on the sandbox clock: a refund dated tomorrow does not exist yet.

The data is deliberately messy, as counters type it: phones in many formats and
some placeholders, padded/upper-case emails and placeholder addresses, anonymous
sales, the same person under two customer ids and at two store accounts,
discounts (one in-store only), partial and full refunds days later, voids,
no-op updates days later, and a small share of malformed records of each kind
the validation quarantines.
"""

from __future__ import annotations

import dataclasses
import math
import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

CENT = Decimal("0.01")
#: No event (refund, void, update) happens later than this after the sale.
MAX_EVENT_DELAY = timedelta(days=7)
DATA_START = date(2025, 1, 1)


@dataclass(frozen=True)
class LocationSpec:
    id: str
    name: str
    timezone: str
    area_code: str
    tax_rate: Decimal
    city: str
    state: str
    postal_code: str


@dataclass(frozen=True)
class StoreSpec:
    name: str
    api_key: str
    locations: tuple[LocationSpec, ...]
    seed: int = 1
    #: Sales per location and day of this account (None: the sandbox's ``Volume.sales_per_day``).
    sales_per_day: int | None = None


def _loc(id_, name, tz, area, rate, city, state, pc) -> LocationSpec:
    return LocationSpec(id_, name, tz, area, Decimal(rate), city, state, pc)



DEFAULT_STORES: dict[str, StoreSpec] = {
    "acme": StoreSpec(
        "acme",
        "sandbox-acme-key",
        (
            _loc("LOC-1", "Downtown", "America/Denver", "303", "0.0881", "Denver", "CO", "80202"),
            _loc("LOC-2", "SoHo", "America/New_York", "212", "0.08875", "New York", "NY", "10012"),
            _loc("LOC-3", "Venice", "America/Los_Angeles", "310", "0.095", "Los Angeles", "CA", "90291"),
            _loc("LOC-4", "Scottsdale", "America/Phoenix", "480", "0.081", "Scottsdale", "AZ", "85251"),
        ),
        seed=1,
    ),
    "bolt": StoreSpec(
        "bolt",
        "sandbox-bolt-key",
        (_loc("LOC-1", "Loop", "America/Chicago", "312", "0.1025", "Chicago", "IL", "60604"),),
        seed=2,
    ),
}

def chain_store(locations: int, name: str = "chain", api_key: str = "sandbox-chain-key") -> StoreSpec:
    """A store account with many locations (benchmarks): the default stores' cities, repeated."""
    cities = [loc for spec in DEFAULT_STORES.values() for loc in spec.locations]
    locs = tuple(
        LocationSpec(f"LOC-{n + 1}", f"{cities[n % len(cities)].name} {n // len(cities) + 1}",
                     cities[n % len(cities)].timezone, cities[n % len(cities)].area_code,
                     cities[n % len(cities)].tax_rate, cities[n % len(cities)].city,
                     cities[n % len(cities)].state, cities[n % len(cities)].postal_code)
        for n in range(locations)
    )
    return StoreSpec(name, api_key, locs, seed=3)


def fleet_stores(n: int, *, min_sales: int | None = None, max_sales: int | None = None,
                 seed: int = 18) -> dict[str, StoreSpec]:
    """``n`` franchisee accounts ``f0001``… (key ``sandbox-fNNNN-key``), one location each in the
    default stores' cities, for fleet tests and benchmarks. With ``min_sales``/``max_sales``
    each account's sales per day are drawn log-uniformly from that range (seeded), else the
    sandbox's ``Volume.sales_per_day``."""
    cities = [loc for spec in DEFAULT_STORES.values() for loc in spec.locations]
    rng = random.Random(seed)
    out = {}
    for k in range(1, n + 1):
        name = f"f{k:04d}"
        city = cities[k % len(cities)]
        per_day = None
        if min_sales is not None and max_sales is not None:
            per_day = round(math.exp(rng.uniform(math.log(min_sales), math.log(max_sales))))
        out[name] = StoreSpec(name, f"sandbox-{name}-key", (dataclasses.replace(city, id="LOC-1"),),
                              seed=1000 + k, sales_per_day=per_day)
    return out


DISCOUNTS = [
    {"id": "D-10", "code": "TENOFF", "name": "10% off", "type": "percent", "value": "10",
     "in_store_only": False, "active": True, "starts_at": None, "ends_at": None},
    {"id": "D-20", "code": "FIVEOFF", "name": "$5 off", "type": "fixed", "value": "5.00",
     "in_store_only": False, "active": True, "starts_at": None, "ends_at": None},
    {"id": "D-99", "code": "COUPON2", "name": "Store coupon $2", "type": "fixed", "value": "2.00",
     "in_store_only": True, "active": True, "starts_at": None, "ends_at": None},
]

CATALOGUE = [
    ("KNF-FX-350", "Folding knife 3.5in", "Knives", "35.00", False),
    ("KNF-CH-800", "Chef knife 8in", "Knives", "89.00", False),
    ("SHP-ST-001", "Sharpening stone", "Care", "24.50", False),
    ("OIL-HN-100", "Honing oil 100ml", "Care", "7.99", False),
    ("BLK-LTH-01", "Leather by the foot", "Bulk", "12.40", True),
    ("BLK-CRD-01", "Paracord by the foot", "Bulk", "0.85", True),
    ("SHT-PCK-01", "Pocket sheath", "Accessories", "19.95", False),
    ("GFT-BOX-01", "Gift box", "Accessories", "4.99", False),
    ("TEE-LOG-01", "Logo T-shirt", "Apparel", "22.00", False),
    ("CAP-LOG-01", "Logo cap", "Apparel", "18.00", False),
]

FIRST = ["Ana", "Ben", "Chloé", "Dmitri", "Eve", "Farah", "Gus", "Hana", "Ivan", "José",
         "Kim", "Lena", "Mo", "Nia", "O'Brien", "Priya", "Quinn", "Rosa", "Sam", "Tariq"]
LAST = ["Núñez", "Smith", "Lee", "O'Neil", "García", "Kowalski", "Nguyen", "Brown",
        "Müller", "Haddad", "Johnson", "Rossi", "Okafor", "Dubois", "Tanaka"]
EMAIL_PLACEHOLDERS = ["noemail@example.com", "none@none.com", "na@na.com", "declined@store.com",
                      "n/a", "test@test.com"]
MALFORMED_KINDS = ["missing_id", "bad_money", "lines_mismatch", "negative_total",
                   "unknown_location", "bad_time"]


def money(value: Decimal) -> str:
    return str(value.quantize(CENT, rounding=ROUND_HALF_UP))


def _z(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _local(moment: datetime, tz: str) -> str:
    return moment.astimezone(ZoneInfo(tz)).isoformat(timespec="seconds")


# ------------------------------------------------------------------------------------------
# Customers


def _phone(rng: random.Random, area: str, number: int) -> str | None:
    digits = f"{number:07d}"
    ex, line = digits[:3], digits[3:]
    roll = rng.random()
    if roll < 0.04:
        return rng.choice(["000-000-0000", "555-555-5555", "n/a", "12345"])
    if roll < 0.10:
        return rng.choice([None, "", "   "])
    fmt = rng.choice([
        "({a}) {e}-{l}", "{a}-{e}-{l}", "{a}.{e}.{l}", "{a}{e}{l}", "+1 {a} {e} {l}",
        " 1-{a}-{e}-{l} ", "{a} {e} {l}",
    ])
    return fmt.format(a=area, e=ex, l=line)


def _email(rng: random.Random, first: str, last: str, k: int) -> str | None:
    roll = rng.random()
    if roll < 0.08:
        return rng.choice(EMAIL_PLACEHOLDERS)
    if roll < 0.15:
        return rng.choice([None, "", "ana@", "bad-email"])
    local = f"{first}.{last}{k}".replace("'", "").replace(" ", "")
    base = f"{local}@example.com"
    return rng.choice([base, base.upper(), f"  {base} ", base.title()])


@lru_cache(maxsize=200_000)
def customer(store: StoreSpec, k: int, variant: int = 0) -> dict[str, Any]:
    """Customer k of a store account. Customers k < 25 exist at every store account with
    the same phone (one person shopping at two chains); every 17th customer also has
    a second profile (variant 1) with another id and another phone format."""
    person_seed = f"person|{k}" if k < 25 else f"person|{store.name}|{store.seed}|{k}"
    rng = random.Random(person_seed)
    first, last = rng.choice(FIRST), rng.choice(LAST)
    area = store.locations[k % len(store.locations)].area_code
    number = 2_000_000 + rng.randrange(7_000_000)
    fmt_rng = random.Random(f"{person_seed}|{variant}")
    birth = rng.choice([None, "1990-04-01", f"19{rng.randrange(50, 99)}-0{rng.randrange(1, 9)}-1{rng.randrange(0, 9)}",
                        "04/01/1990", ""])
    return {
        "id": f"C-{k}" + ("-B" if variant else ""),
        "first_name": first if fmt_rng.random() > 0.05 else f"  {first} ",
        "last_name": last,
        "phone": _phone(fmt_rng, area, number),
        "email": _email(fmt_rng, first, last, k),
        "birth_date": birth,
        "created_at": _z(datetime(2025, 1, 1, tzinfo=UTC) + timedelta(hours=k)),
    }


# ------------------------------------------------------------------------------------------
# Sales


@dataclass
class SaleRecord:
    """A sale as rung, plus its later events (refunds, void, no-op update)."""

    base: dict[str, Any]
    created: datetime
    eligible: Decimal = Decimal(0)  # subtotal − discount_total as rung (before any breakage)
    void_at: datetime | None = None
    touch_at: datetime | None = None
    refunds: list[tuple[datetime, dict[str, Any]]] = field(default_factory=list)

    def as_of(self, now: datetime) -> dict[str, Any] | None:
        if self.created > now:
            return None
        rec = dict(self.base)
        updated = self.created
        done = [r for t, r in self.refunds if t <= now]
        if self.void_at and self.void_at <= now:
            rec["status"] = "voided"
            updated = max(updated, self.void_at)
        elif done:
            refunded = sum(Decimal(r["amount"]) for r in done)
            rec["status"] = "refunded" if refunded >= self.eligible else "partially_refunded"
            updated = max(updated, *(t for t, r in self.refunds if t <= now))
        if self.touch_at and self.touch_at <= now:
            updated = max(updated, self.touch_at)
        rec["updated_at"] = _z(updated)
        return rec


def _line(rng: random.Random, line_id: int) -> dict[str, Any]:
    sku, name, category, price, by_weight = rng.choice(CATALOGUE)
    qty = (Decimal(rng.randrange(250, 4000)) / 1000) if by_weight else Decimal(rng.choice([1, 1, 1, 2, 3]))
    return {"line_id": line_id, "sku": sku, "name": name, "category": category,
            "quantity": f"{qty:.3f}", "unit_price": price, "_gross": (qty * Decimal(price)).quantize(CENT, ROUND_HALF_UP)}


@lru_cache(maxsize=256)
def _generate_day(store: StoreSpec, loc: LocationSpec, day: date, per_day: int,
                  malformed_rate: float) -> tuple[SaleRecord, ...]:
    rng = random.Random(f"{store.name}|{store.seed}|{loc.id}|{day.isoformat()}")
    tz = ZoneInfo(loc.timezone)
    pool = max(60, per_day * 4)
    out = []
    opening = datetime.combine(day, time(8, 0), tz)
    for i in range(per_day):
        created = opening + timedelta(seconds=rng.randrange(0, 15 * 3600 + 1800))  # 08:00–23:30
        sale_id = f"S-{loc.id[4:]}{day:%y%m%d}{i:05d}"
        lines = [_line(rng, n + 1) for n in range(rng.choice([1, 2, 2, 3, 3, 3, 4, 5]))]
        gross = sum(ln["_gross"] for ln in lines)
        applied: list[dict[str, Any]] = []
        roll = rng.random()
        if roll < 0.15:
            applied.append((DISCOUNTS[0], [(ln["_gross"] * Decimal("0.10")).quantize(CENT, ROUND_HALF_UP) for ln in lines]))
        elif roll < 0.20 and lines[0]["_gross"] >= 5:
            applied.append((DISCOUNTS[1], [Decimal("5.00")] + [Decimal(0)] * (len(lines) - 1)))
        elif roll < 0.23 and lines[0]["_gross"] >= 2:
            applied.append((DISCOUNTS[2], [Decimal("2.00")] + [Decimal(0)] * (len(lines) - 1)))
        line_disc = [sum((d[1][n] for d in applied), Decimal(0)) for n in range(len(lines))]
        items = []
        for ln, disc in zip(lines, line_disc, strict=True):
            tax = ((ln["_gross"] - disc) * loc.tax_rate).quantize(CENT, ROUND_HALF_UP)
            item = {k: v for k, v in ln.items() if not k.startswith("_")}
            item.update(discount=money(disc), tax=money(tax), total=money(ln["_gross"] - disc + tax))
            items.append(item)
        discount_total = sum(line_disc, Decimal(0))
        tax_total = sum((Decimal(it["tax"]) for it in items), Decimal(0))
        total = gross - discount_total + tax_total
        cust = None
        if rng.random() >= 0.3:
            k = rng.randrange(pool)
            variant = 1 if (k % 17 == 0 and rng.random() < 0.5) else 0
            cust = customer(store, k, variant)
        base = {
            "id": sale_id, "location_id": loc.id, "receipt_number": f"{loc.id[4:]}00-{i:06d}",
            "status": "completed", "created_at": _local(created, loc.timezone),
            "updated_at": _z(created), "customer": cust, "items": items,
            "discounts": [{"discount_id": d["id"], "code": d["code"], "name": d["name"],
                           "amount": money(sum(amts, Decimal(0))), "in_store_only": d["in_store_only"]}
                          for d, amts in applied],
            "payments": [{"method": rng.choice(["cash", "card", "card", "card"]), "amount": money(total)}],
            "subtotal": money(gross), "discount_total": money(discount_total),
            "tax_total": money(tax_total), "total": money(total), "currency": "USD",
        }
        rec = SaleRecord(base=base, created=created, eligible=gross - discount_total)
        _events(rng, rec, items, loc)
        if rng.random() < malformed_rate:
            _break(rng.choice(MALFORMED_KINDS), rec)
        out.append(rec)
    return tuple(out)


def _events(rng: random.Random, rec: SaleRecord, items: list[dict], loc: LocationSpec) -> None:
    roll = rng.random()
    later = lambda lo, hi: rec.created + timedelta(minutes=rng.randrange(lo, hi))  # noqa: E731
    if roll < 0.02:
        rec.void_at = later(5, 300)
    elif roll < 0.06:
        rec.refunds.append(_refund(rec, items, 1, later(60 * 20, 60 * 24 * 4), loc, rng))
    elif roll < 0.10:
        first, rest = items[: max(1, len(items) // 2)], items[max(1, len(items) // 2):]
        rec.refunds.append(_refund(rec, first, 1, later(60 * 20, 60 * 24 * 3), loc, rng))
        if rest and rng.random() < 0.4:
            rec.refunds.append(_refund(rec, rest, 2, later(60 * 24 * 3, 60 * 24 * 6), loc, rng))
    elif roll < 0.13:
        rec.touch_at = later(60 * 24, 60 * 24 * 2)


def _refund(rec: SaleRecord, items: list[dict], n: int, at: datetime, loc: LocationSpec,
            rng: random.Random) -> tuple[datetime, dict[str, Any]]:
    parts = []
    for it in items:
        amount = Decimal(it["quantity"]) * Decimal(it["unit_price"]) - Decimal(it["discount"])
        parts.append({"line_id": it["line_id"], "quantity": it["quantity"], "amount": money(amount)})
    amount = sum((Decimal(p["amount"]) for p in parts), Decimal(0))
    tax = sum((Decimal(it["tax"]) for it in items), Decimal(0))
    return at, {
        "id": f"R-{rec.base['id'][2:]}-{n}", "sale_id": rec.base["id"],
        "location_id": rec.base["location_id"], "created_at": _local(at, loc.timezone),
        "amount": money(amount), "tax": money(tax), "total": money(amount + tax),
        "items": parts, "reason": rng.choice(["defective", "changed mind", "wrong size"]),
    }


def _break(kind: str, rec: SaleRecord) -> None:
    b = rec.base
    b["_malformed"] = kind  # stripped before serving; lets tests count what they expect
    if kind == "missing_id":
        b["id"] = None
    elif kind == "bad_money":
        b["subtotal"] = b["subtotal"].replace(".", ",").replace("0", "O")
    elif kind == "lines_mismatch":
        b["total"] = money(Decimal(b["total"]) + 1)
        b["payments"][0]["amount"] = b["total"]
    elif kind == "negative_total":
        for key in ("subtotal", "tax_total", "total"):
            b[key] = money(-Decimal(b[key]))
    elif kind == "unknown_location":
        b["location_id"] = "LOC-99"
    elif kind == "bad_time":
        b["created_at"] = rec.created.strftime("%m/%d/%Y %H:%M")


# ------------------------------------------------------------------------------------------
# Listings


@dataclass(frozen=True)
class Volume:
    sales_per_day: int = 40
    malformed_rate: float = 0.02
    walk_in_customers: int = 2
    #: Sales are rung only on these days (ISO dates, inclusive); None: every day since DATA_START.
    #: Benchmarks use it so a big day costs the sandbox one day of generation, not eight.
    first_day: str | None = None
    last_day: str | None = None

    def per_day(self, store: StoreSpec) -> int:
        """Sales per location and day of ``store``: its own figure, else this volume's."""
        return self.sales_per_day if store.sales_per_day is None else store.sales_per_day

    def rings_on(self, day: date) -> bool:
        return ((self.first_day is None or day >= date.fromisoformat(self.first_day))
                and (self.last_day is None or day <= date.fromisoformat(self.last_day)))


def _days(since: datetime, before: datetime, back: timedelta) -> list[date]:
    first = max((since - back).date() - timedelta(days=1), DATA_START)
    last = (before + timedelta(days=1)).date()
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def sales_records(store: StoreSpec, vol: Volume, day_range: list[date]):
    for day in day_range:
        if not vol.rings_on(day):
            continue
        for loc in store.locations:
            yield from _generate_day(store, loc, day, vol.per_day(store), vol.malformed_rate)


def list_sales(store: StoreSpec, vol: Volume, since: datetime, before: datetime, now: datetime,
               location_id: str | None = None) -> list[dict[str, Any]]:
    out = []
    for rec in sales_records(store, vol, _days(since, before, MAX_EVENT_DELAY)):
        view = rec.as_of(now)
        if view is None or (location_id and view["location_id"] != location_id):
            continue
        if since <= _parse_z(view["updated_at"]) < before:
            out.append(view)
    return _ordered(out)


def list_refunds(store: StoreSpec, vol: Volume, since: datetime, before: datetime, now: datetime,
                 location_id: str | None = None) -> list[dict[str, Any]]:
    out = []
    for rec in sales_records(store, vol, _days(since, before, MAX_EVENT_DELAY)):
        for at, refund in rec.refunds:
            if at <= now and since <= at < before and (not location_id or refund["location_id"] == location_id):
                out.append(dict(refund, updated_at=_z(at)))
    return sorted(out, key=lambda r: (r["updated_at"], r["id"]))


def list_customers(store: StoreSpec, vol: Volume, since: datetime, before: datetime,
                   now: datetime) -> list[dict[str, Any]]:
    """Profiles created or edited at the counter: every customer of a sale (edited at the
    sale) plus a few walk-in sign-ups per location and day who bought nothing."""
    out = []
    for day in _days(since, before, timedelta(0)):
        if not vol.rings_on(day):
            continue
        for li, loc in enumerate(store.locations):
            for rec in _generate_day(store, loc, day, vol.per_day(store), vol.malformed_rate):
                cust = rec.base.get("customer")
                if cust and since <= rec.created < before and rec.created <= now:
                    out.append(dict(cust, updated_at=_z(rec.created)))
            rng = random.Random(f"walkin|{store.name}|{loc.id}|{day}")
            for w in range(vol.walk_in_customers):
                at = datetime.combine(day, time(12, 0), ZoneInfo(loc.timezone)) + timedelta(minutes=rng.randrange(300))
                if since <= at < before and at <= now:
                    k = 1_000_000 + (day - DATA_START).days * 100 + li * 10 + w
                    out.append(dict(customer(store, k), updated_at=_z(at)))
    return _ordered(out)


def list_locations(store: StoreSpec) -> list[dict[str, Any]]:
    return [{"id": loc.id, "name": loc.name, "timezone": loc.timezone,
             "phone": f"({loc.area_code}) 555-0100", "active": True,
             "address": {"line1": f"{10 + i} Main St", "line2": None, "city": loc.city,
                         "state": loc.state, "postal_code": loc.postal_code, "country": "US"}}
            for i, loc in enumerate(store.locations)]


def _ordered(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(records, key=lambda r: (r["updated_at"], str(r.get("id") or "")))


def _parse_z(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def public(record: dict[str, Any]) -> dict[str, Any]:
    """The record as served: without the generator's private markers."""
    if "_malformed" not in record:
        return record
    return {k: v for k, v in record.items() if k != "_malformed"}
