-- Points already on the ledger for this run's sales, by entry type (reconciliation starts from these).
SELECT l.credential, l.sale_id, l.entry_type, SUM(l.points) AS points
FROM stg_loyalty AS k
JOIN loyalty_ledger AS l ON l.credential = k.credential AND l.sale_id = k.sale_id
GROUP BY l.credential, l.sale_id, l.entry_type
