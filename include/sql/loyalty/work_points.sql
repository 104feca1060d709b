-- Points already on the ledger, by entry type, for the sales of this run's work that
-- reconciliation may touch: those with refunds, and the voided ones (rule 18).
SELECT l.credential, l.sale_id, l.entry_type, SUM(l.points) AS points
FROM stg_loyalty AS k
JOIN sales AS s ON s.credential = k.credential AND s.sale_id = k.sale_id
JOIN loyalty_ledger AS l ON l.credential = k.credential AND l.sale_id = k.sale_id
WHERE s.status = 'voided'
   OR EXISTS (SELECT 1 FROM refunds AS r WHERE r.credential = k.credential AND r.sale_id = k.sale_id)
GROUP BY l.credential, l.sale_id, l.entry_type
