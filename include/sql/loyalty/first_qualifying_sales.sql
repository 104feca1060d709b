-- Rule 4: a persona's first sale on or after purchased_after (completed, refunded
-- or partially refunded: not voided), from the data alone — for the personas of this run's
-- work, driven from them into sales_persona (never a scan of all qualifying sales).
SELECT s.persona_id, MIN(s.sold_at) AS first_sale
FROM (SELECT DISTINCT persona_id FROM stg_loyalty WHERE persona_id IS NOT NULL) AS w
JOIN sales AS s ON s.persona_id = w.persona_id
WHERE s.business_date >= :purchased_after
  AND s.status IN ('completed', 'refunded', 'partially_refunded')
GROUP BY s.persona_id
