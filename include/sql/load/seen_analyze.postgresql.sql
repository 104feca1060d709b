-- Temporary tables are never auto-analysed: without the row count the planner may scan sales whole.
ANALYZE stg_seen
