"""Each loaded entity's columns, declared once: name, SQL type, nullability, where the value comes from.

The warehouse tables (``include/sql/migrations/001_core.sql``), their staging tables
(``load/stage_create``), the bulk statements that fill them (``load/stage_*``: COPY on
PostgreSQL, INSERT on SQLite), the merges (``load/merge_*.sql``) and the staging rows
(``staging.py``) all name these columns; ``tests/unit/test_entities.py`` proves every one of
them lists exactly these, in this order, with these types and nullability, so a column left out
of one (which PostgreSQL's COPY would silently drop) fails the suite. ``Warehouse.bulk`` refuses
a row carrying a column its statement does not write.

``source`` is where the value comes from: a field of the Trident1 record (``customer.id``: a
nested field; docs/external-apis.md), or ``run:…`` for what the run supplies (the credential,
the store its mapping names, the persona resolved, the run's id and instant).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    """The SQL type, as the migration and the staging table spell it."""
    nullable: bool
    source: str


@dataclass(frozen=True)
class Table:
    name: str
    """The warehouse table; its staging table is ``stg_<name>``."""
    key: tuple[str, ...]
    stage: str
    """The bulk statement that fills the staging table."""
    merge: str
    """The statement that merges the staging table into ``name``."""
    columns: tuple[Column, ...]

    @property
    def staging(self) -> str:
        return f"stg_{self.name}"

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


def _c(name: str, type_: str, source: str, nullable: bool = False) -> Column:
    return Column(name, type_, nullable, source)


CREDENTIAL = _c("credential", "VARCHAR(100)", "run:credential")
RUN_ID = _c("run_id", "VARCHAR(250)", "run:run_id")
LOADED_AT = _c("loaded_at", "TIMESTAMP WITH TIME ZONE", "run:now")
MONEY = "NUMERIC(12,2)"

SALES = Table("sales", ("credential", "sale_id"), "load/stage_sales", "load/merge_sales", (
    CREDENTIAL,
    _c("sale_id", "VARCHAR(200)", "id"),
    _c("store_id", "VARCHAR(100)", "run:mapping[location_id]"),
    _c("location_id", "VARCHAR(200)", "location_id"),
    _c("persona_id", "VARCHAR(40)", "run:persona(customer)", nullable=True),
    _c("customer_id", "VARCHAR(200)", "customer.id", nullable=True),
    _c("receipt_number", "VARCHAR(100)", "receipt_number", nullable=True),
    _c("status", "VARCHAR(30)", "status"),
    _c("sold_at", "TIMESTAMP WITH TIME ZONE", "created_at"),
    _c("business_date", "DATE", "created_at at the location's zone"),
    _c("subtotal", MONEY, "subtotal"),
    _c("discount_total", MONEY, "discount_total"),
    _c("tax_total", MONEY, "tax_total"),
    _c("total", MONEY, "total"),
    _c("currency", "VARCHAR(3)", "currency", nullable=True),
    _c("updated_at", "TIMESTAMP WITH TIME ZONE", "updated_at"),
    LOADED_AT,
    RUN_ID,
))

SALE_ITEMS = Table("sale_items", ("credential", "sale_id", "line_id"), "load/stage_sale_items", "load/merge_sales", (
    CREDENTIAL,
    _c("sale_id", "VARCHAR(200)", "id"),
    _c("line_id", "INTEGER", "items[].line_id"),
    _c("sku", "VARCHAR(100)", "items[].sku", nullable=True),
    _c("name", "VARCHAR(500)", "items[].name", nullable=True),
    _c("category", "VARCHAR(200)", "items[].category", nullable=True),
    _c("quantity", "NUMERIC(12,3)", "items[].quantity"),
    _c("unit_price", MONEY, "items[].unit_price"),
    _c("discount", MONEY, "items[].discount"),
    _c("tax", MONEY, "items[].tax"),
    _c("total", MONEY, "items[].total"),
))

SALE_DISCOUNTS = Table("sale_discounts", ("credential", "sale_id", "discount_id"), "load/stage_sale_discounts",
                       "load/merge_sales", (
    CREDENTIAL,
    _c("sale_id", "VARCHAR(200)", "id"),
    _c("discount_id", "VARCHAR(200)", "discounts[].discount_id"),
    _c("code", "VARCHAR(100)", "discounts[].code", nullable=True),
    _c("name", "VARCHAR(500)", "discounts[].name", nullable=True),
    _c("amount", MONEY, "discounts[].amount (the same discount twice on a receipt: added)"),
    _c("in_store_only", "BOOLEAN", "discounts[].in_store_only"),
))

REFUNDS = Table("refunds", ("credential", "refund_id"), "load/stage_refunds", "load/merge_refunds", (
    CREDENTIAL,
    _c("refund_id", "VARCHAR(200)", "id"),
    _c("sale_id", "VARCHAR(200)", "sale_id"),
    _c("location_id", "VARCHAR(200)", "location_id"),
    _c("store_id", "VARCHAR(100)", "run:mapping[location_id]"),
    _c("refunded_at", "TIMESTAMP WITH TIME ZONE", "created_at"),
    _c("business_date", "DATE", "created_at at the location's zone"),
    _c("amount", MONEY, "amount"),
    _c("tax", MONEY, "tax"),
    _c("total", MONEY, "total"),
    _c("reason", "VARCHAR(200)", "reason", nullable=True),
    LOADED_AT,
    RUN_ID,
))

#: Every table an entity loads, in merge order.
TABLES: tuple[Table, ...] = (SALES, SALE_ITEMS, SALE_DISCOUNTS, REFUNDS)
