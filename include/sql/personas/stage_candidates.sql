CREATE TEMPORARY TABLE IF NOT EXISTS stg_candidates (
    credential VARCHAR(100), customer_id VARCHAR(200), phone VARCHAR(20), email VARCHAR(320)
);
DELETE FROM stg_candidates;
