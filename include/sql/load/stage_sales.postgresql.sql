-- PostgreSQL: COPY into the staging table (Warehouse.bulk writes the rows in this column order).
COPY stg_sales (credential, sale_id, store_id, location_id, persona_id, customer_id, receipt_number, status, sold_at, business_date, subtotal, discount_total, tax_total, total, currency, updated_at, loaded_at, run_id) FROM STDIN
