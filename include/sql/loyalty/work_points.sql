-- Points already on the ledger, by entry type, for the sales of this run's work that
-- reconciliation may touch: those with refunds, and the voided ones (rule 18) — reached
-- from the refunds and the voided sales, not by a pass over every sale of the work.
SELECT l.credential, l.sale_id, l.entry_type, SUM(l.points) AS points
FROM (SELECT k.credential, k.sale_id
      FROM stg_loyalty AS k
      JOIN refunds AS r ON r.credential = k.credential AND r.sale_id = k.sale_id
      UNION
      SELECT k.credential, k.sale_id
      FROM stg_loyalty AS k
      JOIN sales AS s ON s.credential = k.credential AND s.sale_id = k.sale_id
      WHERE s.status = 'voided') AS w
JOIN loyalty_ledger AS l ON l.credential = w.credential AND l.sale_id = w.sale_id
GROUP BY l.credential, l.sale_id, l.entry_type
