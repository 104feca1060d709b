"""Persona resolution in memory (rules 12, 14)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from trident1_aiq.ingest.normalize import CustomerRow
from trident1_aiq.ingest.personas import PersonaIndex, persona_id_for

pytestmark = pytest.mark.unit
T0 = datetime(2026, 11, 25, tzinfo=UTC)


def cand(cid, phone=None, email=None, first="Ana", cred="trident1_acme", minutes=0):
    return CustomerRow(cred, cid, phone, email, first, "Lee", None, T0 + timedelta(minutes=minutes))


def test_rule14_same_phone_two_customer_ids_is_one_persona():
    res = PersonaIndex().resolve([cand("C-1", "+13035550101"), cand("C-2", "+13035550101", minutes=5)])
    assert res.persona_of[0] == res.persona_of[1]
    assert len(res.created) == 1 and res.merged == 1


def test_rule14_merges_on_email_when_no_phone_matches():
    res = PersonaIndex().resolve([cand("C-1", None, "a@b.co"), cand("C-9", "+13035550101", "a@b.co", minutes=1)])
    assert res.persona_of[0] == res.persona_of[1]
    assert res.created[0].phone == "+13035550101"  # the persona gains the phone it lacked


def test_rule14_phone_wins_over_email():
    index = PersonaIndex()
    index.add_existing("p_phone", "+13035550101", None)
    index.add_existing("p_email", None, "a@b.co")
    res = index.resolve([cand("C-1", "+13035550101", "a@b.co")])
    assert res.persona_of[0] == "p_phone"


def test_rule14_names_alone_never_merge():
    res = PersonaIndex().resolve([cand("C-1", "+13035550101", first="Ana"),
                                  cand("C-2", "+13035550199", first="Ana", minutes=1)])
    assert res.persona_of[0] != res.persona_of[1]


def test_rule14_same_person_at_two_credentials():
    res = PersonaIndex().resolve([cand("C-1", "+13035550101", cred="trident1_acme"),
                                  cand("C-1", "+13035550101", cred="trident1_bolt", minutes=1)])
    assert res.persona_of[0] == res.persona_of[1] and len(res.new_links) == 2


def test_rule12_no_usable_contact_no_persona_but_known_id_links():
    index = PersonaIndex()
    index.add_existing("p_1", "+13035550101", None, ("trident1_acme", "C-1"))
    res = index.resolve([cand("C-1"), cand("C-2")])
    assert res.persona_of == {0: "p_1"}  # C-1 is known; C-2 has nothing usable
    assert not res.created


def test_persona_ids_are_deterministic():
    a = PersonaIndex().resolve([cand("C-1", "+13035550101")]).persona_of[0]
    b = PersonaIndex().resolve([cand("C-7", "+13035550101", "x@y.co")]).persona_of[0]
    assert a == b == persona_id_for("+13035550101", None)


def test_earliest_seen_candidate_founds_the_persona_whatever_the_order():
    late, early = cand("C-2", None, "a@b.co", minutes=9), cand("C-1", "+13035550101", "a@b.co", minutes=1)
    assert PersonaIndex().resolve([late, early]).created[0].persona_id == persona_id_for("+13035550101", None)


def test_rule14_a_known_persona_is_filled_only_with_what_it_lacks():
    """Rerunning a day must not rewrite every matched persona (issue 6: reruns skip unchanged rows)."""
    index = PersonaIndex()
    index.add_existing("p_full", "+13035550101", "a@b.co", ("trident1_acme", "C-1"),
                       {"first_name", "last_name", "birth_date"})
    index.add_existing("p_part", "+13035550102", None, ("trident1_acme", "C-2"), {"first_name"})
    res = index.resolve([cand("C-1", "+13035550101", "a@b.co"), cand("C-2", "+13035550102", "c@d.co")])
    fills = {p.persona_id: p.fills for p in res.filled if p.fills}
    assert fills == {"p_part": {"email": "c@d.co", "last_name": "Lee"}}
