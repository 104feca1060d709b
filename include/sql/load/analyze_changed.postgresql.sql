-- The new and changed sales of the chunk (see load/analyze_staging.postgresql.sql).
ANALYZE stg_changed
