-- Balances of the personas of this run's sales (a negative balance is flagged, rule 19).
SELECT l.persona_id, SUM(l.points) AS points
FROM loyalty_ledger AS l
WHERE l.persona_id IN (SELECT persona_id FROM stg_loyalty WHERE persona_id IS NOT NULL)
GROUP BY l.persona_id
