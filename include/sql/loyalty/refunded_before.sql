-- Merchandise already refunded on the sale by reconciled refunds.
SELECT COALESCE(SUM(r.amount), 0) AS amount
FROM refunds AS r
JOIN refund_reconciliations AS x ON x.credential = r.credential AND x.refund_id = r.refund_id
WHERE r.credential = :credential AND r.sale_id = :sale_id
