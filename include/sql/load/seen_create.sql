-- The ids of a chunk as read, to ask the warehouse which it already has (load/seen_*.sql).
CREATE TEMPORARY TABLE IF NOT EXISTS stg_seen (credential VARCHAR(100), record_id VARCHAR(210));
CREATE INDEX IF NOT EXISTS stg_seen_key ON stg_seen (credential, record_id);
DELETE FROM stg_seen
