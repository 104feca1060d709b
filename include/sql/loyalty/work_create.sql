-- This run's work: the queued sales that are in the warehouse (a refund's sale that has
-- not arrived stays queued). Every loyalty query below starts from this table.
CREATE TEMPORARY TABLE IF NOT EXISTS stg_loyalty (
    credential VARCHAR(100), sale_id VARCHAR(200), persona_id VARCHAR(40)
);
CREATE INDEX IF NOT EXISTS stg_loyalty_key ON stg_loyalty (credential, sale_id);
CREATE INDEX IF NOT EXISTS stg_loyalty_persona ON stg_loyalty (persona_id);
DELETE FROM stg_loyalty;
INSERT INTO stg_loyalty (credential, sale_id, persona_id)
SELECT s.credential, s.sale_id, s.persona_id
FROM loyalty_queue AS q
JOIN sales AS s ON s.credential = q.credential AND s.sale_id = q.sale_id
