-- Rule 16: this run's sales of enrolled personas at or after enrolment, not voided, not yet credited,
-- with the eligible amount (subtotal − discount_total) in whole cents: exact on PostgreSQL's NUMERIC,
-- and on SQLite's REAL amounts of two decimals once rounded (loyalty.points_for_cents does the rest).
-- Found once for the whole work, by one join (the pages of loyalty/earn_candidates then read this
-- table by its key): paging the join itself ran it again for every page, and at a fleet's 740,000
-- queued sales each run of it took close to a minute. Each sale is a candidate once and its entry's
-- key is its own, so the earn entries written page by page change no other candidate's NOT EXISTS.
DROP TABLE IF EXISTS stg_earn;
CREATE TEMPORARY TABLE stg_earn AS
SELECT s.credential, s.sale_id, s.persona_id, s.store_id,
       CAST(ROUND((s.subtotal - s.discount_total) * 100) AS BIGINT) AS eligible_cents
FROM stg_loyalty AS k
JOIN sales AS s ON s.credential = k.credential AND s.sale_id = k.sale_id
JOIN personas AS p ON p.persona_id = s.persona_id
WHERE p.loyalty_member = TRUE
  AND s.sold_at >= p.loyalty_enrolled_at
  AND s.status <> 'voided'
  AND NOT EXISTS (SELECT 1 FROM loyalty_ledger AS l
                  WHERE l.credential = s.credential AND l.sale_id = s.sale_id AND l.entry_type = 'earn');
CREATE INDEX stg_earn_key ON stg_earn (credential, sale_id)
