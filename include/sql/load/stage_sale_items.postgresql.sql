-- PostgreSQL: COPY into the staging table (Warehouse.bulk writes the rows in this column order).
COPY stg_sale_items (credential, sale_id, line_id, sku, name, category, quantity, unit_price, discount, tax, total) FROM STDIN
