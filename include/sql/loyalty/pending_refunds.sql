-- Rule 18: refunds of this run's sales not yet reconciled, in created_at order.
-- A refund whose sale has not arrived keeps the sale queued until it does.
SELECT r.credential, r.refund_id, r.sale_id, r.amount, s.persona_id, s.store_id,
       s.subtotal, s.discount_total
FROM stg_loyalty AS k
JOIN refunds AS r ON r.credential = k.credential AND r.sale_id = k.sale_id
JOIN sales AS s ON s.credential = r.credential AND s.sale_id = r.sale_id
WHERE NOT EXISTS (SELECT 1 FROM refund_reconciliations AS x  -- by (credential, sale_id): a handful
                  WHERE x.credential = r.credential AND x.sale_id = r.sale_id AND x.refund_id = r.refund_id)
ORDER BY r.refunded_at, r.credential, r.refund_id
