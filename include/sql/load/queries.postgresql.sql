-- PostgreSQL variants of sections of queries.sql (same names), used instead on that database.

-- name: analyze_changed
-- The new and changed sales of the chunk (see analyze_staging).
ANALYZE stg_changed

-- name: analyze_staging
-- Temporary tables are never auto-analysed: give the planner the staged sales and refunds
-- (the lines and discounts are only joined through stg_changed, by index).
ANALYZE stg_sales;
ANALYZE stg_refunds

-- name: lock
-- Two loads of the same credential (a run and its retry, or a run overlapping a
-- backfill) take turns; loads of different credentials run in parallel.
SELECT pg_advisory_xact_lock(7345900, hashtext(:credential))

-- name: seen_analyze
-- Temporary tables are never auto-analysed: without the row count the planner may scan sales whole.
ANALYZE stg_seen

-- name: seen_insert
-- PostgreSQL: COPY into the staging table (Warehouse.bulk writes the rows in this column order).
COPY stg_seen (credential, record_id) FROM STDIN

-- name: stage_refunds
-- PostgreSQL: COPY into the staging table (Warehouse.bulk writes the rows in this column order).
COPY stg_refunds (credential, refund_id, sale_id, location_id, store_id, refunded_at, business_date, amount, tax, total, reason, loaded_at, run_id) FROM STDIN

-- name: stage_sale_discounts
-- PostgreSQL: COPY into the staging table (Warehouse.bulk writes the rows in this column order).
COPY stg_sale_discounts (credential, sale_id, discount_id, code, name, amount, in_store_only) FROM STDIN

-- name: stage_sale_items
-- PostgreSQL: COPY into the staging table (Warehouse.bulk writes the rows in this column order).
COPY stg_sale_items (credential, sale_id, line_id, sku, name, category, quantity, unit_price, discount, tax, total) FROM STDIN

-- name: stage_sales
-- PostgreSQL: COPY into the staging table (Warehouse.bulk writes the rows in this column order).
COPY stg_sales (credential, sale_id, store_id, location_id, persona_id, customer_id, receipt_number, status, sold_at, business_date, subtotal, discount_total, tax_total, total, currency, updated_at, loaded_at, run_id) FROM STDIN

-- name: seen_empty
-- TRUNCATE, not DELETE: nothing vacuums a temporary table, so deleted rows would stay for
-- every later chunk's COPY and scans to step over.
TRUNCATE stg_seen

-- name: stage_empty
-- TRUNCATE, not DELETE (see seen_empty).
TRUNCATE stg_sales, stg_sale_items, stg_sale_discounts, stg_changed, stg_refunds, stg_refunds_read
