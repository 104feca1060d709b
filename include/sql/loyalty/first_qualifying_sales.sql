-- Rule 4: a persona's first sale on or after purchased_after (completed, refunded
-- or partially refunded: not voided), from the data alone.
SELECT s.persona_id, MIN(s.sold_at) AS first_sale
FROM sales AS s
WHERE s.persona_id IS NOT NULL
  AND s.business_date >= :purchased_after
  AND s.status IN ('completed', 'refunded', 'partially_refunded')
GROUP BY s.persona_id
