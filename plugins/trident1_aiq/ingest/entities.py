"""The Trident1 entities, each declared once: what it is and how it is loaded (rules 6, 8, 10).

``pipeline.ingest_credential`` reads them in the order of :data:`ENTITIES` through one
code path; everything that differs between a customer, a sale and a refund is here:

* where it is listed (``path``, docs/external-apis.md) and which field orders its versions;
* its key in the warehouse (the record's API ``id`` is the last column, with the credential);
* whether a newer version replaces the stored one (``version``; rule 8) or a record never
  changes once created, so one the warehouse has is skipped when read again;
* its normaliser, its validation suite (Great Expectations, rule 10), the persona
  candidate it carries (rules 12–14), its staging rows and merge SQL, the query that
  finds the chunk's records the warehouse already has, and the statement that releases
  its open quarantine rows (the quarantine key is ``normalize.record_key``: the API ``id``,
  or a digest of a record that has none);
* the run-report measures it adds to (``runs.MEASURES``);
* the tables it loads, whose columns are declared once in ``schema.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from trident1_aiq.ingest.normalize import CustomerRow, normalize_customer, normalize_refund, normalize_sale
from trident1_aiq.ingest.schema import REFUNDS, SALE_DISCOUNTS, SALE_ITEMS, SALES, Table
from trident1_aiq.ingest.staging import stage_refunds, stage_sales
from trident1_aiq.ingest.validate import validate_refunds, validate_sales


@dataclass(frozen=True)
class Source:
    """What normalising a record needs to know about where it came from."""

    credential: str
    tz_of: dict[str, str]  # location id → its time zone (business dates, rule 9)
    region: str  # default phone region (rule 13)


@dataclass(frozen=True)
class Entity:
    name: str
    """``quarantine.entity``, and the name in log lines."""
    path: str
    """The API listing, read over the run's window."""
    table: str
    key: tuple[str, ...]
    """The warehouse table and its key; the record's API ``id`` is the key's last column."""
    version: str | None
    """The field whose newer value replaces the stored record and its lines (rule 8). None:
    the record never changes once created; one the warehouse has is skipped when met again."""
    normalize: Callable[[Any, int, Source], Any]
    """Raw record, its position in the chunk, its source → a typed row (None: not a record)."""
    read: str
    """The measure that counts the records read."""
    located: bool = True
    """Records name a Trident1 location: mapped ones load, the others are held (rule 6)."""
    validate: Callable[[list, set[str]], tuple[list, list]] | None = None
    """The validation suite: rows and known location ids → (good rows, [(row, reasons)])."""
    customer: Callable[[Any], CustomerRow | None] | None = None
    """The persona candidate a loadable row carries, resolved before the merge (rules 12–14)."""
    known: str | None = None
    """Query: the chunk's records (ids staged in ``stg_seen``) the warehouse has: ``record_id``,
    and ``version`` when the entity has one."""
    stage: Callable[[str, str, Any, list[tuple[Any, str, str | None]]], list[tuple[str, list[dict]]]] | None = None
    """(credential, run id, now, [(row, store id, persona id)]) → [(bulk query, rows)] for staging."""
    merge: tuple[str, ...] = ()
    """Statements that merge the staged rows, in order (rule 8)."""
    merged: str | None = None
    """Query: per ``location_id``, what the merge wrote; every other column is a measure."""
    release: str | None = None
    """Statement: a valid version of a quarantined or held record releases its open row (rules 6, 10)."""
    report_unchanged: bool = False
    """Records met again unchanged are reported as ``unchanged``."""
    report_released: bool = False
    """Held records loaded now are reported as ``released``."""
    tables: tuple[Table, ...] = ()
    """The warehouse tables it loads, each with its columns declared once (``schema.py``)."""


CUSTOMER = Entity(
    name="customer", path="/customers", table="persona_sources", key=("credential", "customer_id"),
    version="updated_at",  # a profile edited again is resolved again: personas keep what they lack
    normalize=lambda raw, _row, src: normalize_customer(raw, src.credential, src.region),
    read="customers_read", located=False,
    customer=lambda c: c,
)

SALE = Entity(
    name="sale", path="/sales", table="sales", key=("credential", "sale_id"),
    version="updated_at",  # a refund or void changes the sale's status and updated_at (never its amounts)
    normalize=lambda raw, row, src: normalize_sale(raw, row, src.credential, src.tz_of, src.region),
    read="sales_read",
    validate=validate_sales,
    customer=lambda s: s.customer,
    known="load/seen_sales",
    stage=stage_sales,
    merge=("load/changed_sales", "load/analyze_changed", "load/merge_sales"),
    merged="load/changed_by_location",
    release="load/quarantine_release_sales",
    report_unchanged=True, report_released=True,
    tables=(SALES, SALE_ITEMS, SALE_DISCOUNTS),
)

REFUND = Entity(
    name="refund", path="/refunds", table="refunds", key=("credential", "refund_id"),
    version=None,  # listed by created_at; never changes: the first load wins
    normalize=lambda raw, row, src: normalize_refund(raw, row, src.credential, src.tz_of),
    read="refunds_read",
    validate=validate_refunds,
    known="load/seen_refunds",
    stage=stage_refunds,
    merge=("load/merge_refunds",),
    merged="load/new_refunds_by_location",
    release="load/quarantine_release_refunds",
    tables=(REFUNDS,),
)

#: Read in this order: customers (their personas), then sales (a sale's refunds follow it).
ENTITIES: tuple[Entity, ...] = (CUSTOMER, SALE, REFUND)
