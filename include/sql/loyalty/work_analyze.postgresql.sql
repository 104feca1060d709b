-- Temporary tables are never auto-analysed: give the planner the work's row count.
ANALYZE stg_loyalty
