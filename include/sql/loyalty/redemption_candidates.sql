-- Rule 21: this run's sales by a persona that applied a discount and have no redemption row yet.
SELECT s.credential, s.sale_id, s.persona_id, s.store_id, s.sold_at, d.discount_id
FROM stg_loyalty AS k
JOIN sale_discounts AS d ON d.credential = k.credential AND d.sale_id = k.sale_id
JOIN sales AS s ON s.credential = d.credential AND s.sale_id = d.sale_id
WHERE s.persona_id IS NOT NULL
  AND s.status <> 'voided'
  AND NOT EXISTS (SELECT 1 FROM discount_redemptions AS r
                  WHERE r.credential = s.credential AND r.sale_id = s.sale_id
                    AND r.trident1_discount_id = d.discount_id)
ORDER BY s.sold_at, s.credential, s.sale_id, d.discount_id
