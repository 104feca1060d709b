"""Persona resolution against a warehouse (rules 12, 14): settling in SQL changes nothing.

``resolve_personas`` settles in SQL the candidates already linked to the persona they would
resolve to, and resolves only the others in memory. Here random chunks of customers that come
back changed or unchanged, share phones and emails and lack names are resolved by it and, from
the warehouse as it stood, by ``PersonaIndex`` fed every matching persona and link (what
resolution did before settling): same personas for every candidate, same new personas, fills,
links and merge count.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import text

from trident1_aiq.ingest.normalize import CustomerRow
from trident1_aiq.ingest.personas import NAME_FIELDS, PersonaIndex, Resolution, resolve_personas

from ..factories import columns_reversed

pytestmark = pytest.mark.integration
T0 = datetime(2026, 11, 25, tzinfo=UTC)


def in_memory(wh, candidates: list[CustomerRow]) -> Resolution:
    """Every candidate through the index, fed the personas sharing a phone or an email with a
    candidate and the links of the candidates' customer ids."""
    with wh.begin() as conn:
        personas = conn.execute(text(f"SELECT persona_id, phone, email, {', '.join(NAME_FIELDS)} FROM personas")).all()
        links = conn.execute(text("SELECT credential, customer_id, persona_id FROM persona_sources")).all()
    phones = {c.phone for c in candidates if c.phone}
    emails = {c.email for c in candidates if c.email}
    sources = {(c.credential, c.customer_id) for c in candidates if c.customer_id}
    by_id = {p.persona_id: p for p in personas}
    index = PersonaIndex()

    def add(p, source=None):
        index.add_existing(p.persona_id, p.phone, p.email, source,
                           {f for f in NAME_FIELDS if getattr(p, f) is not None})

    for p in personas:
        if p.phone in phones or p.email in emails:
            add(p)
    for credential, customer_id, persona_id in links:
        if (credential, customer_id) in sources:
            add(by_id[persona_id], (credential, customer_id))
    return index.resolve(candidates)


def chunk(rng: random.Random, profiles: dict, size: int) -> list[CustomerRow]:
    """Customers of two credentials, most coming back as first seen, some changed or anonymous."""
    out = []
    for _ in range(size):
        credential = rng.choice(("trident1_acme", "trident1_chain"))
        cid = f"C-{rng.randrange(12)}" if rng.random() > 0.05 else None
        if cid and (credential, cid) in profiles and rng.random() < 0.7:
            contact = profiles[credential, cid]
        else:
            contact = (f"+130355501{rng.randrange(10):02d}" if rng.random() < 0.75 else None,
                       f"c{rng.randrange(10)}@example.com" if rng.random() < 0.7 else None,
                       rng.choice(("Ana", "Bo", None)), rng.choice(("Lee", None)), rng.choice((date(1990, 1, 1), None)))
            if cid and rng.random() < 0.8:
                profiles[credential, cid] = contact
        seen = T0 + timedelta(minutes=rng.choice((0, 0, 1, 2, 5))) if rng.random() > 0.03 else None
        out.append(CustomerRow(credential, cid, *contact, seen))
    return out


@pytest.mark.parametrize("columns", ["as_selected", "reversed"])
def test_rule14_settling_in_sql_resolves_as_the_index_alone(warehouse, monkeypatch, columns):
    """``reversed``: every row the warehouse gives comes with its columns in reverse order by position
    (resolution reads them by name)."""
    if columns == "reversed":
        columns_reversed(monkeypatch)
    resolved = []  # how many candidates each call of the index is given
    resolve = PersonaIndex.resolve
    monkeypatch.setattr(PersonaIndex, "resolve", lambda self, cands: resolved.append(len(cands)) or resolve(self, cands))
    total = 0
    for seed in range(40):
        rng = random.Random(seed)
        profiles: dict = {}
        with warehouse.begin() as conn:
            conn.execute(text("DELETE FROM persona_sources"))
            conn.execute(text("DELETE FROM personas"))
        for step in range(rng.randint(1, 6)):
            candidates = chunk(rng, profiles, rng.randint(0, 30))
            expected = in_memory(warehouse, candidates)
            total += len(candidates)
            with warehouse.begin() as conn:
                got = resolve_personas(warehouse, conn, candidates, T0 + timedelta(hours=step))
            assert got.persona_of == expected.persona_of, (seed, step)
            assert sorted(p.persona_id for p in got.created) == sorted(p.persona_id for p in expected.created)
            assert sorted(got.new_links) == sorted(expected.new_links)
            assert got.merged == expected.merged
            assert ({p.persona_id: p.fills for p in got.filled if p.fills}
                    == {p.persona_id: p.fills for p in expected.filled if p.fills})
    in_sql = total - (sum(resolved) - total)  # the reference gives the index every candidate
    assert total > 2000 and in_sql > total // 10, (total, in_sql)  # both paths were taken, often


@pytest.mark.postgres
@pytest.mark.parametrize("warehouse", ["postgres"], indirect=True)
def test_rule14_persona_locks_are_scoped_to_identifiers_not_global(warehouse):
    """Issue 18: while one load's persona transaction is open, another credential's load of
    other people resolves at once (no global lock), and one of the same phone waits for it,
    then finds its persona instead of creating a second one."""
    import threading

    wh = warehouse
    ana = CustomerRow("trident1_acme", "C-1", "+13035550101", "ana@example.com", "Ana", None, None, T0)
    bo = CustomerRow("trident1_bolt", "C-7", "+13035550177", "bo@example.com", "Bo", None, None, T0)
    ana_elsewhere = CustomerRow("trident1_bolt", "C-8", "+13035550101", None, None, "Lee", None, T0)
    done: dict[str, Resolution] = {}

    def resolve(name, cand):
        with wh.begin() as conn:
            conn.exec_driver_sql("SET LOCAL lock_timeout = '20s'")
            done[name] = resolve_personas(wh, conn, [cand], T0)

    with wh.begin() as first:  # acme's chunk: resolved, not yet committed
        held = resolve_personas(wh, first, [ana], T0)
        other = threading.Thread(target=resolve, args=("bo", bo))
        other.start()
        other.join(timeout=15)
        assert not other.is_alive(), "a load of other people waited for acme's persona transaction"
        same = threading.Thread(target=resolve, args=("ana_elsewhere", ana_elsewhere))
        same.start()
        same.join(timeout=1.5)
        assert same.is_alive(), "a load of the same phone did not wait"
    same.join(timeout=15)
    assert not same.is_alive()
    assert done["ana_elsewhere"].persona_of[0] == held.persona_of[0] and not done["ana_elsewhere"].created
    with wh.begin() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM personas")).scalar() == 2
        assert conn.execute(text("SELECT last_name FROM personas WHERE phone = '+13035550101'")).scalar() == "Lee"
