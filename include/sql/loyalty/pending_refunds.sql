-- Rule 18: refunds not yet reconciled whose sale is in the warehouse, in created_at order.
-- A refund whose sale has not arrived waits here until it does.
SELECT r.credential, r.refund_id, r.sale_id, r.amount, s.persona_id, s.store_id,
       s.subtotal, s.discount_total
FROM refunds AS r
JOIN sales AS s ON s.credential = r.credential AND s.sale_id = r.sale_id
WHERE NOT EXISTS (SELECT 1 FROM refund_reconciliations AS x
                  WHERE x.credential = r.credential AND x.refund_id = r.refund_id)
ORDER BY r.refunded_at, r.credential, r.refund_id
