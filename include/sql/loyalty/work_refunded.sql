-- Merchandise already refunded on this run's sales by reconciled refunds.
SELECT r.credential, r.sale_id, SUM(r.amount) AS amount
FROM stg_loyalty AS k
JOIN refunds AS r ON r.credential = k.credential AND r.sale_id = k.sale_id
JOIN refund_reconciliations AS x ON x.credential = r.credential AND x.sale_id = r.sale_id
    AND x.refund_id = r.refund_id
GROUP BY r.credential, r.sale_id
