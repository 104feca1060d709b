-- Balances of the personas of the sales reconciliation may touch (those of work_points.sql):
-- a negative balance after a reversal is flagged (rule 19).
SELECT l.persona_id, SUM(l.points) AS points
FROM (SELECT k.persona_id
      FROM stg_loyalty AS k
      JOIN refunds AS r ON r.credential = k.credential AND r.sale_id = k.sale_id
      WHERE k.persona_id IS NOT NULL
      UNION
      SELECT k.persona_id
      FROM stg_loyalty AS k
      JOIN sales AS s ON s.credential = k.credential AND s.sale_id = k.sale_id
      WHERE s.status = 'voided' AND k.persona_id IS NOT NULL) AS w
JOIN loyalty_ledger AS l ON l.persona_id = w.persona_id
GROUP BY l.persona_id
