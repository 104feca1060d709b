"""The model test's world and its harness: a scripted history on the fake Trident1, runs of the
real pipeline against it, and the reference model fed with what each run was served.

Used by the hypothesis state machine (``test_model_based.py``) and by the shrunk examples written
out as plain tests (``test_regressions.py``).
"""

from __future__ import annotations

import contextlib
import itertools
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from trident1_aiq.ingest import pipeline

from . import adapter
from .fake_trident1 import (
    Account,
    FakeGateway,
    FakeTrident1,
    build_refund,
    build_sale,
    eligible,
    session_for,
    z,
)
from .reference import Catalogue, Person, Reference

START = datetime(2026, 11, 20, 16, 0, tzinfo=UTC)  # 09:00 in Denver, 08:00 in Los Angeles, a Friday
PURCHASED_AFTER = "2026-01-01"

LOCATIONS = {
    "acme": {"LOC-1": "America/Denver", "LOC-2": "America/New_York", "LOC-4": "America/Los_Angeles"},
    "bolt": {"LOC-1": "America/Chicago"},
}
HOME_STORE = {("acme", "LOC-1"): "den-downtown", ("acme", "LOC-2"): "nyc-soho", ("acme", "LOC-4"): "la-venice",
              ("bolt", "LOC-1"): "chi-loop"}
STORE_TZ = {"den-downtown": "America/Denver", "nyc-soho": "America/New_York", "la-venice": "America/Los_Angeles",
            "chi-loop": "America/Chicago"}
#: Where sales are rung: the mapped-or-not locations, and one /locations does not report.
PLACES = (("acme", "LOC-1"), ("acme", "LOC-2"), ("acme", "LOC-4"), ("bolt", "LOC-1"), ("acme", "LOC-9"))
MAPPABLE = (("acme", "LOC-1"), ("acme", "LOC-2"), ("acme", "LOC-4"), ("bolt", "LOC-1"))

PERSONS = {
    "ana": Person("ana", "+13035550101", "ana@example.com"),
    "raj": Person("raj", "+12125550102", None),
    "ben": Person("ben", None, "ben@example.com"),  # e-mail only: the phone typed is unusable
    "gus": Person("gus", None, None),  # nothing usable: never a persona (rule 12)
    "zoe": Person("zoe", "+13105550105", None),
}
#: (credential, customer id) → (person, phone as typed, e-mail as typed). One person under two
#: customer ids and under two credentials: one persona (rule 14).
CUSTOMERS = {
    ("acme", "C-1"): ("ana", "(303) 555-0101", " Ana@Example.com "),
    ("acme", "C-11"): ("ana", "303.555.0101", None),
    ("bolt", "C-1"): ("ana", "+1 303 555 0101", None),
    ("acme", "C-2"): ("raj", "(212) 555-0102", ""),
    ("acme", "C-3"): ("ben", "000-000-0000", "ben@example.com"),
    ("bolt", "C-30"): ("ben", "", "BEN@example.com"),
    ("acme", "C-4"): ("gus", "555-555-5555", "noemail@example.com"),
    ("bolt", "C-5"): ("zoe", "310-555-0105", None),
}
CUSTOMERS_OF = {name: [cid for (cred, cid) in CUSTOMERS if cred == name] for name in LOCATIONS}

CATALOGUE = Catalogue(
    timezones=LOCATIONS, home_store=HOME_STORE,
    person_of={k: v[0] for k, v in CUSTOMERS.items()}, persons=PERSONS, store_timezone=STORE_TZ)


def credential(name: str) -> str:
    return f"trident1_{name}"


def typo_of(location_id: str) -> str:
    return location_id.replace("-", "-0")  # LOC-4 → LOC-04


def _accounts() -> list[Account]:
    out = []
    for name, locs in LOCATIONS.items():
        locations = [{"id": loc, "name": f"{name} {loc}", "timezone": tz, "phone": "(303) 555-0100", "active": True,
                      "address": {"line1": "1 Main St", "line2": None, "city": "Denver", "state": "CO",
                                  "postal_code": "80202", "country": "US"}} for loc, tz in locs.items()]
        discounts = [{"id": "D-10", "code": "TENOFF", "name": "10% off", "type": "percent", "value": "10",
                      "in_store_only": False, "active": True, "starts_at": None, "ends_at": None},
                     {"id": "D-20", "code": "FIVE", "name": "$5 off", "type": "amount", "value": "5.00",
                      "in_store_only": False, "active": True, "starts_at": None, "ends_at": None}]
        out.append(Account(name, adapter.api_key(name), locations, discounts))
    return out


def _location(name: str, loc: str) -> dict:
    return {"id": loc, "timezone": LOCATIONS[name].get(loc, "America/Denver")}


class InjectedCrash(RuntimeError):
    """Raised by the crash seam: the warehouse write of the N-th chunk fails."""


@contextlib.contextmanager
def crash_on_chunk(n: int | None):
    """Make the N-th chunk write (``pipeline.merge``) of the block raise: a worker dying mid-load."""
    if n is None:
        yield
        return
    real = pipeline.merge
    calls = itertools.count(1)

    def merge(*args: Any, **kwargs: Any):
        if next(calls) == n:
            raise InjectedCrash(f"injected crash in chunk write {n}")
        return real(*args, **kwargs)

    pipeline.merge = merge
    try:
        yield
    finally:
        pipeline.merge = real


@dataclass
class Settings:
    lookback_hours: int = 48
    age_compliant: bool = True
    loyalty_enabled_at: datetime = START - timedelta(days=1)
    marketing_enabled_at: datetime = START - timedelta(days=2)
    max_requests: int = 2

    def integration(self) -> dict[str, Any]:
        return {
            "credentials": [credential(n) for n in LOCATIONS], "age_compliant": self.age_compliant,
            "max_reject_rate": 1.0, "lookback_hours": self.lookback_hours,
            "marketing": {"enabled": True, "enabled_at": z(self.marketing_enabled_at),
                          "purchased_after": PURCHASED_AFTER, "max_requests": self.max_requests},
            "loyalty": {"auto_enroll": True, "enabled_at": z(self.loyalty_enabled_at),
                        "purchased_after": PURCHASED_AFTER, "points_per_dollar": 1},
        }


@dataclass
class RunRecord:
    run_id: str
    now: datetime
    day: date
    crashed: list[str] = field(default_factory=list)
    send_from: datetime | None = None
    send_to: datetime | None = None
    optin: Any = None
    new_texts: set[str] = field(default_factory=set)


class Harness:
    """One history: the fake's world, the warehouse, the reference, and what ran when."""

    def __init__(self, wh, settings: Settings | None = None, mapped: set[tuple[str, str]] | None = None):
        self.wh = wh
        self.cfg = settings or Settings()
        self.t = START
        self.last_event = START - timedelta(minutes=1)
        self.fake = FakeTrident1(_accounts(), clock=START)
        self.gateway = FakeGateway(adapter.GATEWAY_TOKEN, START)
        self.session = session_for({adapter.TRIDENT1_DOMAIN: self.fake, adapter.GATEWAY_HOST: self.gateway})
        self.mapped: set[tuple[str, str]] = set(MAPPABLE if mapped is None else mapped)
        self.typos: set[tuple[str, str]] = set()
        self.ref = Reference(CATALOGUE)
        self.refunded: dict[tuple[str, str], Decimal] = {}
        self.sales: list[tuple[str, str]] = []
        self._ids = itertools.count(1)
        self.runs: list[RunRecord] = []
        self.ledger_before: dict[str, tuple] = {}
        self.replies: list[tuple[str, str, datetime]] = []  # phone, body, received_at
        self.last_run_args: dict[str, Any] | None = None
        #: Something happened since the last run (an event, a mapping change, a late mutation).
        self.dirty = True

    # ------------------------------------------------------------------ history
    def tick(self, minutes: int) -> datetime:
        self.t = max(self.t, self.last_event) + timedelta(minutes=max(1, minutes))
        self.last_event = self.t
        self.dirty = True
        return self.t

    def customer(self, name: str, cid: str) -> dict:
        person, phone, email = CUSTOMERS[(name, cid)]
        return {"id": cid, "first_name": person.title(), "last_name": "Model", "phone": phone, "email": email,
                "birth_date": None, "created_at": z(START - timedelta(days=300))}

    def sell(self, place: tuple[str, str], who: int = 0, lines: list[tuple[str, str, bool]] | None = None,
             status: str = "completed", minutes: int = 5) -> tuple[str, str]:
        """Ring a sale; ``who`` 0 is anonymous, else a customer of that account (modulo)."""
        name, loc = place
        customers = CUSTOMERS_OF[name]
        cust = None if who == 0 else self.customer(name, customers[(who - 1) % len(customers)])
        at = self.tick(minutes)
        sid = f"S-{next(self._ids):03d}"
        sale = build_sale(sale_id=sid, location=_location(name, loc), at=at, lines=lines or [("1", "10.00", False)],
                          customer=cust, status=status)
        self.fake.put(name, "sales", sale)
        self.sales.append((name, sid))
        return name, sid

    def _sale(self, key: tuple[str, str]) -> dict:
        return self.fake.accounts[key[0]].sales[key[1]]

    def _bump(self, key: tuple[str, str], status: str, at: datetime) -> None:
        sale = dict(self._sale(key), status=status, updated_at=z(at))
        self.fake.put(key[0], "sales", sale)

    def complete(self, key: tuple[str, str], minutes: int = 5, at: datetime | None = None) -> bool:
        """An ``open`` (invalid) sale is completed: its newer version is valid."""
        if self._sale(key)["status"] != "open":
            return False
        self._bump(key, "completed", at or self.tick(minutes))
        return True

    def void(self, key: tuple[str, str], minutes: int = 5, at: datetime | None = None) -> bool:
        if self._sale(key)["status"] != "completed" or self.refunded.get(key):
            return False
        self._bump(key, "voided", at or self.tick(minutes))
        return True

    def refund(self, key: tuple[str, str], full: bool = True, minutes: int = 5, at: datetime | None = None) -> bool:
        """Refund what is left (``full``) or half of it; the sale's status and updated_at move."""
        sale = self._sale(key)
        if sale["status"] not in ("completed", "partially_refunded"):
            return False
        done = self.refunded.get(key, Decimal(0))
        left = eligible(sale) - done
        amount = left if full else (left / 2).quantize(Decimal("0.01"))
        if amount <= 0 or amount >= left:
            amount = left
        at = at or self.tick(minutes)
        name = key[0]
        refund = build_refund(refund_id=f"R-{next(self._ids):03d}", sale=sale,
                              location=_location(name, sale["location_id"]), at=at, amount=amount)
        self.fake.put(name, "refunds", refund)
        self.refunded[key] = done + amount
        self._bump(key, "refunded" if done + amount >= eligible(sale) else "partially_refunded", at)
        return True

    def touch_customer(self, cust: tuple[str, str], minutes: int = 5) -> None:
        """A profile edited at the counter: listed again by /customers."""
        at = self.tick(minutes)
        self.fake.put(cust[0], "customers", dict(self.customer(*cust), updated_at=z(at)))

    def change_while_paged(self, key: tuple[str, str], kind: str, at_request: int) -> None:
        """During the next run, just before the sales listing's ``at_request``-th page, the sale
        changes (a version stamped inside the window: listed again later, in its new version)."""
        def apply() -> None:
            at = self.last_event + timedelta(minutes=1)
            done = {"void": self.void, "refund": self.refund, "complete": self.complete}[kind](key, at=at)
            if done:
                self.last_event = at
        self.fake.during_listing(key[0], "sales", at_request, apply)
        self.dirty = True

    def advance(self, hours: int) -> None:
        self.t += timedelta(hours=hours)

    def map(self, place: tuple[str, str]) -> None:
        self.mapped.add(place)
        self.dirty = True

    def unmap(self, place: tuple[str, str]) -> None:
        self.mapped.discard(place)
        self.dirty = True

    def typo(self, place: tuple[str, str]) -> None:
        """The admin retypes the mapping as LOC-04: LOC-4 is unmapped, LOC-04 maps nothing real."""
        self.mapped.discard(place)
        self.typos.add(place)
        self.dirty = True

    def fix(self, place: tuple[str, str]) -> None:
        self.typos.discard(place)
        self.mapped.add(place)
        self.dirty = True

    def reply(self, person: str, body: str, minutes: int = 5) -> None:
        at = self.tick(minutes)
        phone = PERSONS[person].phone
        self.gateway.reply(phone, body, at)
        self.replies.append((phone, body, at))

    # ------------------------------------------------------------------ settings
    def mappings(self) -> list[dict[str, str]]:
        out = [{"credential": credential(n), "location_id": loc, "store_id": HOME_STORE[(n, loc)]}
               for n, loc in sorted(self.mapped)]
        out += [{"credential": credential(n), "location_id": typo_of(loc), "store_id": HOME_STORE[(n, loc)]}
                for n, loc in sorted(self.typos)]
        return out

    def settings(self):
        return adapter.make_settings(self.mappings(), **self.cfg.integration())

    # ------------------------------------------------------------------ runs
    def run(self, days_back: int = 0, chunk: int = 5, page_limit: int = 3, seed: int = 0,
            crash_at: int | None = None, delay_minutes: int = 0, faults: bool = False) -> RunRecord:
        """One daily run at the current time: prepare, ingest each credential, loyalty, opt-in."""
        self.last_run_args = {"days_back": days_back, "chunk": chunk, "page_limit": page_limit, "seed": seed,
                              "crash_at": crash_at, "delay_minutes": delay_minutes, "faults": faults}
        # The run starts on a whole minute, after everything so far (paging mutations need room).
        self.t = max(self.t, self.last_event + timedelta(minutes=10)).replace(second=0, microsecond=0)
        now = self.t
        day = now.date() - timedelta(days=days_back)
        rec = RunRecord(f"run-{len(self.runs) + 1}", now, day)
        self.runs.append(rec)
        self.fake.clock = now
        settings = self.settings()
        adapter.prepare(self.wh, settings, now)
        # What a crashed attempt committed is whatever its first chunks held: the reference knows
        # it only because the retry is served the same world. So in a run that may crash, the
        # mutations "while paged" of that credential wait until the run is over.
        crashing = next(iter(LOCATIONS)) if crash_at else None
        stashed = [k for k in self.fake.hooks if k.account == crashing]
        self.fake.hooks = [k for k in self.fake.hooks if k.account != crashing]
        for i, name in enumerate(LOCATIONS):
            self.fake.start_run(seed * 7 + i, fault_rate=0.15 if faults else 0.0)
            try:
                with crash_on_chunk(crash_at if name == crashing else None):
                    self._ingest(name, settings, rec, page_limit, chunk)
            except InjectedCrash:
                rec.crashed.append(name)
                continue
            self._reference(name)
        if rec.crashed:  # loyalty on what committed, then the retry of the crashed ingest converges
            adapter.loyalty(self.wh, settings, rec.run_id, now)
            for i, name in enumerate(rec.crashed):
                self.fake.start_run(seed * 7 + 100 + i)
                self._ingest(name, settings, rec, page_limit, chunk)
                self._reference(name)
        self.fake.hooks += stashed
        self.dirty = self.fake.flush_hooks() > 0
        adapter.loyalty(self.wh, settings, rec.run_id, now)
        self.gateway.now = rec.send_from = now + timedelta(minutes=delay_minutes)
        before = set(self.gateway.messages)
        rec.optin = adapter.opt_in(self.wh, adapter.gateway_client(self.session), settings, rec.run_id, now,
                                   clock=self.gateway.clock)
        rec.send_to = self.gateway.now
        rec.new_texts = set(self.gateway.messages) - before
        self.t = max(self.t, self.gateway.now)
        return rec

    def _ingest(self, name: str, settings, rec: RunRecord, page_limit: int, chunk: int) -> None:
        client = adapter.trident1_client(name, self.session, page_limit)
        adapter.ingest(self.wh, client, settings, credential(name), rec.run_id, rec.day, rec.now, chunk)

    def _reference(self, name: str) -> None:
        served = {kind: self.fake.served_records(name, kind) for kind in ("sales", "refunds", "customers")}
        mapped = {loc for n, loc in self.mapped if n == name}
        self.ref.ingest(name, mapped, served)
