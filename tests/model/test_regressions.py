"""Every failure the model-based test found, shrunk and written out as a plain test, on SQLite and
PostgreSQL (the ``warehouse`` fixture).

Each is a strict xfail while its defect is listed in ``adapter.PENDING_FIXES``: when a fix lands,
remove its number there (one line) and the test runs plainly. A test that starts passing while
still listed fails the suite (strict), so a fix cannot go unnoticed.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from . import adapter, compare
from .reference import in_send_hours
from .world import START, Harness, Settings

pytestmark = pytest.mark.model


def pending(defect: str, reason: str):
    return pytest.mark.xfail(defect in adapter.PENDING_FIXES, strict=True, reason=reason)

ACME_1, ACME_4 = ("acme", "LOC-1"), ("acme", "LOC-4")
ANA, RAJ = 1, 3  # ``who``: acme's customers C-1 (ana), C-11 (ana), C-2 (raj)... (world.CUSTOMERS_OF)
LINES = [("1", "10.00", False), ("2", "3.99", False), ("1", "35.50", True)]


def _open_held(h: Harness) -> list[dict]:
    return adapter.rows(h.wh, "SELECT credential, location_id, record_key FROM quarantine "
                              "WHERE held = TRUE AND released_at IS NULL")


@pending("1", "issue 11 defect 1: two versions of a sale in one chunk crash merge_sales "
         "(UNIQUE sale_items)")
def test_defect1_a_sale_changed_while_paged_meets_its_old_version_in_one_chunk(warehouse):
    """Shrunk: two sales; the first is voided between page 1 and page 2 of the listing, so it is
    listed again, later, in its new version (legal per the contract), inside one chunk of 7."""
    h = Harness(warehouse)
    first = h.sell(ACME_1, 0, LINES)
    h.sell(ACME_1, 0)
    h.change_while_paged(first, "void", at_request=2)
    h.run(days_back=0, chunk=7, page_limit=1)  # pages of one record: S-001 v1, S-002, S-001 v2
    compare.check(h)
    assert h.ref.sales_table()[first][0] == "voided"


@pending("1", "issue 11 defect 1: a released held version and the newer listed "
         "version meet in one chunk (UNIQUE sale_items)")
def test_defect1_held_version_and_newer_listed_version_meet_in_the_first_chunk(warehouse):
    """Shrunk from the model test: LOC-1 unmapped, its sale held; the sale is voided, the admin
    maps LOC-1: the next run feeds the held payload (old version) and the listing (new one)
    into the same chunk."""
    h = Harness(warehouse, mapped=set())
    sale = h.sell(ACME_1, 0)
    h.run(days_back=0)
    assert _open_held(h)
    h.void(sale)
    h.map(ACME_1)
    h.run(days_back=0, chunk=7)
    compare.check(h)
    assert not _open_held(h)


@pending("6", "issue 11 defect 6: held records already loaded stay open after the "
         "location is mapped again")
def test_defect6_records_held_under_a_mistyped_mapping_are_released_when_it_is_fixed(warehouse):
    """Shrunk: LOC-4 loaded; the admin retypes its mapping as LOC-04 (the rerun re-holds the
    sale); fixing it and rerunning twice must release the held row, whether or not the record
    changed (rule 6)."""
    h = Harness(warehouse)
    h.sell(ACME_4, 0)
    h.run(days_back=0)
    h.typo(ACME_4)
    h.run(days_back=0)
    assert [r["location_id"] for r in _open_held(h)] == ["LOC-4"]
    h.fix(ACME_4)
    h.run(days_back=0)
    h.run(days_back=0)
    assert _open_held(h) == []
    held_for_mapped = adapter.rows(h.wh, "SELECT location_id, held_records FROM location_mappings "
           "WHERE store_id IS NOT NULL AND held_records > 0")
    assert held_for_mapped == []


@pending("7", "issue 11 defect 7: voids written to refund_reconciliations as "
         "refund_id 'void:<sale_id>'")
def test_defect7_a_void_reversal_names_no_invented_refund(warehouse):
    """Shrunk: ana's sale earns, is voided, the next run reverses it. No refund_reconciliations
    row may name a refund that does not exist; the reversal is readable elsewhere."""
    h = Harness(warehouse)
    sale = h.sell(ACME_1, ANA, LINES)
    h.run(days_back=0)
    h.void(sale)
    h.run(days_back=0)
    assert adapter.synthetic_refund_ids(h.wh) == []
    (void,) = adapter.void_reconciliations(h.wh)
    assert void["sale_id"] == sale[1] and void["points_reversed"] > 0


@pending("2", "issue 11 defect 2: quiet hours judged at the run's start, not when "
         "each text is sent")
def test_defect2_no_text_when_the_send_happens_after_21h_store_time(warehouse):
    """The run starts at 20:50 in Denver (inside the hours); the opt-in step sends 20 minutes
    later (a late task, a retry): nothing may go out, the request stays pending (rule 24)."""
    h = Harness(warehouse, Settings(marketing_enabled_at=START - timedelta(days=3)))
    h.sell(ACME_1, ANA)
    h.t = datetime(2026, 11, 21, 3, 50, tzinfo=START.tzinfo)  # 20:50 in Denver
    rec = h.run(days_back=0, delay_minutes=20)
    assert in_send_hours(rec.now, "America/Denver") and not in_send_hours(rec.send_from, "America/Denver")
    assert h.gateway.messages == {}
    (request,) = adapter.rows(h.wh, "SELECT status FROM opt_in_requests")
    assert request["status"] == "pending"


@pending("A", "new finding A (model test): enrolment is not from the data alone: a "
         "persona whose only purchase was voided stays a loyalty member")
def test_findingA_enrolment_does_not_depend_on_the_order_runs_saw_a_void(warehouse):
    """Shrunk: raj buys, the run enrols him; the sale is voided and the next run reverses it.
    Read from the data (rule 4: voided sales are no purchase) raj never purchased, and a
    warehouse that first saw the sale voided never enrols him; this one keeps him a member."""
    h = Harness(warehouse)
    sale = h.sell(ACME_1, RAJ, LINES)
    h.run(days_back=0)
    h.void(sale)
    h.run(days_back=0)
    members = adapter.rows(h.wh, "SELECT persona_id FROM personas WHERE loyalty_member = TRUE")
    assert members == []


@pending("B", "new finding B (model test): an already-loaded refund re-read under an "
         "unmapped location is released by the next chunk's merge; the sale stays held")
def test_findingB_loaded_sale_and_refund_reread_under_an_unmapped_location_are_treated_alike(warehouse):
    """Shrunk: a sale and its refund are loaded; the admin mistypes LOC-1's mapping; the next run
    re-reads both. The sale is held again (defect 6's premise); the refund is held too, but
    ``load/quarantine_release_refunds`` releases every open refund row whose refund is loaded, so
    it depends on chunk boundaries whether the refund shows as held. Either both are held or
    neither."""
    h = Harness(warehouse)
    sale = h.sell(ACME_1, 0, LINES)
    h.refund(sale, full=False)
    h.run(days_back=0)
    h.typo(ACME_1)
    for _ in range(3):  # more refunds, so that a second refund chunk merges after the first re-held
        h.refund(h.sell(ACME_1, 0), full=True)
    h.run(days_back=0, chunk=3)
    held = {(r["record_key"]) for r in _open_held(h)}
    refund_id = next(k for (c, k) in h.ref.refunds if c == "acme")
    assert (sale[1] in held) == (refund_id in held), f"held: {sorted(held)}"


@pending("C", "new finding C (model test): a pending opt-in request is sent after the persona's only "
         "purchase was voided (eligibility is not checked again at the send)")
def test_findingC_a_pending_request_is_not_sent_once_the_only_purchase_is_voided(warehouse):
    """Shrunk: raj buys in Denver; the run at 21:10 store time creates his request, which waits
    for the morning (quiet hours). The sale is voided; the morning run sends the request anyway,
    though raj has no purchase any more (rule 22: a voided sale is no purchase). The opt-out list
    is checked right before each send; eligibility is not."""
    h = Harness(warehouse, Settings(marketing_enabled_at=START - timedelta(days=3)))
    sale = h.sell(ACME_1, RAJ, LINES)
    h.t = datetime(2026, 11, 21, 4, 10, tzinfo=START.tzinfo)  # 21:10 in Denver
    h.run(days_back=0)
    assert [r["status"] for r in adapter.rows(h.wh, "SELECT status FROM opt_in_requests")] == ["pending"]
    h.void(sale)
    h.t = datetime(2026, 11, 21, 16, 0, tzinfo=START.tzinfo)  # 09:00 in Denver
    h.run(days_back=0)
    assert h.ref.sales_table()[sale][0] == "voided"
    assert h.gateway.messages == {}


@pending("C", "new finding C (model test): a next attempt is created and sent after the persona's only "
         "purchase was voided (optin/next_attempts.sql checks no purchase)")
def test_findingC_no_second_attempt_once_the_only_purchase_is_voided(warehouse):
    """Shrunk from the model test: raj's first request goes out; his sale is voided (loaded by
    the next run); a week later the request expires and a second attempt is created and sent,
    though raj has no purchase any more (rule 22; rule 23 only allows a *next* request)."""
    h = Harness(warehouse, Settings(marketing_enabled_at=START - timedelta(days=3)))
    sale = h.sell(ACME_1, RAJ, LINES)
    h.run(days_back=0)
    assert list(h.gateway.messages) and all(k.endswith(":1") for k in h.gateway.messages)
    h.void(sale)
    h.run(days_back=0)
    h.advance(7 * 24 + 1)
    h.run(days_back=0)
    assert [r["status"] for r in adapter.rows(h.wh, "SELECT status FROM opt_in_requests WHERE attempt = 1")] == \
        ["expired"]
    assert [k for k in h.gateway.messages if k.endswith(":2")] == []
