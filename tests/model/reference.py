"""A small, obviously-correct reference model of what the warehouse must contain.

Written from the rulebook, ``docs/rules.md`` (rule numbers in the comments), in plain Python,
knowing nothing of the product's code. Its input is what the Trident1 API served in each run (the
contract leaves paging open: the fake logs what it really returned), the mappings of that run,
and the settings. Where an exact model would be long, :mod:`test_model_based` asserts an
invariant instead (void reconciliations, redemptions, opt-ins).

Simplifications, all properties of the generated histories rather than of the rules:
* a record is invalid only by an unknown status (``open``) or an unknown location; an invalid
  version is never newer than a valid one of the same sale;
* every record of a person carries that person's usable phone (or, for an e-mail-only person, the
  usable e-mail), so who is who never depends on arrival order; a "ghost" person has neither;
* a location always maps to the same retail store when it is mapped at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

STATUSES = ("completed", "voided", "refunded", "partially_refunded")
PURCHASES = ("completed", "refunded", "partially_refunded")  # rule 4: not voided


def utc(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


@dataclass(frozen=True)
class Person:
    name: str
    phone: str | None  # E.164 when usable (rule 13), else None
    email: str | None  # normalised when usable, else None

    @property
    def usable(self) -> bool:  # rule 12
        return bool(self.phone or self.email)


@dataclass
class Catalogue:
    """The fixed world: accounts' locations, the store each location maps to, who is who."""

    timezones: dict[str, dict[str, str]]  # credential → {location id: time zone} (its /locations)
    home_store: dict[tuple[str, str], str]  # (credential, location id) → retail store when mapped
    person_of: dict[tuple[str, str], str]  # (credential, customer id) → person name
    persons: dict[str, Person]
    store_timezone: dict[str, str]

    def person(self, credential: str, customer: dict | None) -> Person | None:
        if not customer:
            return None
        p = self.persons[self.person_of[(credential, customer["id"])]]
        return p if p.usable else None


@dataclass
class Open:
    held: bool
    payload: dict


@dataclass
class Reference:
    cat: Catalogue
    sales: dict[tuple[str, str], dict] = field(default_factory=dict)  # loaded version (raw JSON)
    refunds: dict[tuple[str, str], dict] = field(default_factory=dict)
    quarantine: dict[tuple[str, str, str], Open] = field(default_factory=dict)  # open rows
    sources: dict[tuple[str, str], str] = field(default_factory=dict)  # linked customer → person
    emails: set[str] = field(default_factory=set)  # persons whose usable e-mail reached a persona

    # ------------------------------------------------------------------ one credential's run
    def ingest(self, credential: str, mapped: set[str], served: dict[str, list[dict]]) -> None:
        known = set(self.cat.timezones[credential])
        for c in served["customers"]:  # rule 12: a customer with a usable contact is a persona
            self._link(credential, c)
        # Rule 6: everything held for a location mapped now goes through this run, changed or not.
        held = {k: o.payload for k, o in self.quarantine.items()
                if k[0] == credential and o.held and o.payload.get("location_id") in mapped}
        for entity, listing in (("sale", "sales"), ("refund", "refunds")):
            newest: dict[str, dict] = {}
            candidates = [p for (_c, e, _k), p in held.items() if e == entity] + served[listing]
            for rec in candidates:  # rule 8 / contract: keep the greatest updated_at per id
                old = newest.get(rec["id"])
                if old is None or version(entity, rec) > version(entity, old):
                    newest[rec["id"]] = rec
            for rid, rec in newest.items():
                self._one(credential, entity, rid, rec, known, mapped)

    def _one(self, credential: str, entity: str, rid: str, rec: dict, known: set[str], mapped: set[str]) -> None:
        key = (credential, entity, rid)
        loc = rec.get("location_id")
        valid = loc in known and (entity == "refund" or rec.get("status") in STATUSES)  # rule 10
        if not valid:
            self.quarantine[key] = Open(False, rec)
            return
        if loc not in mapped:  # rule 6: held, never dropped, never loaded under a guess
            self.quarantine[key] = Open(True, rec)
            return
        self.quarantine.pop(key, None)  # a valid version releases it (rule 10); held: rule 6
        table = self.sales if entity == "sale" else self.refunds
        have = table.get((credential, rid))
        if entity == "sale":
            if have is None or version(entity, rec) > version(entity, have):  # rule 8
                table[(credential, rid)] = rec
                self._link(credential, rec.get("customer"))
        elif have is None:  # refunds never change: the first load wins
            table[(credential, rid)] = rec

    def _link(self, credential: str, customer: dict | None) -> None:
        person = self.cat.person(credential, customer)
        if person is not None:
            self.sources[(credential, customer["id"])] = person.name
            if person.email and (customer.get("email") or "").strip():
                self.emails.add(person.name)

    # ------------------------------------------------------------------ expected tables
    def person_of_sale(self, credential: str, sale: dict) -> str | None:
        p = self.cat.person(credential, sale.get("customer"))
        return p.name if p else None

    def sales_table(self) -> dict[tuple[str, str], tuple]:
        out = {}
        for (cred, sid), s in self.sales.items():
            created = datetime.fromisoformat(s["created_at"])
            tz = self.cat.timezones[cred][s["location_id"]]
            out[(cred, sid)] = (
                s["status"], utc(s["updated_at"]), self.cat.home_store[(cred, s["location_id"])], s["location_id"],
                self.person_of_sale(cred, s), Decimal(s["subtotal"]), Decimal(s["discount_total"]),
                Decimal(s["tax_total"]), Decimal(s["total"]), created.astimezone(UTC),
                created.astimezone(ZoneInfo(tz)).date())  # rule 9: UTC sold_at, local business date
        return out

    def items_table(self) -> dict[tuple[str, str, int], tuple]:
        return {(cred, sid, it["line_id"]): (Decimal(it["quantity"]), Decimal(it["unit_price"]),
                                             Decimal(it["discount"]), Decimal(it["tax"]), Decimal(it["total"]))
                for (cred, sid), s in self.sales.items() for it in s["items"]}

    def refunds_table(self) -> dict[tuple[str, str], tuple]:
        return {(cred, rid): (r["sale_id"], Decimal(r["amount"]), Decimal(r["tax"]), Decimal(r["total"]),
                              utc(r["created_at"]), self.cat.home_store[(cred, r["location_id"])])
                for (cred, rid), r in self.refunds.items()}

    def already_loaded(self, key: tuple[str, str, str]) -> bool:
        """Whether the open row's record is in the warehouse at the same or a newer version."""
        cred, entity, rid = key
        have = (self.sales if entity == "sale" else self.refunds).get((cred, rid))
        return have is not None and version(entity, have) >= version(entity, self.quarantine[key].payload)

    def open_quarantine(self) -> dict[tuple[str, str, str], bool]:
        return {k: o.held for k, o in self.quarantine.items()}

    def persona_groups(self) -> dict[str, frozenset[tuple[str, str]]]:
        """Person → the Trident1 customers its persona groups (rule 14)."""
        groups: dict[str, set] = {}
        for src, person in self.sources.items():
            groups.setdefault(person, set()).add(src)
        return {p: frozenset(s) for p, s in groups.items()}

    def daily_store_sales(self) -> dict[tuple[str, date], tuple[int, Decimal, Decimal]]:
        """The analyst view: non-voided sales and their net, refunds by their local date."""
        out: dict[tuple[str, date], list] = {}
        for row in self.sales_table().values():
            status, store, bdate = row[0], row[2], row[10]
            if status != "voided":
                cell = out.setdefault((store, bdate), [0, Decimal(0), Decimal(0)])
                cell[0] += 1
                cell[1] += row[5] - row[6]
        for (cred, _rid), r in self.refunds.items():
            tz = self.cat.timezones[cred][r["location_id"]]
            bdate = datetime.fromisoformat(r["created_at"]).astimezone(ZoneInfo(tz)).date()
            cell = out.setdefault((self.cat.home_store[(cred, r["location_id"])], bdate), [0, Decimal(0), Decimal(0)])
            cell[2] += Decimal(r["amount"])
        return {k: tuple(v) for k, v in out.items()}

    # ------------------------------------------------------------------ loyalty (rules 4, 16–18, 21)
    def loyalty(self, *, enabled_at: datetime, purchased_after: date, points_per_dollar: Decimal,
                mirrors: dict[tuple[str, str], int]) -> LoyaltyModel:
        sales = self.sales_table()
        first: dict[str, datetime] = {}
        for row in sales.values():
            status, person, sold_at, bdate = row[0], row[4], row[9], row[10]
            if person and status in PURCHASES and bdate >= purchased_after:
                first[person] = min(first.get(person, sold_at), sold_at)
        enrolled = {p: max(enabled_at, at) for p, at in first.items()}
        refunded: dict[tuple[str, str], Decimal] = {}
        for (cred, _rid), r in self.refunds.items():
            refunded[(cred, r["sale_id"])] = refunded.get((cred, r["sale_id"]), Decimal(0)) + Decimal(r["amount"])
        net: dict[tuple[str, str], int] = {}
        earned: dict[tuple[str, str], int] = {}
        redeemed: dict[tuple[str, str], int] = {}
        for (cred, sid), row in sales.items():
            status, person, sold_at = row[0], row[4], row[9]
            if person is None:
                continue
            eligible_amount = row[5] - row[6]
            e = 0
            if person in enrolled and sold_at >= enrolled[person]:
                e = max(0, int((eligible_amount * points_per_dollar).to_integral_value(rounding=ROUND_FLOOR)))
            r = sum(cost for d in self.sales[(cred, sid)]["discounts"]
                    if (cost := mirrors.get((cred, d["discount_id"]))) is not None)
            earned[(cred, sid)], redeemed[(cred, sid)] = e, r
            if status == "voided":  # first seen voided earns nothing; voided later gives it all back
                net[(cred, sid)] = 0
                continue
            a = refunded.get((cred, sid), Decimal(0))
            net[(cred, sid)] = e - share(e, a, eligible_amount) - r + share(r, a, eligible_amount)
        balance: dict[str, int] = {}
        for (cred, sid), n in net.items():
            person = sales[(cred, sid)][4]
            balance[person] = balance.get(person, 0) + n
        return LoyaltyModel(enrolled, net, balance, earned, redeemed, refunded)


@dataclass
class LoyaltyModel:
    enrolled_at: dict[str, datetime]  # person → loyalty_enrolled_at
    net: dict[tuple[str, str], int]  # sale → net points of its ledger entries
    balance: dict[str, int]  # person → balance
    earned: dict[tuple[str, str], int]  # what the sale earns while it is not voided
    redeemed: dict[tuple[str, str], int]
    refunded: dict[tuple[str, str], Decimal]


def share(points: int, refunded: Decimal, eligible_amount: Decimal) -> int:
    """Rule 18: round-half-up(points × A / B), never more than points; all of it when fully refunded."""
    if points <= 0 or refunded <= 0:
        return 0
    if refunded >= eligible_amount:
        return points
    return min(points, int((Decimal(points) * refunded / eligible_amount).quantize(Decimal(1), rounding=ROUND_HALF_UP)))


def version(entity: str, rec: dict) -> datetime:
    return utc(rec["created_at"] if entity == "refund" else rec["updated_at"])


def in_send_hours(moment: datetime, timezone: str) -> bool:
    """Rule 24: 08:00 to before 21:00 in the store's local time."""
    local = moment.astimezone(ZoneInfo(timezone)).time()
    return local.hour >= 8 and local.hour < 21

