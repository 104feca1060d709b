"""Persona resolution (rules 12–15): merge on phone, then email; names never merge.

``PersonaIndex`` is the pure in-memory algorithm (unit-tested on its own);
``resolve_personas`` feeds it the matching personas from the warehouse and writes
back what it decided. Persona ids are derived from the first identifier seen
(uuid5 of the phone, else of the email), so a crashed and rerun load creates the
same persona rather than a second one.
"""

from __future__ import annotations

import uuid
import zlib
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.engine import Connection

from trident1_aiq.ingest.normalize import CustomerRow
from trident1_aiq.warehouse import Warehouse

NAME_FIELDS = ("first_name", "last_name", "birth_date")
NAMESPACE = uuid.UUID("0b7d4c1e-6a59-4e2b-9d8e-2f0c1a7e5b31")


def persona_id_for(phone: str | None, email: str | None) -> str:
    key = f"phone:{phone}" if phone else f"email:{email}"
    return "p_" + uuid.uuid5(NAMESPACE, key).hex[:24]


@dataclass
class PersonaRecord:
    persona_id: str
    phone: str | None
    email: str | None
    existing: bool
    sources: set[tuple[str, str]] = field(default_factory=set)
    fills: dict[str, object] = field(default_factory=dict)
    first: CustomerRow | None = None
    known: set[str] = field(default_factory=set)  # name fields the warehouse already has


@dataclass
class Resolution:
    persona_of: dict[int, str]  # candidate index → persona id
    created: list[PersonaRecord]
    filled: list[PersonaRecord]
    new_links: list[tuple[str, str, str]]  # credential, customer id, persona id
    merged: int


class PersonaIndex:
    def __init__(self) -> None:
        self.by_phone: dict[str, PersonaRecord] = {}
        self.by_email: dict[str, PersonaRecord] = {}
        self.by_source: dict[tuple[str, str], PersonaRecord] = {}
        self.records: dict[str, PersonaRecord] = {}

    def add_existing(self, persona_id: str, phone: str | None, email: str | None,
                     source: tuple[str, str] | None = None, known: set[str] | None = None) -> None:
        rec = self.records.get(persona_id)
        if rec is None:
            rec = self.records[persona_id] = PersonaRecord(persona_id, phone, email, existing=True,
                                                           known=set(known or ()))
            if phone:
                self.by_phone[phone] = rec
            if email:
                self.by_email[email] = rec
        if source:
            rec.sources.add(source)
            self.by_source[source] = rec

    def add_source(self, persona_id: str, source: tuple[str, str]) -> None:
        """A customer already linked to a persona of the index (a settled candidate's link)."""
        rec = self.records.get(persona_id)
        if rec is not None:
            rec.sources.add(source)
            self.by_source[source] = rec

    def resolve(self, candidates: list[CustomerRow]) -> Resolution:
        persona_of: dict[int, str] = {}
        created: dict[str, PersonaRecord] = {}
        filled: dict[str, PersonaRecord] = {}
        new_links: list[tuple[str, str, str]] = []
        merged = 0
        # Deterministic: the earliest-seen candidate founds a persona, whatever the page order.
        order = sorted(range(len(candidates)), key=lambda i: (str(candidates[i].seen_at or ""), i))
        for i in order:
            c = candidates[i]
            source = (c.credential, c.customer_id) if c.customer_id else None
            rec = (
                (self.by_phone.get(c.phone) if c.phone else None)
                or (self.by_email.get(c.email) if c.email else None)
                or (self.by_source.get(source) if source else None)
            )
            if rec is None:
                if not c.usable:  # rule 12: no usable phone or email, no persona
                    continue
                pid = persona_id_for(c.phone, c.email)
                rec = self.records.get(pid) or PersonaRecord(pid, c.phone, c.email, existing=False, first=c)
                self.records[pid] = rec
                created[pid] = rec
            else:
                self._fill(rec, c)
                if rec.existing and rec.persona_id not in created:
                    filled[rec.persona_id] = rec
            self._register(rec)
            if source and source not in rec.sources:
                if rec.sources:
                    merged += 1  # another customer id joins a persona known under a different one
                rec.sources.add(source)
                self.by_source[source] = rec
                new_links.append((source[0], source[1], rec.persona_id))
            persona_of[i] = rec.persona_id
        return Resolution(persona_of, list(created.values()), list(filled.values()), new_links, merged)

    def _fill(self, rec: PersonaRecord, c: CustomerRow) -> None:
        if c.phone and not rec.phone and c.phone not in self.by_phone:
            rec.phone = c.phone
            rec.fills["phone"] = c.phone
        if c.email and not rec.email and c.email not in self.by_email:
            rec.email = c.email
            rec.fills["email"] = c.email
        for name in NAME_FIELDS:  # only what the persona lacks: a known persona costs no UPDATE
            value = getattr(c, name)
            if value is not None and name not in rec.known:
                rec.fills.setdefault(name, value)

    def _register(self, rec: PersonaRecord) -> None:
        if rec.phone:
            self.by_phone.setdefault(rec.phone, rec)
        if rec.email:
            self.by_email.setdefault(rec.email, rec)


#: What a staged candidate carries: its Trident1 customer, its contact, and which name fields
#: it brings (whether they fill anything depends only on the persona lacking them).
CandidateKey = tuple[str, str | None, str | None, str | None, bool, bool, bool]
STAGED = ("credential", "customer_id", "phone", "email", "has_first_name", "has_last_name", "has_birth_date")


def candidate_keys(candidates: list[CustomerRow]) -> tuple[list[CandidateKey], list[int | None]]:
    """The distinct keys of the candidates, and each candidate's key number (None: nothing to match).

    A sale chunk carries the same customer once per sale: the warehouse is asked once per key.
    A candidate with no phone, no email and no customer id matches nothing and founds nothing.
    """
    keys: dict[CandidateKey, int] = {}
    key_of: list[int | None] = []
    for c in candidates:
        if not (c.phone or c.email or c.customer_id):
            key_of.append(None)
            continue
        key = (c.credential, c.customer_id, c.phone, c.email,
               c.first_name is not None, c.last_name is not None, c.birth_date is not None)
        key_of.append(keys.setdefault(key, len(keys)))
    return list(keys), key_of


#: Lock buckets of identifiers (phones, e-mails, Trident1 customers) on PostgreSQL, and the most
#: one resolution takes: past that it takes turns with every other one (``personas/lock``), so
#: that no transaction holds more advisory locks than the server's lock table has room for.
KEY_BUCKETS = 1 << 16
MAX_KEY_LOCKS = 256


def identifier_buckets(keys: list[CandidateKey]) -> list[int]:
    """The sorted lock buckets of the candidates' phones, e-mails and (credential, customer id)."""
    idents = set()
    for credential, customer_id, phone, email, *_ in keys:
        idents.update(x for x in (f"p:{phone}" if phone else None, f"e:{email}" if email else None,
                                  f"c:{credential}\x1f{customer_id}" if customer_id else None) if x)
    return sorted({zlib.crc32(x.encode()) % KEY_BUCKETS for x in idents})


def lock_identifiers(wh: Warehouse, conn: Connection, keys: list[CandidateKey]) -> bool:
    """Lock what the open candidates may create, fill or link (rule 14); True when scoped to
    their identifiers, False when the resolution takes turns with all others (too many)."""
    buckets = identifier_buckets(keys)
    if len(buckets) > MAX_KEY_LOCKS:
        wh.run(conn, "personas/lock")
        return False
    wh.run(conn, "personas/lock_shared")
    wh.run(conn, "personas/lock_keys", {"buckets": buckets})
    return True


def resolve_personas(wh: Warehouse, conn: Connection, candidates: list[CustomerRow], now: datetime) -> Resolution:
    """Resolve candidates against the warehouse and write personas and links.

    Most candidates are customers met before, unchanged: their (credential, customer id) is
    already linked to the persona their phone (else email) finds, and they bring nothing the
    persona lacks. Such a candidate is *settled* in SQL (``personas/settle``): whatever else the
    chunk holds, ``PersonaIndex.resolve`` would give it that persona and change nothing — the
    persona's phone and email are unique and never change, so no other candidate can take the
    lookup away from it. Only the other candidates are matched and resolved in memory, in
    their original order (the earliest seen still founds); the links of settled candidates are
    handed to the index, so that it counts merges as if it had seen them.
    """
    keys, key_of = candidate_keys(candidates)
    if not keys:
        return Resolution({}, [], [], [], 0)
    wh.run(conn, "personas/stage_candidates")
    wh.bulk(conn, "personas/insert_candidate",
            [dict(zip(("k", *STAGED), (k, *key), strict=True)) for k, key in enumerate(keys)])
    # Settling only reads what never changes once written (a link, a persona's phone, an e-mail or
    # name it already has): no lock is needed for it.
    settled: dict[int, str] = {r.k: r.persona_id for r in wh.run(conn, "personas/settle")}
    persona_of = {i: settled[k] for i, k in enumerate(key_of) if k in settled}
    open_ = [i for i, k in enumerate(key_of) if k is not None and k not in settled]
    if not open_:
        return Resolution(persona_of, [], [], [], 0)
    scoped = lock_identifiers(wh, conn, [keys[k] for k in sorted({key_of[i] for i in open_})])
    wh.run(conn, "personas/analyze_candidates")
    matched = list(wh.run(conn, "personas/matching").mappings())
    if scoped and matched:  # wait for whoever is filling these personas, then read them as they are
        wh.run(conn, "personas/lock_rows", {"ids": sorted({row["persona_id"] for row in matched})})
        matched = list(wh.run(conn, "personas/matching").mappings())
    index = PersonaIndex()
    for r in matched:
        index.add_existing(r["persona_id"], r["phone"], r["email"],
                           (r["credential"], r["customer_id"]) if r["credential"] else None,
                           {f for f in NAME_FIELDS if r[f] is not None})
    for k, pid in settled.items():
        index.add_source(pid, (keys[k][0], keys[k][1]))
    res = index.resolve([candidates[i] for i in open_])
    res.persona_of = persona_of | {open_[j]: pid for j, pid in res.persona_of.items()}
    _write(wh, conn, res, now)
    return res


def _write(wh: Warehouse, conn: Connection, res: Resolution, now: datetime) -> None:
    """Write what the index decided: new personas, fills of what existing ones lack, new links."""
    if res.created:
        wh.bulk(conn, "personas/insert_persona", [
            {"persona_id": p.persona_id, "phone": p.phone, "email": p.email,
             "first_name": p.first.first_name if p.first else None,
             "last_name": p.first.last_name if p.first else None,
             "birth_date": p.first.birth_date if p.first else None, "created_at": now}
            for p in res.created
        ])
    fills = [
        {"persona_id": p.persona_id, "phone": p.fills.get("phone"), "email": p.fills.get("email"),
         "first_name": p.fills.get("first_name"), "last_name": p.fills.get("last_name"),
         "birth_date": p.fills.get("birth_date"), "now": now}
        for p in res.filled if p.fills
    ]
    if fills:
        wh.run(conn, "personas/fill_persona", fills)
    if res.new_links:
        wh.bulk(conn, "personas/link_source", [
            {"credential": c, "customer_id": cid, "persona_id": pid, "first_seen_at": now}
            for c, cid, pid in res.new_links
        ])
