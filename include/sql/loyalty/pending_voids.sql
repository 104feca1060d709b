-- Rule 18: a sale of this run voided after it earned or redeemed: everything is given back once.
SELECT s.credential, s.sale_id, s.persona_id, s.store_id, s.subtotal, s.discount_total
FROM stg_loyalty AS k
JOIN sales AS s ON s.credential = k.credential AND s.sale_id = k.sale_id
WHERE s.status = 'voided'
  AND EXISTS (SELECT 1 FROM loyalty_ledger AS l
              WHERE l.credential = s.credential AND l.sale_id = s.sale_id
                AND l.entry_type IN ('earn', 'redeem'))
  AND NOT EXISTS (SELECT 1 FROM void_reconciliations AS x
                  WHERE x.credential = s.credential AND x.sale_id = s.sale_id)
ORDER BY s.updated_at, s.credential, s.sale_id
