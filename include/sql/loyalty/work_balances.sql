-- Balances of the personas of this run's sales (a negative balance is flagged, rule 19).
SELECT l.persona_id, SUM(l.points) AS points
FROM (SELECT DISTINCT persona_id FROM stg_loyalty WHERE persona_id IS NOT NULL) AS w
JOIN loyalty_ledger AS l ON l.persona_id = w.persona_id
GROUP BY l.persona_id
