CREATE TEMPORARY TABLE IF NOT EXISTS stg_candidates (
    credential VARCHAR(100), customer_id VARCHAR(200), phone VARCHAR(20), email VARCHAR(320)
);
CREATE INDEX IF NOT EXISTS stg_candidates_source ON stg_candidates (credential, customer_id);
CREATE INDEX IF NOT EXISTS stg_candidates_phone ON stg_candidates (phone);
CREATE INDEX IF NOT EXISTS stg_candidates_email ON stg_candidates (email);
DELETE FROM stg_candidates;
