"""The warehouse tables the DAG updates, as Airflow Assets (``airflow.sdk.Asset``).

Each task declares the tables it writes as outlets (:func:`outlets`); when the task succeeds, Airflow
records an asset event per table whose ``extra`` carries the business day and what this task counted
for that table (:func:`event_extras`, set by ``adapter.announce`` through the task's ``outlet_events``). An analyst's DAG scheduled on
``SALES`` (``schedule=[Asset(name="trident1aiq.sales", uri="trident1aiq://warehouse/sales")]``) then
runs once fresh sales are in; ``triggering_asset_events`` gives it the day and the counts. The names
and URIs are documented in docs/warehouse.md ("Assets"). A failed or skipped task records no event.

Cheap to import (the DAG file imports it at parse time): Asset objects only, no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from airflow.sdk import Asset

SCHEME = "trident1aiq"
GROUP = "trident1aiq"


def _table(name: str) -> Asset:
    return Asset(name=f"{SCHEME}.{name}", uri=f"{SCHEME}://warehouse/{name}", group=GROUP)


SALES = _table("sales")  # sales, sale_items, sale_discounts (and the views over them: daily_store_sales, …)
REFUNDS = _table("refunds")
PERSONAS = _table("personas")  # personas, persona_sources
LOYALTY_LEDGER = _table("loyalty_ledger")  # loyalty_ledger, discount_redemptions, refund/void reconciliations
OPT_IN_REQUESTS = _table("opt_in_requests")  # opt_in_requests, sms_replies, sms_opt_outs

#: What each task writes, and which of its counts (its summary's measures, ``runs.MEASURES``) each
#: table's event carries.
COUNTS: dict[str, dict[Asset, tuple[str, ...]]] = {
    "ingest": {
        SALES: ("sales_read", "loaded", "updated", "unchanged", "quarantined", "held", "released"),
        REFUNDS: ("refunds_read", "refunds_loaded"),
        PERSONAS: ("customers_read", "personas_created", "personas_merged"),
    },
    "loyalty": {
        LOYALTY_LEDGER: ("enrolled", "points_earned", "earn_entries", "redemptions", "points_redeemed",
                         "points_reversed", "points_restored", "refunds_reconciled", "voids_reconciled"),
    },
    "opt_in": {
        OPT_IN_REQUESTS: ("replies", "confirmed", "opted_out", "expired", "created", "sent", "deferred"),
    },
}


def outlets(task: str) -> list[Asset]:
    """The assets task ``task`` of the DAG updates (its ``outlets``)."""
    return list(COUNTS[task])


def event_extras(task: str, business_date: str, summary: Mapping[str, Any],
                 credentials: Sequence[str] | None = None) -> dict[Asset, dict[str, Any]]:
    """Each outlet's event extra: the business day, the shard's credentials (ingest) and the task's counts."""
    extras = {}
    for asset, measures in COUNTS[task].items():
        extra: dict[str, Any] = {"business_date": business_date}
        if credentials:
            extra["credentials"] = list(credentials)
        extra.update({m: int(summary.get(m) or 0) for m in measures})
        extras[asset] = extra
    return extras

