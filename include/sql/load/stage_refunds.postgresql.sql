-- PostgreSQL: COPY into the staging table (Warehouse.bulk writes the rows in this column order).
COPY stg_refunds (credential, refund_id, sale_id, location_id, store_id, refunded_at, business_date, amount, tax, total, reason, loaded_at, run_id) FROM STDIN
