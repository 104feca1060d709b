"""The fake Trident1 and SMS gateway keep the contract, hostile parts included (no database)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import requests

from trident1_aiq.ingest.client import Trident1Error
from trident1_aiq.messaging.sms import InvalidNumber

from . import adapter
from .fake_trident1 import FakeGateway, build_refund, build_sale, session_for, z
from .world import START, _accounts, _location

pytestmark = pytest.mark.model


@pytest.fixture
def fake():
    from .fake_trident1 import FakeTrident1

    f = FakeTrident1(_accounts(), clock=START + timedelta(days=1))
    for n in range(12):
        f.put("acme", "sales", build_sale(sale_id=f"S-{n:02d}", location=_location("acme", "LOC-1"),
                                          at=START + timedelta(minutes=n), lines=[("1", "10.00", False)],
                                          customer=None))
    return f


def client(fake, limit=3, name="acme"):
    return adapter.trident1_client(name, session_for({adapter.TRIDENT1_DOMAIN: fake}), limit)


def test_pages_of_any_size_and_repeats_still_give_every_record_once_deduplicated(fake):
    fake.start_run(seed=3, repeat_rate=1.0)
    pages = list(client(fake).iter_window("/sales", START, START + timedelta(hours=1)))
    sizes = [len(p) for p in pages]
    listed = [r["id"] for p in pages for r in p]
    assert all(1 <= s <= 3 for s in sizes) and len(set(sizes)) > 1  # fewer than limit while more remain
    assert len(listed) > 12  # the last record of each page comes again at the top of the next
    assert sorted(set(listed)) == [f"S-{n:02d}" for n in range(12)]


def test_a_record_changed_while_paged_is_listed_again_later_in_its_new_version(fake):
    fake.start_run(seed=1, repeat_rate=0.0)

    def void():
        sale = dict(fake.accounts["acme"].sales["S-00"], status="voided", updated_at=z(START + timedelta(minutes=30)))
        fake.put("acme", "sales", sale)

    fake.during_listing("acme", "sales", 2, void)
    listed = [(r["id"], r["status"]) for p in client(fake, limit=1).iter_window(
        "/sales", START, START + timedelta(hours=1)) for r in p]
    assert listed[0] == ("S-00", "completed") and listed[-1] == ("S-00", "voided")
    fake.start_run(seed=1, repeat_rate=0.0)
    fake.during_listing("acme", "sales", 2, lambda: fake.put("acme", "sales", dict(
        fake.accounts["acme"].sales["S-01"], status="voided", updated_at=z(START + timedelta(minutes=31)))))
    by_id = {r["id"]: r for r in client(fake, limit=1).window("/sales", START, START + timedelta(hours=1))}  # deduplicated
    assert len(by_id) == 12 and by_id["S-01"]["status"] == "voided"


def test_windows_are_on_updated_at_and_refunds_on_created_at(fake):
    sale = fake.accounts["acme"].sales["S-05"]
    fake.put("acme", "refunds", build_refund(refund_id="R-1", sale=sale, location=_location("acme", "LOC-1"),
                                             at=START + timedelta(hours=5), amount=sale_amount(sale)))
    c = client(fake)
    assert [r["id"] for r in c.window("/sales", START + timedelta(minutes=5), START + timedelta(minutes=7))] == ["S-05", "S-06"]
    assert c.window("/refunds", START, START + timedelta(hours=5)) == []
    assert [r["id"] for r in c.window("/refunds", START + timedelta(hours=5), START + timedelta(hours=6))] == ["R-1"]


def sale_amount(sale):
    from decimal import Decimal

    return Decimal(sale["subtotal"]) - Decimal(sale["discount_total"])


@pytest.mark.parametrize("since,before,limit,message", [
    (START, START + timedelta(days=2), 3, "later than the server's clock"),
    (START + timedelta(hours=2), START, 3, "updated_since is later"),
    (START, START + timedelta(hours=1), 501, "limit must be 1..500"),
])
def test_bad_windows_and_limits_are_400(fake, since, before, limit, message):
    with pytest.raises(Trident1Error) as err:
        client(fake, limit=limit).window("/sales", since, before)
    assert err.value.status == 400 and message in str(err.value)


def test_wrong_key_is_401_and_names_no_key(fake):
    session = session_for({adapter.TRIDENT1_DOMAIN: fake})
    fake.accounts["acme"].api_key = "another"
    with pytest.raises(Trident1Error) as err:
        adapter.trident1_client("acme", session, 3).locations()
    assert err.value.status == 401 and adapter.api_key("acme") not in str(err.value)


def test_transient_faults_are_retried(fake):
    fake.start_run(seed=5, fault_rate=0.5)
    assert len(client(fake).window("/sales", START, START + timedelta(hours=1))) == 12
    asked = [(path, tuple(sorted(q.items()))) for _m, path, q in fake.requests]
    assert len(asked) > len(set(asked))  # the same request again after a 503 or a 429


def test_gateway_idempotency_invalid_numbers_and_replies():
    gw = FakeGateway(adapter.GATEWAY_TOKEN, START)
    c = adapter.gateway_client(session_for({adapter.GATEWAY_HOST: gw}))
    first = c.send(to="+13035550101", body="hi", idempotency_key="k1", persona_id="p", store_id="s")
    assert c.send(to="+13035550101", body="other", idempotency_key="k1", persona_id="p", store_id="s") == first
    assert len(gw.messages) == 1 and len(gw.posts) == 2 and gw.now == START + timedelta(seconds=2)
    with pytest.raises(InvalidNumber):
        c.send(to="303-555-0101", body="hi", idempotency_key="k2", persona_id="p", store_id="s")
    for n in range(5):
        gw.reply("+13035550101", f"r{n}", START + timedelta(minutes=n))
    gw.now = START + timedelta(hours=1)
    assert [r["body"] for r in c.replies(None)] == [f"r{n}" for n in range(5)]
    assert [r["body"] for r in c.replies(z(START + timedelta(minutes=3)))] == ["r3", "r4"]  # since inclusive


def test_the_fake_is_reached_only_through_the_session():
    with pytest.raises(requests.ConnectionError):
        session_for({}).get("http://acme.t1.test/api/v1/locations", timeout=1)


def test_the_plain_evaluation_of_the_checks_agrees_with_great_expectations(tmp_path):
    """The model test evaluates the product's check list in plain Python (speed); here a history
    with rejects (unknown status, unknown location), held and good records runs through both."""
    pytest.importorskip("great_expectations")
    from trident1_aiq.warehouse import Warehouse, sqlite_url

    from .world import Harness

    wh = Warehouse(sqlite_url(tmp_path / "w.db"))
    wh.migrate()
    h = Harness(wh, mapped={("acme", "LOC-1"), ("bolt", "LOC-1")})
    with adapter.validation_engine("both"):
        sales = [h.sell(place, who, [("1", "10.00", True), ("0.5", "3.99", False)], status)
                 for place, who, status in ((("acme", "LOC-1"), 1, "completed"), (("acme", "LOC-9"), 0, "completed"),
                                            (("acme", "LOC-2"), 2, "completed"), (("acme", "LOC-1"), 3, "open"),
                                            (("bolt", "LOC-1"), 1, "completed"))]
        h.refund(sales[0], full=False)
        h.run(days_back=0, chunk=3)
        h.complete(sales[3])
        h.run(days_back=0, chunk=4)
    wh.dispose()
    assert len(h.ref.sales) == 3 and h.ref.open_quarantine() == {
        ("acme", "sale", sales[1][1]): False, ("acme", "sale", sales[2][1]): True}
