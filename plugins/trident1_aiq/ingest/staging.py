"""An entity's staging rows: each typed row, with its store and persona, as the dicts the bulk
staging statements (``include/sql/load/stage_*``) take. Pure functions: no warehouse here."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from trident1_aiq.ingest.normalize import RefundRow, SaleRow


def stage_sales(credential: str, run_id: str, now: datetime,
                rows: list[tuple[SaleRow, str, str | None]]) -> list[tuple[str, list[dict[str, Any]]]]:
    """Staging rows of (sale, store id, persona id): the sales, their lines and their discounts."""
    sales = [
        {"credential": credential, "sale_id": s.sale_id, "store_id": store, "location_id": s.location_id,
         "persona_id": persona, "customer_id": s.customer.customer_id if s.customer else None,
         "receipt_number": s.receipt_number, "status": s.status, "sold_at": s.sold_at,
         "business_date": s.business_date, "subtotal": s.subtotal, "discount_total": s.discount_total,
         "tax_total": s.tax_total, "total": s.total, "currency": s.currency, "updated_at": s.updated_at,
         "loaded_at": now, "run_id": run_id}
        for s, store, persona in rows
    ]
    items = [dict(it, credential=credential, sale_id=s.sale_id) for s, _, _ in rows for it in s.items]
    discounts = []
    for s, _, _ in rows:
        merged: dict[str, dict[str, Any]] = {}
        for d in s.discounts:  # the same discount twice on a receipt: one row, amounts added
            if d["discount_id"] in merged:
                merged[d["discount_id"]]["amount"] += d["amount"]
            else:
                merged[d["discount_id"]] = dict(d, credential=credential, sale_id=s.sale_id)
        discounts.extend(merged.values())
    return [("load/stage_sales", sales), ("load/stage_sale_items", items), ("load/stage_sale_discounts", discounts)]


def stage_refunds(credential: str, run_id: str, now: datetime,
                  rows: list[tuple[RefundRow, str, str | None]]) -> list[tuple[str, list[dict[str, Any]]]]:
    """Staging rows of (refund, store id, _)."""
    return [("load/stage_refunds", [
        {"credential": credential, "refund_id": r.refund_id, "sale_id": r.sale_id, "location_id": r.location_id,
         "store_id": store, "refunded_at": r.refunded_at, "business_date": r.business_date,
         "amount": r.amount, "tax": r.tax, "total": r.total, "reason": r.reason, "loaded_at": now,
         "run_id": run_id}
        for r, store, _ in rows
    ])]
