-- PostgreSQL: COPY into the staging table (Warehouse.bulk writes the rows in this column order).
COPY stg_seen (credential, record_id) FROM STDIN
