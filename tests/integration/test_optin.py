"""SMS double opt-in against the sandbox gateway, on both databases (rules 2, 3, 22–26).

Every "nothing was sent" assertion reads the gateway's own log of what it received. The pure
rules (reply keywords, send hours, message text) are unit tests: tests/unit/test_optin_rules.py.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import requests

from trident1_aiq.ingest.pipeline import prepare_run
from trident1_aiq.messaging import optin as optin_module
from trident1_aiq.messaging.optin import run_opt_in
from trident1_aiq.messaging.sms import GatewayClient
from trident1_aiq.settings.config import default_variable_text, demo_settings, gateway_credential

pytestmark = pytest.mark.integration
ENABLED = datetime(2026, 11, 10, 15, 0, tzinfo=UTC)
MORNING = datetime(2026, 11, 20, 17, 0, tzinfo=UTC)  # 10:00 in Denver
ANA, BEN = "+13035550101", "+13035550102"


def settings_with(**over):
    integ = json.loads(default_variable_text("trident1_integration"))
    integ["marketing"] = {"enabled": True, "enabled_at": ENABLED.isoformat(), "purchased_after": "2026-11-01",
                          "max_requests": 2}
    integ.update(over)
    return demo_settings({"trident1_integration": json.dumps(integ)})


class World:
    def __init__(self, wh, server):
        self.wh, self.server = wh, server
        prepare_run(wh, settings_with(), MORNING)
        self.gateway = GatewayClient(gateway_credential("aiq_sms_default", host=f"{server.host}:{server.port}",
                                                        schema="http", port=None, password="sandbox-sms-token"))

    def person(self, pid, phone, store="den-downtown", sold=datetime(2026, 11, 15, 18, tzinfo=UTC), status="completed"):
        with self.wh.begin() as conn:
            self.wh.execute(conn, "INSERT INTO personas (persona_id, phone, sourced_from, loyalty_member, created_at, "
                                  "updated_at) VALUES (:p, :ph, 'Trident 1', FALSE, :t, :t)",
                            {"p": pid, "ph": phone, "t": sold})
            self.wh.execute(conn, "INSERT INTO sales (credential, sale_id, store_id, location_id, persona_id, status, "
                                  "sold_at, business_date, subtotal, discount_total, tax_total, total, updated_at, "
                                  "loaded_at, run_id) VALUES ('trident1_acme', :s, :st, 'LOC-1', :p, :status, :t, "
                                  ":d, :a, 0, 0, :a, :t, :t, 'seed')",
                            {"s": f"S-{pid}-{sold:%H%M}", "st": store, "p": pid, "t": sold, "d": sold.date(),
                             "a": Decimal("10.00"), "status": status})

    def run(self, now, settings=None, run_id="run", sent_at=None):
        """A run that starts at ``now``; its sends happen at ``sent_at`` (default: ``now``)."""
        self.server.state.now = now
        at = sent_at or now
        return run_opt_in(self.wh, self.gateway, settings or settings_with(), run_id, clock=lambda: at)

    def reply(self, phone, body, at):
        requests.post(f"{self.server.url}/_sandbox/replies", timeout=5,
                      json={"from": phone, "body": body, "received_at": at.strftime("%Y-%m-%dT%H:%M:%SZ")})

    def texts(self, phone=None):
        """Messages the gateway really sent (one per idempotency key)."""
        return [m for m in self.server.state.messages.values() if phone is None or m["to"] == phone]

    def posts(self):
        return self.server.state.message_log

    def requests(self):
        with self.wh.begin() as conn:
            return [dict(r._mapping) for r in self.wh.execute(
                conn, "SELECT * FROM opt_in_requests ORDER BY persona_id, attempt")]


@pytest.fixture
def world(warehouse, sandbox):
    return World(warehouse, sandbox)


def test_rule22_first_request_sent_with_the_store_and_its_disclaimer(world):
    world.person("p_ana", ANA)
    counts = world.run(MORNING)
    assert counts.sent == 1 and counts.created == 1
    (text,) = world.texts()
    assert text["to"] == ANA and "Mile High Downtown" in text["body"] and "Must be 21+." in text["body"]
    (req,) = world.requests()
    assert (req["status"], req["attempt"], req["message_id"]) == ("sent", 1, text["id"])


def test_rule24_judged_when_the_text_is_sent_not_when_the_run_started(world):
    """A run that starts at 10:00 in Denver but reaches the send at 21:30 (a retry, a slow day)
    sends nothing: the request stays pending for the next run."""
    world.person("p_ana", ANA)
    late = MORNING.replace(hour=4) + timedelta(days=1, minutes=30)  # 21:30 in Denver
    counts = world.run(MORNING, sent_at=late)
    assert world.posts() == [] and counts.deferred == 1 and counts.sent == 0
    assert [r["status"] for r in world.requests()] == ["pending"]
    assert world.run(late + timedelta(hours=12)).sent == 1  # 09:30 the next morning


def test_rule24_a_run_started_at_night_sends_in_the_morning(world):
    """The reverse (``airflow dags test`` starts a run at its logical date, 00:00Z = 17:00 in
    Denver): what counts is the clock at the send."""
    world.person("p_ana", ANA)
    night = datetime(2026, 11, 20, 8, 11, tzinfo=UTC)  # 01:11 in Denver
    assert world.run(MORNING, sent_at=night).sent == 0 and world.posts() == []


def test_rule3_gate_judged_at_the_send(world):
    world.person("p_ana", ANA)
    counts = world.run(MORNING, sent_at=ENABLED + timedelta(hours=23))
    assert world.posts() == [] and counts.sent == 0 and "rule 3" in counts.notes[0]


def test_rule3_nothing_before_enabled_at_plus_24_hours(world):
    world.person("p_ana", ANA)
    counts = world.run(ENABLED + timedelta(hours=23, minutes=59))
    assert world.posts() == [] and world.requests() == [] and "rule 3" in counts.notes[0]
    assert world.run(ENABLED + timedelta(hours=24, minutes=1)).sent == 1  # 08:01 in Denver


def test_rule2_nothing_when_not_age_compliant(world):
    world.person("p_ana", ANA)
    counts = world.run(MORNING, settings=settings_with(age_compliant=False))
    assert world.posts() == [] and world.requests() == [] and "age_compliant" in counts.notes[0]


def test_rule22_no_phone_no_request(world):
    with world.wh.begin() as conn:
        world.wh.execute(conn, "INSERT INTO personas (persona_id, email, sourced_from, loyalty_member, created_at, "
                               "updated_at) VALUES ('p_mail', 'a@b.co', 'Trident 1', FALSE, :t, :t)", {"t": MORNING})
    world.run(MORNING)
    assert world.posts() == [] and world.requests() == []


def test_rule22_purchase_before_purchased_after_is_not_eligible(world):
    world.person("p_old", ANA, sold=datetime(2026, 10, 20, 18, tzinfo=UTC))
    world.run(MORNING)
    assert world.posts() == []



@pytest.mark.parametrize(("status", "asked"), [
    ("completed", True), ("refunded", True), ("partially_refunded", True), ("voided", False)])
def test_rule22_each_status_of_the_only_purchase(world, status, asked):
    """A qualifying purchase (as in rule 4) is completed, refunded or partially refunded; a void is none."""
    world.person("p_ana", ANA, status=status)
    world.run(MORNING)
    assert len(world.texts()) == int(asked)

def test_rule23_rerun_and_retried_task_send_nothing_new(world):
    world.person("p_ana", ANA)
    world.run(MORNING, run_id="r1")
    world.run(MORNING, run_id="r1")  # a retried task
    world.run(MORNING + timedelta(hours=1), run_id="r2")  # a rerun
    assert len(world.texts()) == 1 and len(world.posts()) == 1


def test_rule23_crash_after_gateway_accept_before_warehouse_write_no_second_text(world, monkeypatch):
    world.person("p_ana", ANA)
    real = optin_module.record_sent

    def crash(*args, **kwargs):
        raise RuntimeError("worker killed after the gateway accepted")

    monkeypatch.setattr(optin_module, "record_sent", crash)
    with pytest.raises(RuntimeError):
        world.run(MORNING)
    assert world.requests()[0]["status"] == "pending"
    monkeypatch.setattr(optin_module, "record_sent", real)
    world.run(MORNING)
    assert len(world.texts(ANA)) == 1  # the gateway sent one text
    assert len(world.posts()) == 2  # the rerun asked again, with the same key
    assert world.requests()[0]["message_id"] == world.texts(ANA)[0]["id"]


@pytest.mark.parametrize(("utc", "sent"), [
    (datetime(2026, 11, 20, 14, 59, tzinfo=UTC), False),  # 07:59 Denver
    (datetime(2026, 11, 21, 4, 0, tzinfo=UTC), False),  # 21:00 Denver
    (datetime(2026, 11, 20, 15, 0, tzinfo=UTC), True),  # 08:00 Denver
])
def test_rule24_quiet_hours_defer_until_the_next_run(world, utc, sent):
    world.person("p_ana", ANA)
    counts = world.run(utc)
    assert (counts.sent, counts.deferred) == ((1, 0) if sent else (0, 1))
    if not sent:
        assert world.requests()[0]["status"] == "pending" and world.posts() == []
        assert world.run(MORNING).sent == 1  # the next run in hours sends it


def test_rule24_store_of_the_most_recent_sale(world):
    world.person("p_ana", ANA, store="den-downtown", sold=datetime(2026, 11, 14, 18, tzinfo=UTC))
    with world.wh.begin() as conn:
        world.wh.execute(conn, "INSERT INTO sales (credential, sale_id, store_id, location_id, persona_id, status, "
                               "sold_at, business_date, subtotal, discount_total, tax_total, total, updated_at, "
                               "loaded_at, run_id) VALUES ('trident1_acme', 'S-ny', 'nyc-soho', 'LOC-2', 'p_ana', "
                               "'completed', :t, :d, 5, 0, 0, 5, :t, :t, 'seed')",
                         {"t": datetime(2026, 11, 16, 18, tzinfo=UTC), "d": datetime(2026, 11, 16).date()})
    world.run(MORNING)
    assert world.requests()[0]["store_id"] == "nyc-soho" and "Empire SoHo" in world.texts()[0]["body"]


def test_rule25_yes_confirms_and_the_same_reply_twice_changes_nothing(world):
    world.person("p_ana", ANA)
    world.run(MORNING)
    world.reply(ANA, " Yes ", MORNING + timedelta(minutes=5))
    counts = world.run(MORNING + timedelta(hours=1))
    assert counts.confirmed == 1 and world.requests()[0]["status"] == "confirmed"
    again = world.run(MORNING + timedelta(hours=2))  # the gateway lists the reply again (since is inclusive)
    assert again.confirmed == 0 and again.replies == 0
    world.run(MORNING + timedelta(days=30))
    assert len(world.texts()) == 1  # a confirmed persona is never asked again


def test_rule25_stop_opts_out_forever_even_after_expiry(world):
    world.person("p_ana", ANA)
    world.run(MORNING)
    world.reply(ANA, "stop", MORNING + timedelta(minutes=1))
    world.run(MORNING + timedelta(hours=1))
    assert world.requests()[0]["status"] == "opted_out"
    for days in (8, 16, 30):
        world.run(MORNING + timedelta(days=days))
    assert len(world.texts(ANA)) == 1 and len(world.posts()) == 1
    # a number that texted STOP on its own, before any request, is never asked either
    world.reply(BEN, "STOP", MORNING + timedelta(days=31))
    world.run(MORNING + timedelta(days=31, hours=1))
    world.person("p_ben", BEN)
    world.run(MORNING + timedelta(days=32))
    assert len(world.posts()) == 1 and world.texts(BEN) == []


def test_rule23_second_attempt_only_after_expiry_never_a_third(world):
    world.person("p_ana", ANA)
    world.run(MORNING)
    world.run(MORNING + timedelta(days=6))  # not expired yet: nothing new
    assert len(world.texts()) == 1
    counts = world.run(MORNING + timedelta(days=7, minutes=1))
    assert counts.expired == 1 and counts.sent == 1
    assert [(r["attempt"], r["status"]) for r in world.requests()] == [(1, "expired"), (2, "sent")]
    world.run(MORNING + timedelta(days=15))
    world.run(MORNING + timedelta(days=30))
    assert len(world.texts()) == 2
    assert [(r["attempt"], r["status"]) for r in world.requests()] == [(1, "expired"), (2, "expired")]


def test_invalid_number_fails_that_request_and_the_others_go_out(world):
    world.person("p_ana", ANA)
    world.person("p_ben", BEN)
    world.server.state.invalid_numbers = {ANA}
    counts = world.run(MORNING)
    assert (counts.failed, counts.sent) == (1, 1)
    assert {r["persona_id"]: r["status"] for r in world.requests()} == {"p_ana": "failed", "p_ben": "sent"}
    world.run(MORNING + timedelta(days=8))
    assert [m["to"] for m in world.texts()] == [BEN, BEN]  # a failed number is not retried


def test_rule25_rows_and_expiry_are_stamped_by_the_real_clock_not_the_runs_instant(world):
    """A backfill or catch-up run is due in the past (its ``run_after``) but acts now: the requests
    it makes are requested now, and expiry counts seven days back from now."""
    from trident1_aiq.warehouse import parse_db_time

    world.person("p_ana", ANA)
    world.run(MORNING)
    (first,) = world.requests()
    assert parse_db_time(first["requested_at"]) == MORNING
    # The run's server-side instant is six days on; the clock at its work reads seven days and a minute.
    later = MORNING + timedelta(days=7, minutes=1)
    counts = world.run(MORNING + timedelta(days=6), sent_at=later)
    assert counts.expired == 1 and counts.sent == 1
    second = world.requests()[1]
    assert second["attempt"] == 2 and parse_db_time(second["requested_at"]) == later
    assert parse_db_time(second["sent_at"]) == later
