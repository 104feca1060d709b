-- The ids of a chunk as read, to ask the warehouse which it already has (load/seen_*.sql).
CREATE TEMPORARY TABLE IF NOT EXISTS stg_seen (credential VARCHAR(100), record_id VARCHAR(210));
DELETE FROM stg_seen
