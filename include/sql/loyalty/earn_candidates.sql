-- Rule 16: this run's sales of enrolled personas at or after enrolment, not voided, not yet credited,
-- with the eligible amount (subtotal − discount_total) in whole cents: exact on PostgreSQL's NUMERIC,
-- and on SQLite's REAL amounts of two decimals once rounded (loyalty.points_for_cents does the rest).
-- Read in pages of :page_size after the key (:after_credential, :after_sale_id), so memory does not
-- follow the day. The key is compared as a row value: PostgreSQL walks stg_loyalty_key from it
-- (the OR of two comparisons scanned and sorted the whole work again for every page). The
-- entries of a page credit sales before the next page's key, so the NOT EXISTS of a later page
-- is not affected by them.
SELECT s.credential, s.sale_id, s.persona_id, s.store_id,
       CAST(ROUND((s.subtotal - s.discount_total) * 100) AS BIGINT) AS eligible_cents
FROM stg_loyalty AS k
JOIN sales AS s ON s.credential = k.credential AND s.sale_id = k.sale_id
JOIN personas AS p ON p.persona_id = s.persona_id
WHERE p.loyalty_member = TRUE
  AND s.sold_at >= p.loyalty_enrolled_at
  AND s.status <> 'voided'
  AND NOT EXISTS (SELECT 1 FROM loyalty_ledger AS l
                  WHERE l.credential = s.credential AND l.sale_id = s.sale_id AND l.entry_type = 'earn')
  AND (k.credential, k.sale_id) > (:after_credential, :after_sale_id)
ORDER BY k.credential, k.sale_id
LIMIT :page_size
