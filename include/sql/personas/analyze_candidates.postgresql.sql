-- Temporary tables are never auto-analysed: give the planner the candidates' row count.
ANALYZE stg_candidates
