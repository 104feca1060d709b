-- This run's work: the queued sales that are in the warehouse (a refund's sale that has
-- not arrived stays queued). Every loyalty query below starts from this table.
-- Made afresh each run and indexed once filled (one index build, not one insert per row);
-- every query drives from it by a scan, so only work_add_persona_sales needs its key index.
DROP TABLE IF EXISTS stg_loyalty;
CREATE TEMPORARY TABLE stg_loyalty (
    credential VARCHAR(100), sale_id VARCHAR(200), persona_id VARCHAR(40)
);
INSERT INTO stg_loyalty (credential, sale_id, persona_id)
SELECT s.credential, s.sale_id, s.persona_id
FROM loyalty_queue AS q
JOIN sales AS s ON s.credential = q.credential AND s.sale_id = q.sale_id;
CREATE INDEX stg_loyalty_key ON stg_loyalty (credential, sale_id)
