-- PostgreSQL: COPY into the staging table (Warehouse.bulk writes the rows in this column order).
COPY stg_candidates (credential, customer_id, phone, email) FROM STDIN
