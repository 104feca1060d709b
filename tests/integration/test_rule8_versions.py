"""Rule 8 in the warehouse, on SQLite and PostgreSQL: the set-based merge (``load/changed_sales``,
``load/merge_sales``) and the warehouse look-up (``pipeline.skip_known``) decide "the newest version
wins" as ``client.supersedes`` does, and a newer version replaces every column of the sale.

The edge cases of the rule itself (ties, unreadable versions, ids) are
``tests/unit/test_client.py::test_rule8_newest_version_wins_the_edge_cases``; here the versions
that reach the warehouse are readable ones (validation quarantines the others, as the last test
shows).
"""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from sqlalchemy import text

from trident1_aiq.ingest.client import record_version, supersedes
from trident1_aiq.ingest.entities import SALE
from trident1_aiq.ingest.load import merge
from trident1_aiq.ingest.normalize import normalize_sale
from trident1_aiq.ingest.pipeline import ingest_credential, prepare_run, run_window
from trident1_aiq.settings.config import demo_settings
from trident1_aiq.warehouse import as_decimal, parse_db_time

from ..factories import DAY, NOW, sale

pytestmark = pytest.mark.integration
CREDENTIAL = "trident1_acme"
ZONES = {"LOC-1": "America/Denver"}


class Listed:
    """A Trident1 client that lists fixed records, each listing one page."""

    def __init__(self, **listings: list[dict]):
        self.listings = {f"/{path}": records for path, records in listings.items()}

    def locations(self) -> list[dict]:
        return [{"id": "LOC-1", "name": "Denver", "timezone": ZONES["LOC-1"]}]

    def discounts(self) -> list[dict]:
        return [{"id": "D-10", "code": "T", "name": "10%", "type": "percent", "value": "10", "in_store_only": False}]

    def iter_window(self, path, since, before):
        yield list(self.listings.get(path, []))


def _ingest(wh, settings, run_id: str, **listings: list[dict]) -> dict:
    return ingest_credential(
        wh=wh,
        client=Listed(**listings),
        settings=settings,
        credential=CREDENTIAL,
        run_id=run_id,
        window=run_window(DAY, settings.integration.lookback_hours, NOW),
        now=NOW,
    )


def _merge(wh, settings, run_id: str, raw: dict) -> None:
    """One sale straight through staging and the merge statements (no look-up before them)."""
    row = normalize_sale(raw, 0, CREDENTIAL, ZONES, "US")
    assert row.parse_notes == []
    staged = SALE.stage(CREDENTIAL, run_id, NOW, [(row, settings.mapping_for(CREDENTIAL)["LOC-1"], None)])
    with wh.begin() as conn:
        merge(wh, conn, SALE, CREDENTIAL, run_id, NOW, staged)


def _stored(wh) -> dict:
    with wh.begin() as conn:
        return dict(conn.execute(text("SELECT * FROM sales WHERE sale_id = 'S-1'")).mappings().one())


#: A second version of the contract's sale: two knives instead of one, refunded, another receipt,
#: customer and currency — every column the merge writes differs from the first version's.
def second_version(updated_at: str) -> dict:
    return sale(
        updated_at=updated_at,
        status="refunded",
        receipt_number="2",
        currency="CAD",
        created_at="2026-11-25T22:31:00-07:00",
        customer={"id": "C-10", "phone": "(303) 555-0199"},
        items=[
            {
                "line_id": 1,
                "sku": "K",
                "name": "Knife",
                "category": "Knives",
                "quantity": "2.000",
                "unit_price": "35.00",
                "discount": "7.00",
                "tax": "10.40",
                "total": "73.40",
            }
        ],
        discounts=[{"discount_id": "D-10", "code": "T", "name": "10%", "amount": "7.00", "in_store_only": False}],
        payments=[{"method": "card", "amount": "73.40"}],
        subtotal="70.00",
        discount_total="7.00",
        tax_total="10.40",
        total="73.40",
    )


STORED = "2026-11-26T05:30:00Z"
#: Versions read after the stored one, each a readable time: older, equal (in another offset too,
#: and with zero microseconds spelled out), one microsecond and one second newer.
VERSIONS = {
    "older": "2026-11-26T05:29:59Z",
    "equal": STORED,
    "equal in another offset": "2026-11-25T22:30:00-07:00",
    "equal with fractional zeros": "2026-11-26T05:30:00.000000+00:00",
    "a microsecond older": "2026-11-26T05:29:59.999999Z",
    "a microsecond newer": "2026-11-26T05:30:00.000001Z",
    "a second newer": "2026-11-26T05:30:01Z",
    "newer in another offset": "2026-11-26T07:30:01+02:00",
}


@pytest.mark.parametrize("read", VERSIONS.values(), ids=VERSIONS.keys())
@pytest.mark.parametrize("path", ["merge", "pipeline"])
def test_rule8_the_warehouse_replaces_a_sale_exactly_when_supersedes_says(warehouse, settings, path, read):
    """``merge``: the set-based statements alone; ``pipeline``: the look-up before normalising, then them."""
    prepare_run(warehouse, settings, NOW)
    newer = supersedes(record_version({"updated_at": read}), record_version({"updated_at": STORED}))
    if path == "merge":
        _merge(warehouse, settings, "r1", sale(updated_at=STORED))
        _merge(warehouse, settings, "r2", second_version(read))
    else:
        _ingest(warehouse, settings, "r1", sales=[sale(updated_at=STORED)])
        summary = _ingest(warehouse, settings, "r2", sales=[second_version(read)])
        assert summary["updated"] == int(newer) and summary["unchanged"] == int(not newer)
    stored = _stored(warehouse)
    assert (stored["status"], stored["run_id"]) == (("refunded", "r2") if newer else ("completed", "r1"))
    assert parse_db_time(stored["updated_at"]) == record_version({"updated_at": read if newer else STORED})


def test_rule8_a_newer_version_replaces_every_column_of_the_sale_and_its_lines(warehouse, settings):
    """The merge's UPDATE names every column: total, amounts, status, receipt, times, customer."""
    prepare_run(warehouse, settings, NOW)
    _merge(warehouse, settings, "r1", sale())
    first = _stored(warehouse)
    newer = second_version("2026-11-26T06:00:00Z")
    _merge(warehouse, settings, "r2", newer)
    got = _stored(warehouse)
    want = {
        "total": Decimal("73.40"),
        "subtotal": Decimal("70.00"),
        "discount_total": Decimal("7.00"),
        "tax_total": Decimal("10.40"),
    }
    assert {k: as_decimal(got[k]) for k in want} == want
    assert (got["status"], got["receipt_number"], got["currency"], got["customer_id"], got["run_id"]) == (
        "refunded",
        "2",
        "CAD",
        "C-10",
        "r2",
    )
    assert parse_db_time(got["sold_at"]) == record_version(newer, "created_at")
    assert parse_db_time(got["updated_at"]) == record_version(newer)
    changed = {k for k in first if str(first[k]) != str(got[k])}
    assert changed >= {
        "total",
        "subtotal",
        "discount_total",
        "tax_total",
        "status",
        "receipt_number",
        "currency",
        "customer_id",
        "sold_at",
        "updated_at",
        "run_id",
    }
    with warehouse.begin() as conn:
        lines = conn.execute(text("SELECT quantity, total FROM sale_items WHERE sale_id = 'S-1'")).all()
        discounts = conn.execute(text("SELECT amount FROM sale_discounts WHERE sale_id = 'S-1'")).all()
    assert [(as_decimal(q, "0.001"), as_decimal(t)) for q, t in lines] == [(Decimal("2.000"), Decimal("73.40"))]
    assert [as_decimal(a) for (a,) in discounts] == [Decimal("7.00")]


@pytest.mark.parametrize("order", ["unzoned first", "zoned first"])
def test_rule8_a_version_without_a_zone_is_quarantined_and_the_zoned_one_loads(warehouse, order):
    """The same sale listed as ``…T05:30:00`` and ``…T05:30:00Z`` (the dedupe raised TypeError):
    the readable version loads, the other is quarantined with its reason."""
    settings = demo_settings(
        {"trident1_integration": json.dumps({"credentials": [CREDENTIAL, "trident1_bolt"], "max_reject_rate": 1})}
    )
    prepare_run(warehouse, settings, NOW)
    zoned, unzoned = sale(updated_at=STORED), sale(updated_at="2026-11-26T05:30:00", status="voided")
    listing = [unzoned, zoned] if order == "unzoned first" else [zoned, unzoned]
    summary = _ingest(warehouse, settings, "r1", sales=listing)
    assert summary["loaded"] == 1 and summary["quarantined"] == 1
    assert _stored(warehouse)["status"] == "completed"
    with warehouse.begin() as conn:
        rows = conn.execute(text("SELECT record_key, reasons, payload FROM quarantine WHERE entity = 'sale'")).all()
    assert [(r.record_key, json.loads(r.payload)["updated_at"]) for r in rows] == [("S-1", "2026-11-26T05:30:00")]
    assert any(reason.startswith("updated_at") or "updated_at:" in reason for reason in json.loads(rows[0].reasons))
