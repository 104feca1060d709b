-- PostgreSQL: COPY into the staging table (Warehouse.bulk writes the rows in this column order).
COPY stg_sale_discounts (credential, sale_id, discount_id, code, name, amount, in_store_only) FROM STDIN
